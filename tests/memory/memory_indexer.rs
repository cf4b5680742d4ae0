//! The `MemoryIndexer` actor over the real store: it picks up workspace files, survives a crash
//! in the middle of a batch, and after a restart every file is indexed once, nothing lost or doubled.

use std::sync::Arc;
use std::time::Duration;

use chitin::memory::watcher::WorkspaceIndexing;
use chitin::memory::{MemoryConfig, MemoryService};
use chitin_actors::shells::memory_indexer::{MemoryIndexer, MemoryIndexerArgs};
use ractor::Actor;

use crate::on_both_backends;
use crate::support::chitin::eventually;
use crate::support::memory_fixed_embedder::FixedEmbedder;
use crate::support::store_backends::TestStore;

on_both_backends!(indexer_crash_mid_batch_loses_and_doubles_nothing);

const FILES: usize = 12;

fn args(memory: &MemoryService) -> MemoryIndexerArgs {
    MemoryIndexerArgs {
        port: Some(Arc::new(WorkspaceIndexing::new(memory.clone(), 1000))),
        batch_size: 4,
        poll: Duration::from_millis(50),
    }
}

async fn indexer_crash_mid_batch_loses_and_doubles_nothing(t: &TestStore) {
    let workspace = t.data_dir.path().join("workspace");
    for index in 0..FILES {
        let text =
            format!("# Part one of {index}\n\nFirst fact {index}.\n\n# Part two of {index}\n\nSecond fact {index}.\n");
        std::fs::create_dir_all(workspace.join("notes")).unwrap();
        std::fs::write(workspace.join(format!("notes/{index:02}.md")), text).unwrap();
    }
    let embedder = Arc::new(FixedEmbedder::new("fixed/a"));
    let memory = MemoryService::new(
        t.store.memory(),
        Some(embedder.clone() as Arc<dyn chitin::memory::embed::Embedder>),
        &MemoryConfig::default(),
        workspace.clone(),
    );
    memory.sync_vectors(&mut |_| {}).await.unwrap();
    // Each file embeds its two chunks in one call: the call for the 6th file panics.
    embedder.panic_once_at(11);

    let (first, handle) = Actor::spawn(None, MemoryIndexer, args(&memory)).await.unwrap();
    tokio::time::timeout(Duration::from_secs(20), handle).await.expect("the indexer crashed").unwrap();
    assert!(first.get_status() == ractor::ActorStatus::Stopped);
    let indexed_before_restart = memory.list().await.unwrap().len();
    assert_eq!(indexed_before_restart, 5, "the crash hit the 6th file, mid-batch");

    let (second, _) = Actor::spawn(None, MemoryIndexer, args(&memory)).await.unwrap();
    let store = t.store.memory();
    eventually("every file indexed after the restart", || {
        let (memory, store) = (memory.clone(), store.clone());
        async move {
            let done = memory.list().await.unwrap().len() == FILES && store.count_pending().await.unwrap() == 0;
            done.then_some(())
        }
    })
    .await;
    second.stop(None);

    let documents = memory.list().await.unwrap();
    assert!(documents.iter().all(|document| document.chunks == 2), "{documents:?}");
    assert_eq!(store.count_chunks(false).await.unwrap(), (FILES * 2) as i64);
    assert_eq!(store.count_chunks(true).await.unwrap(), (FILES * 2) as i64, "every chunk has its vector");

    // A file edited and one deleted while the indexer runs are picked up by its scans.
    let (third, _) = Actor::spawn(None, MemoryIndexer, args(&memory)).await.unwrap();
    std::fs::write(workspace.join("notes/00.md"), "Only one fact now.\n").unwrap();
    std::fs::remove_file(workspace.join("notes/01.md")).unwrap();
    eventually("edits and deletions indexed", || {
        let memory = memory.clone();
        async move {
            let documents = memory.list().await.unwrap();
            let edited = documents.iter().any(|document| document.path == "notes/00.md" && document.chunks == 1);
            (edited && documents.len() == FILES - 1).then_some(())
        }
    })
    .await;
    third.stop(None);
}
