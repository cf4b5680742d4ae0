//! One conformance suite for the store, run unchanged against SQLite and PostgreSQL.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use chitin::memory::rank::{SearchFilter, SearchQuery};
use chitin::store::{
    Approval, AuditEntry, Backend, Direction, DocumentWrite, EnqueueOutcome, InboundMessage, InboundOutcome,
    JobOutcome, JobState, LeaseCheck, MessageStatus, NewChunk, NewDocument, NewJob, NewMessage, NewRoutine,
    ReplyOutcome, Role, RunStart, RunState, StorageHealth, StoreError, TokenUsage, TriggerKind, now_ms,
};
use serde_json::json;

use chitin::crypto::MasterKey;

use crate::on_both_backends;
use crate::support::store_backends::TestStore;

const UNICODE: &str = "Grüße 👋 — 你好, мир! \u{202e}rtl\u{202c} 'quotes' \"double\" \\ back; DROP TABLE messages;--";

fn inbound<'a>(channel: &'a str, chat: &'a str, platform_id: &'a str, body: &'a str) -> InboundMessage<'a> {
    InboundMessage {
        channel,
        external_conversation_id: chat,
        platform_message_id: platform_id,
        sender: Some("user-1"),
        body,
    }
}

on_both_backends!(
    conversations_and_history,
    inbound_redelivery_is_recognised,
    concurrent_redelivery_inserts_once,
    concurrent_first_messages_share_one_new_conversation,
    conversation_activity_follows_its_newest_message,
    stored_messages_name_the_message_they_follow,
    outbox_claim_lease_and_delivery,
    concurrent_delivery_marks_each_land,
    hand_overs_recorded_later_all_land,
    turn_usage_is_stored_with_the_reply,
    failed_transaction_leaves_nothing_behind,
    jobs_lifecycle,
    routines_fire_once_per_run_key,
    memory_documents_and_search,
    secrets_rows,
    installed_tools_and_approval,
    audit_chain_detects_tampering,
    settings_values,
    export_and_migration_status,
    wrong_master_key_is_refused,
    newer_schema_is_refused,
);

/// On SQLite a new message and a filed reply say which message of their conversation came just before them, read in
/// the transaction that stored them, so a session can add them to the history it holds. PostgreSQL ids may commit
/// out of order, so there the store never vouches for it.
async fn stored_messages_name_the_message_they_follow(t: &TestStore) {
    let inbound_store = t.store.inbound();
    let record = |platform_id: &'static str, chat: &'static str| {
        let inbound_store = inbound_store.clone();
        async move {
            match inbound_store.record_inbound(&inbound("api", chat, platform_id, "text")).await.unwrap() {
                InboundOutcome::Inserted { message_id, follows, .. } => (message_id, follows),
                duplicate => panic!("{platform_id} was stored before: {duplicate:?}"),
            }
        }
    };
    let (first, first_follows) = record("f-1", "follows").await;
    let (second, second_follows) = record("f-2", "follows").await;
    let (elsewhere, _) = record("o-1", "other-chat").await;
    let (third, third_follows) = record("f-3", "follows").await;
    assert!(elsewhere > second && third > elsewhere, "ids interleave across conversations");
    let conversation = t.store.conversations().get_or_create("api", "follows").await.unwrap();
    let ReplyOutcome::Queued(reply) =
        t.store.outbox().enqueue_reply(conversation, Some(third), "answer").await.unwrap()
    else {
        panic!("the reply was filed before");
    };
    let followed = [first_follows, second_follows, third_follows, reply.follows];
    match t.backend() {
        Backend::Sqlite => assert_eq!(followed, [None, Some(first), Some(second), Some(third)]),
        Backend::Postgres => assert_eq!(followed, [None; 4]),
    }
}

async fn conversations_and_history(t: &TestStore) {
    let conversations = t.store.conversations();
    let id = conversations.get_or_create("telegram", "chat-1").await.unwrap();
    assert_eq!(conversations.get_or_create("telegram", "chat-1").await.unwrap(), id);
    let other = conversations.get_or_create("slack", "chat-1").await.unwrap();
    assert_ne!(other, id, "the same external id on another channel is another conversation");

    let large = "x".repeat(1 << 20) + UNICODE;
    for (role, body) in [(Role::User, UNICODE), (Role::Tool, large.as_str()), (Role::System, "")] {
        let message =
            NewMessage { role, direction: Direction::Inbound, status: MessageStatus::Processed, sender: None, body };
        conversations.append(id, &message).await.unwrap();
    }
    let history = conversations.history(id, 10).await.unwrap();
    let bodies: Vec<&str> = history.iter().map(|message| message.body.as_str()).collect();
    assert_eq!(bodies, vec![UNICODE, large.as_str(), ""]);
    assert_eq!(history[1].role, Role::Tool);
    assert!(history.iter().all(|message| message.conversation_id == id && message.channel == "telegram"));

    let last_two = conversations.history(id, 2).await.unwrap();
    assert_eq!(last_two.iter().map(|message| message.id).collect::<Vec<_>>(), vec![history[1].id, history[2].id]);

    let stored = conversations.get(id).await.unwrap().unwrap();
    assert_eq!((stored.channel.as_str(), stored.external_id.as_str()), ("telegram", "chat-1"));
    assert_eq!(conversations.list(10).await.unwrap().len(), 2);

    let missing = chitin::store::ConversationId(i64::MAX);
    let message = NewMessage {
        role: Role::User,
        direction: Direction::Inbound,
        status: MessageStatus::Received,
        sender: None,
        body: "x",
    };
    let error = conversations.append(missing, &message).await.unwrap_err();
    assert!(matches!(error, StoreError::NotFound { what: "conversation", .. }), "{error}");
    assert!(!error.is_retryable());
}

