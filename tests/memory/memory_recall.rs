//! The prompt's memory section over the real store, on SQLite and PostgreSQL: identity files (already in the
//! system prompt) are never recalled, and a note is recalled as soon as it is stored, whether this process or
//! another one (`chitin memory index` on the same database) indexed it.

use std::sync::Arc;
use std::time::Duration;

use chitin::agent::recall::Recall;
use chitin::memory::embed::Embedder;
use chitin::memory::{MemoryConfig, MemoryService};

use crate::on_both_backends;
use crate::support::memory_fixed_embedder::FixedEmbedder;
use crate::support::store_backends::TestStore;

on_both_backends!(
    identity_files_are_left_out_and_a_new_note_is_recalled_at_once,
    a_note_indexed_by_another_process_is_recalled,
    the_budget_and_an_empty_query_are_respected,
);

fn service(store: &chitin::store::Store, t: &TestStore) -> MemoryService {
    let workspace = t.data_dir.path().join("workspace");
    std::fs::create_dir_all(&workspace).unwrap();
    MemoryService::new(store.memory(), None, &MemoryConfig::default(), workspace)
}

async fn identity_files_are_left_out_and_a_new_note_is_recalled_at_once(t: &TestStore) {
    // An embedder that records what it embeds shows whether a search ran: every search embeds its query.
    let embedder = Arc::new(FixedEmbedder::new("fixed/a"));
    let workspace = t.data_dir.path().join("workspace");
    let memory = MemoryService::new(
        t.store.memory(),
        Some(embedder.clone() as Arc<dyn Embedder>),
        &MemoryConfig::default(),
        workspace,
    );
    memory.sync_vectors(&mut |_| {}).await.unwrap();
    let query = "where is the garden key";
    let searches = || embedder.embedded_texts().iter().filter(|text| text.as_str() == query).count();
    memory
        .index_text("AGENTS.md", "workspace", "# How Chitin works\n\nThe garden key rules are strict.")
        .await
        .unwrap();
    memory.index_text("USER.md", "workspace", "# About the user\n\nLoves the garden.").await.unwrap();
    // An hour: only this process's own write can make the next turn look again.
    let recall = Recall::new(memory.clone(), 1_000).recheck_nothing_stored_every(Duration::from_secs(3600));
    assert_eq!(recall.context(query).await, None, "identity files are never recalled");
    assert_eq!(searches(), 0, "with only identity files stored, no search runs");

    memory.index_text("notes/garden.md", "workspace", "The garden key hangs behind the shed door.").await.unwrap();
    let section = recall.context(query).await.expect("the new note is recalled");
    assert_eq!(searches(), 1);
    assert!(section.contains("<memory path=\"notes/garden.md\""), "{section}");
    assert!(section.contains("behind the shed door"), "{section}");
    assert!(!section.contains("AGENTS.md") && !section.contains("USER.md"), "{section}");

    assert!(memory.forget("notes/garden.md").await.unwrap());
    assert_eq!(recall.context(query).await, None, "a forgotten note is not recalled");
    assert_eq!(searches(), 1, "nothing but identity files is left, so no search runs");
}

async fn a_note_indexed_by_another_process_is_recalled(t: &TestStore) {
    let recall = Recall::new(service(&t.store, t), 1_000).recheck_nothing_stored_every(Duration::from_millis(50));
    assert_eq!(recall.context("what about the boiler").await, None);

    let other_store = t.reopen(&t.master_key).await.unwrap();
    let other = service(&other_store, t);
    other.index_text("home/boiler.md", "notes", "The boiler needs a service every autumn.").await.unwrap();
    other_store.close().await;

    // This process saw no change of its own: it looks again once "nothing stored" is older than the interval.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    let section = loop {
        if let Some(section) = recall.context("what about the boiler").await {
            break section;
        }
        assert!(tokio::time::Instant::now() < deadline, "the other process's note was never recalled");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert!(section.contains("<memory path=\"home/boiler.md\""), "{section}");
}

async fn the_budget_and_an_empty_query_are_respected(t: &TestStore) {
    let memory = service(&t.store, t);
    let long = "The heating schedule: ".to_string() + &"radiators warm at six, off at ten. ".repeat(40);
    memory.index_text("home/heating.md", "workspace", &long).await.unwrap();
    memory.index_text("home/short.md", "workspace", "Heating oil is ordered in October.").await.unwrap();

    let roomy = Recall::new(memory.clone(), 4_000).context("heating").await.expect("both fit");
    assert!(roomy.contains("home/heating.md") && roomy.contains("home/short.md"), "{roomy}");
    // Room for the short note only: the long one is left out whole, never cut.
    let tight = Recall::new(memory.clone(), 80).context("heating oil").await.expect("the short note fits");
    assert!(tight.contains("home/short.md") && !tight.contains("home/heating.md"), "{tight}");
    assert_eq!(Recall::new(memory.clone(), 0).context("heating").await, None, "a zero budget turns recall off");
    assert_eq!(Recall::new(memory, 4_000).context("?!").await, None, "punctuation is no query");
}
