//! Encryption at rest: nothing written through Chitin shows up in the raw SQLite file or in PostgreSQL's sealed columns.

use chitin::crypto::MasterKey;
use chitin::store::{InboundMessage, InboundOutcome, NewChunk, NewDocument, NewJob, Store, StoreError, now_ms};

use crate::support::store_backends::{postgres_shared_lock, postgres_store, sqlite_store, test_config};

const PHRASE: &str = "correct horse battery staple 7f3a";

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack.windows(needle.len()).any(|window| window == needle.as_bytes())
}

fn file_bytes(path: &std::path::Path) -> Vec<u8> {
    std::fs::read(path).unwrap_or_default()
}

#[tokio::test]
async fn sqlite_file_holds_no_plaintext_and_backup_stays_encrypted() {
    let t = sqlite_store().await;
    let message = InboundMessage {
        channel: "telegram",
        external_conversation_id: "chat-secret",
        platform_message_id: "s:1",
        sender: Some("alice"),
        body: PHRASE,
    };
    let InboundOutcome::Inserted { conversation_id, .. } = t.store.inbound().record_inbound(&message).await.unwrap()
    else {
        panic!("not inserted")
    };
    t.store.outbox().enqueue_reply(conversation_id, None, PHRASE).await.unwrap();
    let diary = NewDocument { path: "diary.md", source: "workspace", content_hash: "h" };
    let chunk = NewChunk { content: PHRASE, headings: "", embedding: None, embedding_hash: None };
    t.store.memory().upsert_document(&diary, &[chunk]).await.unwrap();
    let backup = t.data_dir.path().join("backup.db");
    t.store.backup_to(&backup).await.unwrap();
    let error = t.store.backup_to(&backup).await.unwrap_err();
    assert!(matches!(error, StoreError::BackupExists { .. }), "{error}");
    t.store.close().await;

    let db = t.sqlite_path();
    let mut raw = file_bytes(&db);
    raw.extend(file_bytes(&db.with_extension("db-wal")));
    assert!(raw.len() > 4096, "the database file should exist and hold pages");
    assert!(!contains(&raw, PHRASE), "the phrase is readable in the raw database file");
    assert!(!contains(&raw, "SQLite format 3"), "the header is plain: the file is not encrypted");
    assert!(!contains(&file_bytes(&backup), PHRASE), "the phrase is readable in the backup");

    // The backup opens with the same key and holds the data.
    let config = test_config(Some(format!("sqlite://{}", backup.display())));
    let restored = Store::connect(&config, t.data_dir.path(), &t.master_key).await.unwrap();
    let history = restored.conversations().history(conversation_id, 10).await.unwrap();
    assert_eq!(history.iter().map(|message| message.body.as_str()).collect::<Vec<_>>(), vec![PHRASE, PHRASE]);
    restored.close().await;
    let error = Store::connect(&config, t.data_dir.path(), &MasterKey::from_bytes([3; 32])).await.unwrap_err();
    assert!(matches!(error, StoreError::WrongMasterKey { .. }), "{error}");
    t.drop_schema().await;
}

#[tokio::test]
async fn postgres_sealed_columns_hold_no_plaintext() {
    let _shared = postgres_shared_lock().await;
    let Some(t) = postgres_store().await else { return };
    let message = InboundMessage {
        channel: "slack",
        external_conversation_id: "C1",
        platform_message_id: "1.0001",
        sender: None,
        body: PHRASE,
    };
    let InboundOutcome::Inserted { conversation_id, .. } = t.store.inbound().record_inbound(&message).await.unwrap()
    else {
        panic!("not inserted")
    };
    t.store.outbox().enqueue_reply(conversation_id, None, PHRASE).await.unwrap();
    let job = NewJob {
        kind: "tool",
        idempotency_key: None,
        conversation_id: Some(conversation_id),
        payload: PHRASE,
        max_attempts: 1,
        run_after_ms: now_ms(),
        priority: 0,
        max_runtime_ms: None,
    };
    let job_id = t.store.jobs().enqueue(&job).await.unwrap().job_id();
    t.store.jobs().add_event(job_id, "tool.result", PHRASE).await.unwrap();

    let needle = format!("convert_to('{PHRASE}', 'UTF8')");
    for (table, column) in [("messages", "body"), ("jobs", "payload"), ("job_events", "detail")] {
        let rows = t.raw_scalar(&format!("SELECT count(*) FROM {table}")).await;
        assert!(rows > 0, "{table} should have rows");
        let leaks =
            t.raw_scalar(&format!("SELECT count(*) FROM {table} WHERE position({needle} IN {column}) > 0")).await;
        assert_eq!(leaks, 0, "{table}.{column} holds the phrase in plaintext");
    }
    // Read back through the store, it is intact.
    let history = t.store.conversations().history(conversation_id, 10).await.unwrap();
    assert!(history.iter().all(|message| message.body == PHRASE));
    t.drop_schema().await;
}