async fn inbound_redelivery_is_recognised(t: &TestStore) {
    let inbound_store = t.store.inbound();
    let first = inbound_store.record_inbound(&inbound("telegram", "chat-9", "9:100", UNICODE)).await.unwrap();
    let InboundOutcome::Inserted { conversation_id, message_id, .. } = first else {
        panic!("first delivery: {first:?}")
    };
    let again = inbound_store.record_inbound(&inbound("telegram", "chat-9", "9:100", "changed body")).await.unwrap();
    assert_eq!(again, InboundOutcome::Duplicate { conversation_id, message_id });
    // Same platform id on another channel is a different message.
    let other = inbound_store.record_inbound(&inbound("slack", "chat-9", "9:100", "hi")).await.unwrap();
    assert!(matches!(other, InboundOutcome::Inserted { .. }));

    let history = t.store.conversations().history(conversation_id, 10).await.unwrap();
    assert_eq!(history.len(), 1);
    assert_eq!(history[0].body, UNICODE, "a redelivery must not overwrite the stored body");
    assert_eq!(history[0].platform_message_id.as_deref(), Some("9:100"));
    assert_eq!((history[0].direction, history[0].status), (Direction::Inbound, MessageStatus::Received));

    // A turn redone after a crash cannot file a second reply to the same message.
    let outbox = t.store.outbox();
    let ReplyOutcome::Queued(reply) = outbox.enqueue_reply(conversation_id, Some(message_id), "answer").await.unwrap()
    else {
        panic!("first reply")
    };
    let again = outbox.enqueue_reply(conversation_id, Some(message_id), "answer, take two").await.unwrap();
    let ReplyOutcome::AlreadyQueued(first_reply) = again else { panic!("a second reply was filed: {again:?}") };
    assert_eq!((first_reply.message_id, first_reply.outbox_id), (reply.message_id, reply.outbox_id));
    let history = t.store.conversations().history(conversation_id, 10).await.unwrap();
    assert_eq!(history.len(), 2);
    assert_eq!((history[1].body.as_str(), history[1].in_reply_to), ("answer", Some(message_id)));
    assert_eq!(outbox.undelivered_count().await.unwrap(), 1);

    let unprocessed = t.store.conversations().unprocessed(10).await.unwrap();
    assert_eq!(unprocessed.len(), 2);
    t.store.conversations().set_status(message_id, MessageStatus::Processed).await.unwrap();
    assert_eq!(t.store.conversations().unprocessed(10).await.unwrap().len(), 1);
}

async fn concurrent_redelivery_inserts_once(t: &TestStore) {
    for round in 0..5 {
        let platform_id = format!("race-{round}");
        let barrier = Arc::new(tokio::sync::Barrier::new(16));
        let tasks: Vec<_> = (0..16)
            .map(|_| {
                let inbound_store = t.store.inbound();
                let barrier = barrier.clone();
                let platform_id = platform_id.clone();
                tokio::spawn(async move {
                    barrier.wait().await;
                    inbound_store.record_inbound(&inbound("telegram", "race-chat", &platform_id, "same")).await
                })
            })
            .collect();
        let mut inserted = 0;
        let mut message_ids = HashSet::new();
        for task in tasks {
            match task.await.unwrap().unwrap() {
                InboundOutcome::Inserted { message_id, .. } => {
                    inserted += 1;
                    message_ids.insert(message_id);
                }
                InboundOutcome::Duplicate { message_id, .. } => {
                    message_ids.insert(message_id);
                }
            }
        }
        assert_eq!(inserted, 1, "round {round}: exactly one delivery may insert");
        assert_eq!(message_ids.len(), 1, "round {round}: duplicates must point at the stored message");
    }
    assert_eq!(t.raw_scalar("SELECT count(*) FROM messages").await, 5);
}

/// Many writers start the same new conversation at once: every message is stored, all in one conversation
/// (on PostgreSQL concurrent batches race to create it, and the losers must still store their messages).
async fn concurrent_first_messages_share_one_new_conversation(t: &TestStore) {
    for round in 0..5 {
        let chat = format!("new-chat-{round}");
        let barrier = Arc::new(tokio::sync::Barrier::new(16));
        let tasks: Vec<_> = (0..16)
            .map(|writer| {
                let inbound_store = t.store.inbound();
                let barrier = barrier.clone();
                let chat = chat.clone();
                tokio::spawn(async move {
                    barrier.wait().await;
                    let mut outcomes = Vec::new();
                    for n in 0..8 {
                        let platform_id = format!("{chat}-{writer}-{n}");
                        outcomes
                            .push(inbound_store.record_inbound(&inbound("telegram", &chat, &platform_id, "hi")).await);
                    }
                    outcomes
                })
            })
            .collect();
        let mut conversations = HashSet::new();
        let mut messages = HashSet::new();
        for task in tasks {
            for outcome in task.await.unwrap() {
                match outcome.unwrap() {
                    InboundOutcome::Inserted { conversation_id, message_id, .. } => {
                        conversations.insert(conversation_id);
                        messages.insert(message_id);
                    }
                    duplicate => panic!("round {round}: a new platform id was reported as {duplicate:?}"),
                }
            }
        }
        assert_eq!(conversations.len(), 1, "round {round}: one chat must be one conversation");
        assert_eq!(messages.len(), 16 * 8, "round {round}: every message stored once");
        let conversation = *conversations.iter().next().unwrap();
        assert_eq!(t.store.conversations().history(conversation, 1000).await.unwrap().len(), 16 * 8);
    }
}

