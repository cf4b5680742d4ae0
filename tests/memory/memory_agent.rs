//! Memory in the agent, end to end over real HTTP: `memory_write` saves to the workspace, and the
//! next turn's prompt carries the relevant memory as data.

use serde_json::Value;

use crate::support::chitin::TestChitin;
use crate::support::fake_llm::{Answer, Reply};
use crate::support::fake_openai;

fn system_text(body: &Value) -> String {
    body["messages"]
        .as_array()
        .and_then(|messages| messages.iter().find(|message| message["role"] == "system"))
        .and_then(|message| message["content"].as_str())
        .unwrap_or_default()
        .to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_written_memory_is_recalled_in_a_later_turn() {
    let fake = fake_openai::start().await;
    fake.push(Reply::Answer(Answer::text("").tool_call(
        "call_1",
        "memory_write",
        r#"{"text":"The spare key is under the blue flowerpot."}"#,
    )));
    fake.push(Reply::Answer(Answer::text("Saved.")));
    fake.push(Reply::Answer(Answer::text("Under the blue flowerpot.")));
    let chitin = TestChitin::start(Some(&fake.base_url()), &[("CHITIN_MEMORY__EMBEDDING__PROVIDER", "none")]).await;

    assert_eq!(chitin.chat("first", "remember that the spare key is under the blue flowerpot").await, "Saved.");
    let tool_result = fake.requests()[1].body["messages"].to_string();
    assert!(tool_result.contains("MEMORY.md"), "{tool_result}");

    assert_eq!(chitin.chat("second", "Where did I put the spare key?").await, "Under the blue flowerpot.");
    let requests = fake.requests();
    let system = system_text(&requests[2].body);
    assert!(system.contains("<memory path=\"MEMORY.md\""), "{system}");
    assert!(system.contains("The spare key is under the blue flowerpot."), "{system}");
    assert!(!system_text(&requests[0].body).contains("<memory"), "nothing was stored before the first turn");
    let tools: Vec<&str> = requests[0].body["tools"]
        .as_array()
        .expect("tools")
        .iter()
        .filter_map(|tool| tool["function"]["name"].as_str())
        .collect();
    for name in ["memory_search", "memory_write", "memory_read"] {
        assert!(tools.contains(&name), "{tools:?}");
    }

    let dir = chitin.stop().await;
    let config = crate::support::chitin::config(&dir, None, &[]);
    let workspace = config.memory.resolve_workspace_dir(&config.data_dir.expect("data dir"));
    let saved = std::fs::read_to_string(workspace.join("MEMORY.md")).expect("MEMORY.md written");
    assert_eq!(saved, "The spare key is under the blue flowerpot.\n");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_compaction_summary_lands_in_memory_and_is_recalled_elsewhere() {
    let fake = fake_openai::start().await;
    let chitin = TestChitin::start(
        Some(&fake.base_url()),
        &[("CHITIN_AGENT__CONTEXT_TOKENS", "50"), ("CHITIN_MEMORY__EMBEDDING__PROVIDER", "none")],
    )
    .await;
    // The 4th turn holds seven messages over a tiny budget: one summary call, then the answer.
    for turn in 1..=4 {
        if turn == 4 {
            fake.push(Reply::Answer(Answer::text("The user's cat is called Miso and sleeps on the radiator.")));
        }
        fake.push(Reply::Answer(Answer::text(&format!("noted {turn}"))));
        let text = if turn == 1 { "My cat is called Miso.".to_string() } else { format!("small talk {turn}") };
        assert_eq!(chitin.chat("compact", &text).await, format!("noted {turn}"));
    }
    assert_eq!(fake.requests().len(), 5, "exactly one summary was asked for");

    // Another conversation never saw the cat; the summary reaches it only through memory.
    fake.push(Reply::Answer(Answer::text("Miso.")));
    assert_eq!(chitin.chat("elsewhere", "What is the name of my cat?").await, "Miso.");
    let requests = fake.requests();
    let system = system_text(&requests[5].body);
    assert!(system.contains("<memory path=\"summaries/"), "{system}");
    assert!(system.contains("sleeps on the radiator"), "{system}");

    let dir = chitin.stop().await;
    let config = crate::support::chitin::config(&dir, None, &[]);
    let data_dir = config.data_dir.clone().expect("data dir");
    let key = chitin::crypto::MasterKey::load(None, &data_dir).expect("key");
    let store = chitin::store::Store::connect(&config.database, &data_dir, &key).await.expect("store");
    let documents = store.memory().list_documents().await.expect("list");
    store.close().await;
    let summary = documents.iter().find(|document| document.path.starts_with("summaries/")).expect("summary stored");
    assert_eq!(summary.source, "compaction", "{documents:?}");
    let workspace = config.memory.resolve_workspace_dir(&data_dir);
    let saved = std::fs::read_to_string(workspace.join(&summary.path)).expect("summary file in the workspace");
    assert!(saved.starts_with("## ") && saved.contains("The user's cat is called Miso"), "{saved}");
}
