//! SQLite's write-ahead log: checkpointed in the background, and bounded however much is written.
//!
//! The writer connection does not checkpoint a 1,000-frame WAL itself (see `store/wal_checkpoints.rs`). These tests
//! watch the two files on disk: the database file only grows when a checkpoint copies pages into it, and the WAL
//! file is as long as the most frames it ever held, since SQLite writes a restarted WAL over its old frames.

use std::path::Path;
use std::time::{Duration, Instant};

use chitin::store::InboundMessage;

use crate::support::store_backends::sqlite_store;

/// SQLCipher's page (4,096 bytes) plus the WAL's frame header.
const FRAME_BYTES: u64 = 4096 + 24;

fn file_len(path: &Path) -> u64 {
    std::fs::metadata(path).map(|metadata| metadata.len()).unwrap_or(0)
}

fn wal_frames(database: &Path) -> u64 {
    let mut wal = database.as_os_str().to_owned();
    wal.push("-wal");
    file_len(Path::new(&wal)) / FRAME_BYTES
}

/// A message whose body fills a few overflow pages, so each commit appends several frames.
fn message<'a>(id: &'a str, body: &'a str) -> InboundMessage<'a> {
    InboundMessage {
        channel: "webhook",
        external_conversation_id: "wal-test",
        platform_message_id: id,
        sender: None,
        body,
    }
}

fn body(index: usize) -> String {
    format!("{index:06} ").repeat(1_700)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_wal_is_checkpointed_in_the_background_and_never_grows_past_its_bound() {
    let test = sqlite_store().await;
    let database = test.sqlite_path();
    let inbound = test.store.inbound();
    let database_before = file_len(&database);

    // Past the 1,000 frames that start a checkpoint, then nothing more: only the background pass can copy them.
    let mut written = 0;
    while wal_frames(&database) < 1_000 {
        inbound.record_inbound(&message(&written.to_string(), &body(written))).await.unwrap();
        written += 1;
        assert!(written < 2_000, "the WAL did not grow as expected ({} frames)", wal_frames(&database));
    }
    let deadline = Instant::now() + Duration::from_secs(20);
    while file_len(&database) <= database_before + 100 * 4096 {
        assert!(
            Instant::now() < deadline,
            "no checkpoint copied the WAL's {} frames into the database file ({} bytes, {} before)",
            wal_frames(&database),
            file_len(&database),
            database_before
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    // Far more than the inline bound (8,000 frames) in all: the WAL keeps starting over.
    let written_before = written;
    let database_mid = file_len(&database);
    while file_len(&database) < database_mid + 12_000 * 4096 {
        inbound.record_inbound(&message(&written.to_string(), &body(written))).await.unwrap();
        written += 1;
        assert!(written - written_before < 6_000, "checkpoints stopped copying pages into the database file");
    }
    let frames = wal_frames(&database);
    assert!(frames <= 8_000 + 64, "the WAL reached {frames} frames after {written} messages");

    // Everything written is there, read back through the store.
    let stored: i64 = test.raw_scalar("SELECT count(*) FROM messages WHERE direction = 'inbound'").await;
    assert_eq!(stored, i64::try_from(written).unwrap());
    test.store.close().await;
}