/// The conversation list is ordered by latest activity, which moves with every new message.
async fn conversation_activity_follows_its_newest_message(t: &TestStore) {
    let inbound_store = t.store.inbound();
    let conversations = t.store.conversations();
    let first = inbound_store.record_inbound(&inbound("telegram", "active-a", "a-1", "hello")).await.unwrap();
    tokio::time::sleep(Duration::from_millis(5)).await;
    inbound_store.record_inbound(&inbound("telegram", "active-b", "b-1", "hello")).await.unwrap();
    let order = |list: Vec<chitin::store::Conversation>| -> Vec<String> {
        list.into_iter().map(|conversation| conversation.external_id).collect()
    };
    assert_eq!(order(conversations.list(2).await.unwrap()), vec!["active-b", "active-a"]);

    tokio::time::sleep(Duration::from_millis(5)).await;
    let before = now_ms();
    inbound_store.record_inbound(&inbound("telegram", "active-a", "a-2", "again")).await.unwrap();
    assert_eq!(order(conversations.list(2).await.unwrap()), vec!["active-a", "active-b"]);
    let InboundOutcome::Inserted { conversation_id, .. } = first else { panic!("{first:?}") };
    let stored = conversations.get(conversation_id).await.unwrap().unwrap();
    assert!(stored.last_activity_at_ms >= before, "{} < {before}", stored.last_activity_at_ms);
}

async fn outbox_claim_lease_and_delivery(t: &TestStore) {
    let conversation_id = t.store.conversations().get_or_create("telegram", "chat-out").await.unwrap();
    let outbox = t.store.outbox();
    let queued = outbox.enqueue_reply(conversation_id, None, UNICODE).await.unwrap().reply();
    let second = outbox.enqueue_reply(conversation_id, None, "second").await.unwrap().reply();
    assert_eq!(outbox.undelivered_count().await.unwrap(), 2);

    let claimed = outbox.claim_due(Duration::from_secs(60), 1).await.unwrap();
    assert_eq!(claimed.len(), 1);
    let item = &claimed[0];
    assert_eq!((item.outbox_id, item.message_id, item.attempts), (queued.outbox_id, queued.message_id, 1));
    assert_eq!(
        (item.body.as_str(), item.channel.as_str(), item.external_conversation_id.as_str()),
        (UNICODE, "telegram", "chat-out")
    );

    // The leased reply is not handed out again; the next one is.
    let next = outbox.claim_due(Duration::from_secs(60), 10).await.unwrap();
    assert_eq!(next.iter().map(|item| item.outbox_id).collect::<Vec<_>>(), vec![second.outbox_id]);
    assert!(outbox.claim_due(Duration::from_secs(60), 10).await.unwrap().is_empty());

    outbox.mark_delivered(queued.outbox_id, Some("out:1")).await.unwrap();
    outbox.mark_delivered(queued.outbox_id, Some("out:1")).await.unwrap();
    assert_eq!(outbox.undelivered_count().await.unwrap(), 1);
    let history = t.store.conversations().history(conversation_id, 10).await.unwrap();
    assert_eq!(
        (history[0].status, history[0].role, history[0].direction),
        (MessageStatus::Delivered, Role::Assistant, Direction::Outbound)
    );
    assert_eq!(history[0].platform_message_id.as_deref(), Some("out:1"));
    assert_eq!(history[1].status, MessageStatus::Pending);

    // A failed send comes back at the rescheduled time with its attempt counted.
    outbox.reschedule(second.outbox_id, now_ms() + 3_600_000, "platform said 502").await.unwrap();
    assert!(outbox.claim_due(Duration::from_secs(60), 10).await.unwrap().is_empty());
    outbox.reschedule(second.outbox_id, now_ms() - 1, "platform said 502").await.unwrap();
    let retried = outbox.claim_due(Duration::ZERO, 10).await.unwrap();
    assert_eq!((retried[0].outbox_id, retried[0].attempts), (second.outbox_id, 2));
    // A zero lease has expired at once: a crashed sender's reply is claimable again.
    let reclaimed = outbox.claim_due(Duration::from_secs(60), 10).await.unwrap();
    assert_eq!((reclaimed[0].outbox_id, reclaimed[0].attempts), (second.outbox_id, 3));

    let error = outbox.reschedule(queued.outbox_id, now_ms(), "late").await.unwrap_err();
    assert!(matches!(error, StoreError::NotFound { .. }), "a delivered reply cannot be rescheduled: {error}");
    let error = outbox.enqueue_reply(chitin::store::ConversationId(i64::MAX), None, "x").await.unwrap_err();
    assert!(matches!(error, StoreError::NotFound { what: "conversation", .. }), "{error}");
}

