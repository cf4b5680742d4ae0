//! The repairer heals within one sweep: a job whose worker vanished (expired lease), a job past its max runtime,
//! a reply stuck in the outbox, and a message whose session died before answering; each repair is audited.

use std::time::{Duration, Instant};

use chitin::store::{InboundMessage, InboundOutcome, JobState, NewJob, Store, now_ms};

use chitin_actors::health::HealthNode;

use super::support::{Backend, service, start};
use crate::support::chitin::TestChitin;

async fn repaired(store: &Store, target: &str) -> bool {
    let records = store.audit().list(None, 1_000).await.unwrap();
    records.iter().any(|record| record.actor == "repairer" && record.action == "repair" && record.target == target)
}

fn noop_job<'a>(key: &'a str, max_runtime_ms: Option<i64>) -> NewJob<'a> {
    NewJob {
        kind: "maintenance",
        idempotency_key: Some(key),
        conversation_id: None,
        payload: r#"{"task":"noop"}"#,
        max_attempts: 3,
        run_after_ms: now_ms(),
        priority: 0,
        max_runtime_ms,
    }
}

/// Each job worker claims once when it starts and then sleeps until the (slowed) sweep; the ghost claims below
/// must not race that first claim. A worker answers a health probe only after its start-up claim, so once every
/// worker says "idle" the ghost is the only claimant.
async fn workers_made_their_first_claim(chitin: &TestChitin) {
    fn workers(node: &HealthNode, found: &mut Vec<HealthNode>) {
        if node.name.starts_with("job-worker-") {
            found.push(node.clone());
        }
        node.children.iter().for_each(|child| workers(child, found));
    }
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let health = service(chitin).tree().health().await.unwrap();
        let mut found = Vec::new();
        workers(&health, &mut found);
        if !found.is_empty() && found.iter().all(|worker| worker.detail.starts_with("idle")) {
            return;
        }
        assert!(Instant::now() < deadline, "job worker not idle: {}", health.render());
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stuck_work_is_healed_within_one_repair_interval() {
    // The job waker's own lease sweep is slowed down, so the repairer is the one that heals.
    let settings = [
        ("CHITIN_JOBS__POLL_MS", "60000"),
        ("CHITIN_REPAIR__EVERY_SECS", "1"),
        ("CHITIN_REPAIR__OUTBOX_AFTER_SECS", "1"),
        ("CHITIN_REPAIR__UNANSWERED_AFTER_SECS", "1"),
    ];
    let chitin = start(Backend::Sqlite, &settings).await.expect("sqlite");
    let store = service(&chitin).store().clone();
    let jobs = store.jobs();
    workers_made_their_first_claim(&chitin).await;

    // A worker of a node that died: its lease runs out and nobody renews it.
    let orphan = jobs.enqueue(&noop_job("orphan", None)).await.unwrap().job_id();
    let overdue = jobs.enqueue(&noop_job("overdue", Some(1))).await.unwrap().job_id();
    let claimed = jobs.claim("ghost/0", "ghost", Duration::from_millis(300), 1).await.unwrap();
    assert_eq!(claimed.iter().map(|job| job.id).collect::<Vec<_>>(), vec![orphan]);
    // The overdue job has a long lease from a live-looking worker, but its max runtime (1 ms) is soon past.
    let claimed = jobs.claim("ghost/1", "ghost", Duration::from_secs(600), 1).await.unwrap();
    assert_eq!(claimed.iter().map(|job| job.id).collect::<Vec<_>>(), vec![overdue]);

    // A reply filed for Telegram whose sender never took it.
    let chat = store.conversations().get_or_create("telegram", "777").await.unwrap();
    let stuck = store.outbox().enqueue_reply(chat, None, "are you there?").await.unwrap().reply();

    // A message stored but never handed to a session (as if its session died mid-turn).
    let message = InboundMessage {
        channel: "api",
        external_conversation_id: "lost",
        platform_message_id: "lost-1",
        sender: Some("user"),
        body: "hello?",
    };
    let InboundOutcome::Inserted { message_id, .. } = store.inbound().record_inbound(&message).await.unwrap() else {
        panic!("new message")
    };

    let started = Instant::now();
    let deadline = started + Duration::from_secs(8);
    loop {
        let orphan_job = jobs.get(orphan).await.unwrap().unwrap();
        let overdue_job = jobs.get(overdue).await.unwrap().unwrap();
        let answered = store.conversations().reply_to(message_id).await.unwrap().is_some();
        let healed = orphan_job.lease_owner.as_deref() != Some("ghost/0")
            && overdue_job.state == JobState::Failed
            && answered
            && repaired(&store, &format!("job:{}", orphan.0)).await
            && repaired(&store, &format!("job:{}", overdue.0)).await
            && repaired(&store, &format!("outbox:{}", stuck.outbox_id.0)).await
            && repaired(&store, "api:lost").await;
        if healed {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "not healed: orphan {:?}/{:?}, overdue {:?}, answered {answered}",
            orphan_job.state,
            orphan_job.lease_owner,
            overdue_job.state
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // Sweeps run every second; the stuck work became repairable after about a second (lease, age thresholds).
    assert!(started.elapsed() < Duration::from_secs(4), "healed after {:?}", started.elapsed());
    let totals = service(&chitin).tree().repairs().await.unwrap();
    assert!(totals.jobs_requeued >= 1 && totals.jobs_failed >= 1, "{totals:?}");
    assert!(totals.replies_redelivered >= 1 && totals.turns_resumed >= 1, "{totals:?}");
    chitin.stop().await;
}
