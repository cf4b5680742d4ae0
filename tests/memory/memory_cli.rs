//! `chitin memory` through the real binary with the local MiniLM model: add (files and folders,
//! bad files skipped), the fixed `search --json` contract, list, incremental add, forget, reindex.

use crate::support::memory_model::model_dir;
use crate::support::process::{Sandbox, text, write_file};

fn json(output: &std::process::Output) -> serde_json::Value {
    assert!(output.status.success(), "stderr: {}", text(&output.stderr));
    serde_json::from_slice(&output.stdout).unwrap_or_else(|error| panic!("{error}: {}", text(&output.stdout)))
}

#[test]
fn add_search_list_forget_through_the_binary() {
    let model = model_dir();
    assert!(model.join("model.safetensors").is_file(), "run scripts/fetch-model.sh {}", model.display());
    let sandbox = Sandbox::new()
        .env("CHITIN_MEMORY__EMBEDDING__LOCAL__MODEL_DIR", model.to_str().expect("utf-8"))
        .env("CHITIN_MEMORY__MAX_FILE_BYTES", "2000");
    let notes = sandbox.path("notes");
    write_file(&notes.join("boiler.md"), "# Home\n\nThe boiler in the cellar is serviced every October by Hansen.\n");
    write_file(&notes.join("work/backup.md"), "Error E4012 means the backup disk is full; delete old snapshots.\n");
    write_file(&notes.join("work/huge.md"), &"word ".repeat(500));
    std::fs::write(notes.join("photo.jpg"), b"\xff\xd8\xff\xe0\0\x10JFIF\0").expect("write binary");

    let added = sandbox.run(&["memory", "add", notes.to_str().expect("utf-8")]);
    assert!(added.status.success(), "{}", text(&added.stderr));
    assert_eq!(text(&added.stdout).trim(), "indexed 2, unchanged 0, skipped 2");
    let warnings = text(&added.stderr);
    assert!(warnings.contains("photo.jpg looks binary"), "{warnings}");
    assert!(warnings.contains("huge.md is 2500 bytes, over the 2000 byte limit"), "{warnings}");

    let exact = json(&sandbox.run(&["memory", "search", "E4012", "--json"]));
    let first = &exact[0];
    assert!(first["path"].as_str().is_some_and(|path| path.ends_with("notes/work/backup.md")), "{exact}");
    assert!(first["text"].as_str().is_some_and(|text| text.contains("E4012")));
    assert_eq!(first["fts_rank"], 1);
    assert!(first["score"].as_f64().is_some_and(|score| score > 0.0));
    assert!(first.get("vector_rank").is_some());

    // No word in common with the note: found by meaning.
    let paraphrase =
        json(&sandbox.run(&["memory", "search", "when is the furnace maintained", "--json", "--limit", "1"]));
    assert_eq!(paraphrase.as_array().map(Vec::len), Some(1));
    assert!(paraphrase[0]["path"].as_str().is_some_and(|path| path.ends_with("boiler.md")), "{paraphrase}");
    assert_eq!(paraphrase[0]["fts_rank"], serde_json::Value::Null);
    assert_eq!(paraphrase[0]["vector_rank"], 1);

    let listed = json(&sandbox.run(&["memory", "list", "--json"]));
    assert_eq!(listed.as_array().map(Vec::len), Some(2));
    assert_eq!(listed[0]["source"], "import");

    write_file(&notes.join("boiler.md"), "# Home\n\nThe boiler is now serviced every March.\n");
    let again = sandbox.run(&["memory", "add", notes.to_str().expect("utf-8")]);
    assert_eq!(text(&again.stdout).trim(), "indexed 1, unchanged 1, skipped 2", "{}", text(&again.stderr));
    let march = json(&sandbox.run(&["memory", "search", "October", "--json"]));
    assert!(march.as_array().is_some_and(|hits| hits.iter().all(|hit| hit["fts_rank"].is_null())), "{march}");

    let backup = notes.join("work/backup.md");
    let forgot = sandbox.run(&["memory", "forget", backup.to_str().expect("utf-8")]);
    assert!(forgot.status.success(), "{}", text(&forgot.stderr));
    let gone = json(&sandbox.run(&["memory", "search", "E4012", "--json"]));
    assert!(gone.as_array().is_some_and(|hits| hits.iter().all(|hit| hit["fts_rank"].is_null())), "{gone}");
    let missing = sandbox.run(&["memory", "forget", "no/such.md"]);
    assert!(!missing.status.success() && text(&missing.stderr).contains("no memory document at no/such.md"));

    let empty = json(&sandbox.run(&["memory", "search", "   ", "--json"]));
    assert_eq!(empty, serde_json::json!([]));
    let reindex = sandbox.run(&["memory", "reindex"]);
    assert!(reindex.status.success(), "{}", text(&reindex.stderr));
}

/// `memory.embedding.openai.api_key = "secret:NAME"` reaches the endpoint as the stored value, never the reference.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_embedding_api_key_can_be_a_stored_secret() {
    use crate::support::memory_fake_embeddings::{Behaviour, FakeEmbeddingServer};
    let fake = FakeEmbeddingServer::start(Behaviour::Healthy { dims: 384 }).await;
    let sandbox = Sandbox::new()
        .env("CHITIN_MEMORY__EMBEDDING__PROVIDER", "openai")
        .env("CHITIN_MEMORY__EMBEDDING__OPENAI__BASE_URL", &fake.base_url)
        .env("CHITIN_MEMORY__EMBEDDING__OPENAI__MODEL", "fake-embed")
        .env("CHITIN_MEMORY__EMBEDDING__OPENAI__DIMS", "384")
        .env("CHITIN_MEMORY__EMBEDDING__OPENAI__API_KEY", "secret:embeddings");
    let note = sandbox.path("notes/key.md");
    write_file(&note, "The spare key hangs behind the kitchen door.\n");

    let output = tokio::task::block_in_place(|| {
        let mut set = sandbox.command(&["secret", "set", "embeddings", "--stdin"]);
        set.stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped());
        let mut child = set.spawn().expect("spawn");
        std::io::Write::write_all(child.stdin.as_mut().expect("stdin"), b"sk-embed-stored-4242\n").expect("write");
        assert!(child.wait_with_output().expect("output").status.success());
        sandbox.run(&["memory", "add", note.to_str().expect("utf-8")])
    });
    assert!(output.status.success(), "{}", text(&output.stderr));
    let sent = fake.authorization_headers();
    assert!(!sent.is_empty(), "the endpoint was called");
    assert!(sent.iter().all(|header| header.as_deref() == Some("Bearer sk-embed-stored-4242")), "{sent:?}");
}