/// A new conversation `(channel, chat)` with `count` replies queued for delivery ("reply 0", "reply 1", …).
async fn queue_replies(
    t: &TestStore,
    channel: &str,
    chat: &str,
    count: usize,
) -> (chitin::store::ConversationId, Vec<chitin::store::QueuedReply>) {
    let conversation_id = t.store.conversations().get_or_create(channel, chat).await.unwrap();
    let mut queued = Vec::new();
    for n in 0..count {
        queued
            .push(t.store.outbox().enqueue_reply(conversation_id, None, &format!("reply {n}")).await.unwrap().reply());
    }
    (conversation_id, queued)
}

/// Many replies marked delivered at once (SQLite commits the marks queued together in one script): each mark lands
/// on its own reply with its own platform id, a mark of an unknown entry fails alone, and a later mark without a
/// platform id keeps the one already stored.
async fn concurrent_delivery_marks_each_land(t: &TestStore) {
    let (conversation_id, queued) = queue_replies(t, "telegram", "chat-marks", 40).await;
    let outbox = t.store.outbox();
    let platform_id = |n: usize| n.is_multiple_of(2).then(|| format!("sent:{n}"));
    let marks = queued.iter().enumerate().map(|(n, reply)| {
        let outbox = t.store.outbox();
        let outbox_id = reply.outbox_id;
        async move { outbox.mark_delivered(outbox_id, platform_id(n).as_deref()).await }
    });
    let unknown = outbox.mark_delivered(chitin::store::OutboxId(i64::MAX), Some("nowhere"));
    let (results, unknown) = futures::join!(futures::future::join_all(marks), unknown);
    for result in results {
        result.unwrap();
    }
    assert!(matches!(unknown, Err(StoreError::NotFound { what: "outbox entry", .. })), "{unknown:?}");
    assert_eq!(outbox.undelivered_count().await.unwrap(), 0);

    outbox.mark_delivered(queued[0].outbox_id, None).await.unwrap();
    let history = t.store.conversations().history(conversation_id, 100).await.unwrap();
    assert_eq!(history.len(), 40);
    for (n, reply) in queued.iter().enumerate() {
        let stored = history.iter().find(|message| message.id == reply.message_id).expect("reply in history");
        assert_eq!(stored.status, MessageStatus::Delivered, "reply {n}");
        assert_eq!(stored.platform_message_id, platform_id(n), "reply {n}");
        assert_eq!(stored.body, format!("reply {n}"));
    }
}

/// In-band hand-overs are recorded without waiting for the write (on SQLite they are held to share a commit): each
/// lands soon on its own, and those still held when the store closes are written by the close, not dropped.
async fn hand_overs_recorded_later_all_land(t: &TestStore) {
    let (conversation_id, queued) = queue_replies(t, "api", "chat-hand-overs", 6).await;
    let outbox = t.store.outbox();
    outbox.mark_delivered_later(queued[0].outbox_id).await.unwrap();
    outbox.mark_delivered_later(queued[1].outbox_id).await.unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while outbox.undelivered_count().await.unwrap() > 4 {
        assert!(tokio::time::Instant::now() < deadline, "two hand-overs still unrecorded after 5 s");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }

    for reply in &queued[2..] {
        outbox.mark_delivered_later(reply.outbox_id).await.unwrap();
    }
    t.store.close().await;
    let reopened = t.reopen(&t.master_key).await.unwrap();
    assert_eq!(reopened.outbox().undelivered_count().await.unwrap(), 0, "a hand-over held at close was lost");
    let history = reopened.conversations().history(conversation_id, 10).await.unwrap();
    assert_eq!(history.len(), 6);
    assert!(history.iter().all(|message| message.status == MessageStatus::Delivered), "{history:?}");
    reopened.close().await;
}

async fn turn_usage_is_stored_with_the_reply(t: &TestStore) {
    let inbound_store = t.store.inbound();
    let outcome = inbound_store.record_inbound(&inbound("api", "usage", "u-1", "question")).await.unwrap();
    let InboundOutcome::Inserted { conversation_id, message_id, .. } = outcome else { panic!("{outcome:?}") };
    let usage = TokenUsage { input_tokens: 1_234, output_tokens: 56 };
    let outbox = t.store.outbox();
    let processed = Some(MessageStatus::Processed);
    let reply = outbox
        .enqueue_answer(conversation_id, Some(message_id), "answer", Some(usage), processed)
        .await
        .unwrap()
        .reply();
    let plain = outbox.enqueue_reply(conversation_id, None, "a note without a model").await.unwrap().reply();

    let history = t.store.conversations().history(conversation_id, 10).await.unwrap();
    let usages: Vec<_> = history.iter().map(|message| (message.id, message.usage)).collect();
    assert_eq!(usages, vec![(message_id, None), (reply.message_id, Some(usage)), (plain.message_id, None)]);
    let (filed, _) = t.store.conversations().reply_to(message_id).await.unwrap().expect("filed");
    assert_eq!(filed.usage, Some(usage));
    assert_eq!(history[0].status, MessageStatus::Processed, "the answered message is updated with its reply");

    // What a session that already holds the history reads next: only the newer rows.
    let newer = t.store.conversations().history_after(conversation_id, reply.message_id, 10).await.unwrap();
    assert_eq!(newer.iter().map(|message| message.id).collect::<Vec<_>>(), vec![plain.message_id]);
    let capped = t.store.conversations().history_after(conversation_id, chitin::store::MessageId(0), 2).await.unwrap();
    assert_eq!(capped.iter().map(|message| message.id).collect::<Vec<_>>(), vec![reply.message_id, plain.message_id]);
}

