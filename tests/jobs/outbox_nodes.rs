//! Three nodes on one PostgreSQL drain one outbox: each reply reaches the platform exactly once.
//!
//! The replies are written into the shared database by another process (as a node's session would), for 100
//! Telegram chats. Each node runs the Telegram channel against its own fake Bot API (same bot token, disjoint
//! message ids, as from one bot), so the fakes' records say which node sent what; together they count every send.
//! (A real deployment polls Telegram from one node; the outbox claim is the same for every channel.)

use std::collections::HashMap;
use std::time::{Duration, Instant};

use chitin::store::ConversationId;
use sqlx::Connection;

use crate::support::fake_telegram::FakeTelegram;
use crate::support::process::{Sandbox, text};
use crate::support::store_backends::{database_url, fresh_postgres_schema, postgres_shared_lock, test_config};

use super::support::NODE_MASTER_KEY;

const BOT_TOKEN: &str = "515151:outbox-nodes-token";
const CHATS: i64 = 100;
const REPLIES_PER_CHAT: i64 = 3;

fn telegram_node(url: &str, name: &str, telegram: &FakeTelegram) -> Sandbox {
    Sandbox::new()
        .env("CHITIN_DATABASE__URL", url)
        // Three nodes with the default 16 connections each, beside the rest of the suite, ran the shared server
        // out of connections ("53300 too many clients").
        .env("CHITIN_DATABASE__MAX_CONNECTIONS", "8")
        .env("CHITIN_MASTER_KEY", NODE_MASTER_KEY)
        .env("CHITIN_LOG", "warn")
        .env("CHITIN_JOBS__NODE", name)
        .env("CHITIN_CHANNELS__TELEGRAM__ENABLED", "true")
        .env("CHITIN_CHANNELS__TELEGRAM__BOT_TOKEN", BOT_TOKEN)
        .env("CHITIN_CHANNELS__TELEGRAM__API_URL", &telegram.url)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_nodes_deliver_each_outbox_reply_exactly_once() {
    let _shared = postgres_shared_lock().await;
    let Some(base_url) = database_url() else { return };
    let (_, url) = fresh_postgres_schema(&base_url).await;
    let names = ["node-1", "node-2", "node-3"];
    let mut fakes = Vec::new();
    for index in 0..names.len() {
        let fake = FakeTelegram::start(BOT_TOKEN).await;
        fake.number_messages_from(1_000_000 * (index as i64 + 1));
        fakes.push(fake);
    }
    let sandboxes: Vec<_> = names.iter().zip(&fakes).map(|(name, fake)| telegram_node(&url, name, fake)).collect();
    let running: Vec<_> = sandboxes.iter().map(|sandbox| tokio::task::block_in_place(|| sandbox.start(&[]))).collect();

    // Written while the nodes run, the way a session on any node files its answer.
    let dir = tempfile::tempdir().unwrap();
    let key = chitin::crypto::MasterKey::load(Some(NODE_MASTER_KEY), dir.path()).unwrap();
    let store = chitin::store::Store::connect(&test_config(Some(url.clone())), dir.path(), &key).await.unwrap();
    let mut conversations: HashMap<i64, ConversationId> = HashMap::new();
    for chat in 1..=CHATS {
        let conversation = store.conversations().get_or_create("telegram", &chat.to_string()).await.unwrap();
        conversations.insert(chat, conversation);
    }
    let mut expected = Vec::new();
    for round in 0..REPLIES_PER_CHAT {
        for chat in 1..=CHATS {
            let body = format!("outbox reply {round} for chat {chat}");
            store.outbox().enqueue_reply(conversations[&chat], None, &body).await.unwrap();
            expected.push((chat, body));
        }
    }

    let total = (CHATS * REPLIES_PER_CHAT) as usize;
    let deadline = Instant::now() + Duration::from_secs(180);
    loop {
        let undelivered = store.outbox().undelivered_count().await.unwrap();
        if undelivered == 0 {
            break;
        }
        if Instant::now() >= deadline {
            let sends: usize = fakes.iter().map(|fake| fake.sent().len()).sum();
            let mut logs = String::new();
            for (name, mut node) in names.iter().zip(running) {
                node.signal(nix::sys::signal::Signal::SIGKILL);
                let output = tokio::task::block_in_place(|| node.wait_exit(Duration::from_secs(10)));
                logs += &format!("--- {name}\n{}\n", output.map(|o| text(&o.stderr)).unwrap_or_default());
            }
            panic!("{undelivered} replies still undelivered; {sends} sends seen\n{logs}");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    // Marked delivered means sent: count the sends per reply.
    let mut sends: HashMap<(i64, String), usize> = HashMap::new();
    for (name, fake) in names.iter().zip(&fakes) {
        let sent = fake.sent();
        eprintln!("{name} sent {} replies", sent.len());
        assert!(!sent.is_empty(), "{name} took part");
        for message in sent {
            *sends.entry((message.chat_id, message.text)).or_default() += 1;
        }
    }
    let missing: Vec<_> = expected.iter().filter(|reply| !sends.contains_key(reply)).collect();
    assert!(missing.is_empty(), "replies marked delivered but never sent: {missing:?}");
    let repeated: Vec<_> = sends.iter().filter(|(_, count)| **count != 1).collect();
    assert!(repeated.is_empty(), "replies sent more than once: {repeated:?}");
    assert_eq!(sends.len(), total, "nothing but the expected replies was sent");

    // Once per row in the database too: a second delivery would have needed a second claim.
    let mut connection = sqlx::PgConnection::connect(&url).await.unwrap();
    let claims: Vec<(i64, i64)> =
        sqlx::query_as("SELECT id, attempts FROM outbox").fetch_all(&mut connection).await.unwrap();
    assert_eq!(claims.len(), total);
    let reclaimed: Vec<_> = claims.iter().filter(|(_, attempts)| *attempts != 1).collect();
    assert!(reclaimed.is_empty(), "outbox rows claimed more than once: {reclaimed:?}");
    connection.close().await.unwrap();
    store.close().await;
    drop(running);
}