async fn failed_transaction_leaves_nothing_behind(t: &TestStore) {
    let trigger = match t.backend() {
        Backend::Postgres => {
            "CREATE FUNCTION explode() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'boom'; END $$; \
             CREATE TRIGGER outbox_explode BEFORE INSERT ON outbox FOR EACH ROW WHEN (NEW.channel = 'explode') \
             EXECUTE FUNCTION explode();"
        }
        Backend::Sqlite => {
            "CREATE TRIGGER outbox_explode BEFORE INSERT ON outbox WHEN NEW.channel = 'explode' \
             BEGIN SELECT RAISE(ABORT, 'boom'); END;"
        }
    };
    t.raw_execute(trigger).await;
    let conversation_id = t.store.conversations().get_or_create("explode", "chat").await.unwrap();
    let messages_before = t.raw_scalar("SELECT count(*) FROM messages").await;
    let error = t.store.outbox().enqueue_reply(conversation_id, None, "never stored").await.unwrap_err();
    assert!(matches!(error, StoreError::Query { op: "enqueue reply", retryable: false, .. }), "{error:?}");
    assert_eq!(
        t.raw_scalar("SELECT count(*) FROM messages").await,
        messages_before,
        "the assistant message must roll back"
    );
    assert_eq!(t.raw_scalar("SELECT count(*) FROM outbox").await, 0);
    // The store keeps working after the failed transaction.
    let other = t.store.conversations().get_or_create("telegram", "chat").await.unwrap();
    t.store.outbox().enqueue_reply(other, None, "fine").await.unwrap();
}

async fn jobs_lifecycle(t: &TestStore) {
    let jobs = t.store.jobs();
    let job = NewJob {
        kind: "summarise",
        idempotency_key: Some("summarise:chat-1:2026-11-25"),
        conversation_id: None,
        payload: &json!({ "text": UNICODE }).to_string(),
        max_attempts: 2,
        run_after_ms: now_ms() - 1,
        priority: 0,
        max_runtime_ms: None,
    };
    let EnqueueOutcome::Inserted(job_id) = jobs.enqueue(&job).await.unwrap() else { panic!("first enqueue") };
    assert_eq!(jobs.enqueue(&job).await.unwrap(), EnqueueOutcome::Existing(job_id));
    let later = NewJob { idempotency_key: None, run_after_ms: now_ms() + 3_600_000, ..job.clone() };
    let later_id = jobs.enqueue(&later).await.unwrap().job_id();

    let claimed = jobs.claim("worker-a", "node-1", Duration::from_secs(60), 10).await.unwrap();
    assert_eq!(claimed.iter().map(|job| job.id).collect::<Vec<_>>(), vec![job_id], "the future job is not due");
    assert_eq!(serde_json::from_str::<serde_json::Value>(&claimed[0].payload).unwrap()["text"], UNICODE);
    assert!(jobs.claim("worker-b", "node-1", Duration::from_secs(60), 10).await.unwrap().is_empty());
    assert_eq!(jobs.renew_lease(job_id, "worker-a", Duration::from_secs(60)).await.unwrap(), LeaseCheck::Held);
    assert_eq!(jobs.renew_lease(job_id, "worker-b", Duration::from_secs(60)).await.unwrap(), LeaseCheck::Lost);
    assert!(!jobs.finish(job_id, "worker-b", JobOutcome::Succeeded { result: "stolen" }).await.unwrap());

    // Retry puts it back; the next claim is its last attempt; the lease then expires.
    assert!(
        jobs.finish(job_id, "worker-a", JobOutcome::Retry { error: "llm 500", run_after_ms: now_ms() - 1 })
            .await
            .unwrap()
    );
    assert_eq!(jobs.get(job_id).await.unwrap().unwrap().state, JobState::Queued);
    let again = jobs.claim("worker-b", "node-1", Duration::ZERO, 10).await.unwrap();
    assert_eq!(again[0].attempts, 2);
    assert_eq!(jobs.requeue_expired().await.unwrap().len(), 1);
    let stored = jobs.get(job_id).await.unwrap().unwrap();
    assert_eq!((stored.state, stored.attempts, stored.lease_owner), (JobState::Failed, 2, None), "no attempts left");

    jobs.add_event(later_id, "progress", UNICODE).await.unwrap();
    let fast = jobs.clone();
    let ready = NewJob { idempotency_key: Some("other"), max_attempts: 3, run_after_ms: now_ms() - 1, ..job.clone() };
    let ready_id = fast.enqueue(&ready).await.unwrap().job_id();
    fast.claim("worker-c", "node-1", Duration::ZERO, 1).await.unwrap();
    assert_eq!(fast.requeue_expired().await.unwrap().len(), 1);
    assert_eq!(fast.get(ready_id).await.unwrap().unwrap().state, JobState::Queued, "attempts remain");
    fast.claim("worker-c", "node-1", Duration::from_secs(60), 1).await.unwrap();
    assert!(fast.finish(ready_id, "worker-c", JobOutcome::Succeeded { result: UNICODE }).await.unwrap());
    let done = fast.get(ready_id).await.unwrap().unwrap();
    assert_eq!((done.state, done.result.as_deref()), (JobState::Succeeded, Some(UNICODE)));
    let events = jobs.events(ready_id).await.unwrap();
    assert_eq!(events.iter().map(|event| event.kind.as_str()).collect::<Vec<_>>(), vec!["lease_expired", "succeeded"]);
    assert_eq!(jobs.events(later_id).await.unwrap()[0].detail, UNICODE);
    assert!(jobs.get(chitin::store::JobId(i64::MAX)).await.unwrap().is_none());

    let mut finished = Vec::new();
    for (key, outcome, state) in [
        ("fails", JobOutcome::Failed { error: "tool crashed" }, JobState::Failed),
        ("cancels", JobOutcome::Cancelled, JobState::Cancelled),
    ] {
        let id = jobs
            .enqueue(&NewJob { idempotency_key: Some(key), max_attempts: 5, ..ready.clone() })
            .await
            .unwrap()
            .job_id();
        jobs.claim("worker-d", "node-1", Duration::from_secs(60), 1).await.unwrap();
        assert!(jobs.finish(id, "worker-d", outcome).await.unwrap());
        assert_eq!(jobs.get(id).await.unwrap().unwrap().state, state, "{key}: final whatever attempts remain");
        assert_eq!(jobs.requeue_expired().await.unwrap().len(), 0);
        finished.push(id);
    }
    assert_eq!(jobs.events(finished[0]).await.unwrap()[0].detail, "tool crashed");
}

async fn routines_fire_once_per_run_key(t: &TestStore) {
    let routines = t.store.routines();
    let action = json!({ "prompt": UNICODE });
    let routine = NewRoutine {
        name: "morning brief",
        trigger_kind: TriggerKind::Cron,
        trigger_spec: "0 8 * * *",
        action: &action,
        enabled: true,
        next_fire_at_ms: Some(now_ms() - 1),
    };
    let id = routines.upsert(&routine).await.unwrap();
    let disabled = NewRoutine { name: "off", enabled: false, ..routine.clone() };
    routines.upsert(&disabled).await.unwrap();
    let due = routines.due(now_ms()).await.unwrap();
    assert_eq!(due.iter().map(|routine| routine.name.as_str()).collect::<Vec<_>>(), vec!["morning brief"]);
    assert_eq!(due[0].action, action);

    let RunStart::Started(run_id) = routines.start_run(id, "2026-11-25T08:00Z", None).await.unwrap() else { panic!() };
    assert_eq!(routines.start_run(id, "2026-11-25T08:00Z", None).await.unwrap(), RunStart::AlreadyStarted);
    routines.finish_run(run_id, RunState::Succeeded).await.unwrap();
    assert_eq!(routines.runs(id, 5).await.unwrap(), vec![("2026-11-25T08:00Z".to_owned(), RunState::Succeeded)]);

    routines.set_next_fire(id, Some(now_ms() + 86_400_000)).await.unwrap();
    assert!(routines.due(now_ms()).await.unwrap().is_empty());
    assert_eq!(routines.upsert(&NewRoutine { trigger_spec: "0 9 * * *", ..routine }).await.unwrap(), id);
    assert_eq!(routines.list().await.unwrap().iter().find(|r| r.id == id).unwrap().trigger_spec, "0 9 * * *");
    assert!(routines.delete("off").await.unwrap());
    assert!(!routines.delete("off").await.unwrap());
}

fn embedding(direction: usize) -> Vec<f32> {
    let mut values = vec![0.01f32; 384];
    values[direction] = 1.0;
    values
}

fn document<'a>(path: &'a str, content_hash: &'a str) -> NewDocument<'a> {
    NewDocument { path, source: "workspace", content_hash }
}

fn chunk<'a>(content: &'a str, embedding: Option<&'a [f32]>) -> NewChunk<'a> {
    NewChunk { content, headings: "", embedding, embedding_hash: embedding.map(|_| "h") }
}

async fn memory_documents_and_search(t: &TestStore) {
    let memory = t.store.memory();
    let everything = SearchFilter::default();
    let text = |raw: &str| SearchQuery::parse(raw, 1000).unwrap();
    let (east, north) = (embedding(0), embedding(1));
    let chunks = [
        chunk("The cat was running across the garden", Some(&east)),
        chunk("Umlaute: Grüße aus München 你好", Some(&north)),
        chunk("no embedding yet", None),
    ];
    let DocumentWrite::Written(document_id) =
        memory.upsert_document(&document("notes/a.md", "hash-1"), &chunks).await.unwrap()
    else {
        panic!("first write")
    };
    assert_eq!(
        memory.upsert_document(&document("notes/a.md", "hash-1"), &chunks[..1]).await.unwrap(),
        DocumentWrite::Unchanged(document_id)
    );
    assert_eq!(memory.document_hash("notes/a.md").await.unwrap().as_deref(), Some("hash-1"));

    let hits = memory.rank_text(&text("runs"), &everything, 10).await.unwrap();
    assert_eq!(hits.len(), 1, "stemming should match running/runs: {hits:?}");
    let details = memory.chunk_details(&hits, true).await.unwrap();
    assert_eq!(details[&hits[0]].document_path, "notes/a.md");
    assert_eq!(details[&hits[0]].text, "The cat was running across the garden");
    assert_eq!(memory.rank_text(&text("münchen"), &everything, 10).await.unwrap().len(), 1);
    assert_eq!(memory.rank_text(&text("cat münchen"), &everything, 10).await.unwrap().len(), 2, "terms are ORed");
    assert!(memory.rank_text(&text("\"unbalanced OR ("), &everything, 10).await.is_ok(), "user text is never syntax");

    let near_north: Vec<f32> = north.iter().zip(&east).map(|(n, e)| n + 0.2 * e).collect();
    let nearest = memory.rank_vector(&near_north, &everything, 2).await.unwrap();
    let details = memory.chunk_details(&nearest, true).await.unwrap();
    assert!(details.values().all(|chunk| chunk.embedding.as_ref().is_some_and(|vector| vector.len() == 384)));
    let without_vectors = memory.chunk_details(&nearest, false).await.unwrap();
    assert_eq!(without_vectors.len(), details.len());
    assert!(without_vectors.values().all(|chunk| chunk.embedding.is_none()), "vectors only when asked for");
    let ordered: Vec<&str> = nearest.iter().map(|id| details[id].text.as_str()).collect();
    assert_eq!(ordered, vec!["Umlaute: Grüße aus München 你好", "The cat was running across the garden"]);

    let error = memory.rank_vector(&[1.0, 2.0], &everything, 2).await.unwrap_err();
    assert!(matches!(error, StoreError::EmbeddingDims { found: 2, expected: 384, .. }), "{error}");
    let short = [1.0f32; 3];
    let error = memory.upsert_document(&document("b.md", "h"), &[chunk("x", Some(&short))]).await.unwrap_err();
    assert!(matches!(error, StoreError::EmbeddingDims { .. }), "{error}");

    // A changed hash replaces the chunks.
    let replaced = [chunk("only the dog remains", Some(&east))];
    assert_eq!(
        memory.upsert_document(&document("notes/a.md", "hash-2"), &replaced).await.unwrap(),
        DocumentWrite::Written(document_id)
    );
    assert!(memory.rank_text(&text("cat"), &everything, 10).await.unwrap().is_empty());
    assert_eq!(memory.rank_text(&text("dog"), &everything, 10).await.unwrap().len(), 1);
    let listed = memory.list_documents().await.unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!((listed[0].document_id, listed[0].path.as_str(), listed[0].chunks), (document_id, "notes/a.md", 1));
    assert_eq!((listed[0].source.as_str(), listed[0].content_hash.as_str()), ("workspace", "hash-2"));

    assert!(memory.delete_document("notes/a.md").await.unwrap());
    assert!(!memory.delete_document("notes/a.md").await.unwrap());
    assert!(memory.rank_text(&text("dog"), &everything, 10).await.unwrap().is_empty());
    assert!(memory.rank_vector(&east, &everything, 10).await.unwrap().is_empty());
}

async fn secrets_rows(t: &TestStore) {
    let secrets = t.store.secrets();
    let cipher = chitin::crypto::FieldCipher::new(&t.master_key);
    let sealed = cipher.seal(b"sk-live-123", b"secret:openai");
    secrets.put("openai", &sealed).await.unwrap();
    let row = secrets.get("openai").await.unwrap().unwrap();
    assert_eq!(row.sealed, sealed);
    assert_eq!(cipher.open(&row.sealed, b"secret:openai").unwrap(), b"sk-live-123");
    let replacement = cipher.seal("🔑".as_bytes(), b"secret:openai");
    secrets.put("openai", &replacement).await.unwrap();
    secrets.put("anthropic", &sealed).await.unwrap();
    assert_eq!(secrets.get("openai").await.unwrap().unwrap().sealed, replacement);
    assert_eq!(secrets.names().await.unwrap(), vec!["anthropic", "openai"]);
    assert!(secrets.delete("openai").await.unwrap());
    assert!(secrets.get("openai").await.unwrap().is_none());
    assert!(!secrets.delete("openai").await.unwrap());
}

async fn installed_tools_and_approval(t: &TestStore) {
    let tools = t.store.tools();
    let manifest = json!({ "http": [{ "host": "api.example.com" }], "note": UNICODE });
    assert_eq!(tools.install("weather", "1.0.0", "sha-a", &manifest).await.unwrap(), Approval::Pending);
    tools.set_approval("weather", Approval::Approved).await.unwrap();
    assert_eq!(
        tools.install("weather", "1.0.1", "sha-a", &manifest).await.unwrap(),
        Approval::Approved,
        "same bytes keep approval"
    );
    assert_eq!(
        tools.install("weather", "1.1.0", "sha-b", &manifest).await.unwrap(),
        Approval::Pending,
        "new bytes need approval"
    );
    let tool = tools.get("weather").await.unwrap().unwrap();
    assert_eq!((tool.version.as_str(), tool.content_hash.as_str(), tool.approved_at_ms), ("1.1.0", "sha-b", None));
    assert_eq!(tool.manifest, manifest);
    assert_eq!(tools.list().await.unwrap().len(), 1);
    let error = tools.set_approval("nope", Approval::Approved).await.unwrap_err();
    assert!(matches!(error, StoreError::NotFound { .. }), "{error}");
    assert!(tools.remove("weather").await.unwrap());
    assert!(tools.get("weather").await.unwrap().is_none());
}

async fn audit_chain_detects_tampering(t: &TestStore) {
    let audit = t.store.audit();
    let detail = json!({ "zeta": 1, "alpha": [UNICODE, 2.5], "nested": { "b": true, "a": null } });
    let first = audit
        .append(&AuditEntry { actor: "user", action: "tool.approve", target: "weather", detail: &detail })
        .await
        .unwrap();
    let second = audit
        .append(&AuditEntry { actor: "agent", action: "secret.use", target: "openai", detail: &json!({}) })
        .await
        .unwrap();
    assert_eq!(first.prev_hash, "");
    assert_eq!(second.prev_hash, first.hash);
    assert_eq!(audit.list(None, 10).await.unwrap(), vec![first.clone(), second.clone()]);
    assert_eq!(audit.list(Some(first.id), 10).await.unwrap(), vec![second.clone()]);
    assert_eq!(audit.verify().await.unwrap(), 2);

    t.raw_execute(&format!("UPDATE audit_log SET target = 'other' WHERE id = {}", first.id)).await;
    let error = audit.verify().await.unwrap_err();
    assert!(matches!(error, StoreError::AuditChainBroken { id } if id == first.id.0), "{error}");
}

async fn settings_values(t: &TestStore) {
    let settings = t.store.settings();
    assert_eq!(settings.get("ui.theme").await.unwrap(), None);
    settings.set("ui.theme", &json!("dark")).await.unwrap();
    settings.set("ui.theme", &json!({ "name": UNICODE })).await.unwrap();
    assert_eq!(settings.get("ui.theme").await.unwrap(), Some(json!({ "name": UNICODE })));
    assert!(settings.delete("ui.theme").await.unwrap());
    assert!(!settings.delete("ui.theme").await.unwrap());
}

async fn export_and_migration_status(t: &TestStore) {
    let outcome = t.store.inbound().record_inbound(&inbound("telegram", "chat-x", "x:1", UNICODE)).await.unwrap();
    let InboundOutcome::Inserted { conversation_id, .. } = outcome else { panic!() };
    t.store.outbox().enqueue_reply(conversation_id, None, "reply ✓").await.unwrap();
    t.store.memory().upsert_document(&document("m.md", "h"), &[chunk(UNICODE, None)]).await.unwrap();

    let mut out = Vec::new();
    assert_eq!(t.store.export_conversations(&mut out).await.unwrap(), 1);
    let line: serde_json::Value = serde_json::from_slice(out.trim_ascii_end()).unwrap();
    assert_eq!(line["conversation"]["external_id"], "chat-x");
    assert_eq!(line["messages"][0]["body"], UNICODE);
    assert_eq!(line["messages"][1]["body"], "reply ✓");
    let mut out = Vec::new();
    assert_eq!(t.store.export_memory(&mut out).await.unwrap(), 1);
    let line: serde_json::Value = serde_json::from_slice(out.trim_ascii_end()).unwrap();
    assert_eq!((line["path"].as_str(), line["chunks"][0]["content"].as_str()), (Some("m.md"), Some(UNICODE)));

    let status = t.store.migration_status().await.unwrap();
    assert!(!status.is_empty() && status.iter().all(|migration| migration.applied), "{status:?}");
    assert_eq!(t.store.migrate().await.unwrap(), 0);
    assert!(matches!(t.store.health().await, StorageHealth::Healthy { .. }));

    let target = t.data_dir.path().join("backup.db");
    match (t.backend(), t.store.backup_to(&target).await) {
        (Backend::Sqlite, Ok(())) => assert!(target.exists()),
        (Backend::Postgres, Err(error)) => {
            assert!(matches!(error, StoreError::BackupNeedsPgDump), "{error}");
            assert!(error.to_string().contains("pg_dump"), "{error}");
        }
        (backend, result) => panic!("{backend:?}: unexpected backup result {result:?}"),
    }
}

async fn wrong_master_key_is_refused(t: &TestStore) {
    t.store.inbound().record_inbound(&inbound("telegram", "chat-k", "k:1", UNICODE)).await.unwrap();
    let error = t.reopen(&MasterKey::from_bytes([0xee; 32])).await.unwrap_err();
    assert!(matches!(error, StoreError::WrongMasterKey { .. }), "{error:?}");
    assert!(
        error.to_string().starts_with("cannot open ") && error.to_string().ends_with(": wrong master key"),
        "{error}"
    );
    let reopened = t.reopen(&t.master_key).await.unwrap();
    assert_eq!(reopened.conversations().list(10).await.unwrap().len(), 1);
    reopened.close().await;
}

async fn newer_schema_is_refused(t: &TestStore) {
    let checksum = match t.backend() {
        Backend::Postgres => "'\\x00'::bytea",
        Backend::Sqlite => "X'00'",
    };
    t.raw_execute(&format!(
        "INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time) \
         VALUES (29991231000000, 'from a newer chitin', true, {checksum}, 0)"
    ))
    .await;
    let error = t.reopen(&t.master_key).await.unwrap_err();
    let StoreError::SchemaTooNew { database_version, build_version } = error else { panic!("{error:?}") };
    assert_eq!(database_version, 29991231000000);
    let message = error.to_string();
    assert!(message.contains("29991231000000") && message.contains(&build_version.to_string()), "{message}");
    assert!(build_version < database_version);
}
