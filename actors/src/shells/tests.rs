//! Sessions observed through a fake turn runner: routing, ordering, backpressure, restart and idle stop.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use ractor::Actor;
use tokio::sync::Semaphore;

use crate::admission::OverloadPolicy;
use crate::error::BusError;
use crate::message::{ChannelKind, ConversationId, Inbound};
use crate::ports::{BoxFuture, TurnError, TurnRunner};
use crate::shells::session_router::{SessionRegistry, SessionRouter, SessionRouterArgs, deliver};
use crate::supervision::RestartPolicy;

/// Records turns; can be held (turns wait on a semaphore) and can panic once on a chosen text.
#[derive(Default)]
struct FakeRunner {
    turns: Mutex<Vec<(String, String)>>,
    gate: Option<Arc<Semaphore>>,
    panic_on: Mutex<Option<String>>,
    resumed: Mutex<Vec<Inbound>>,
    resume_calls: AtomicUsize,
    abandoned: Mutex<Vec<String>>,
    /// Panic on every message, not just once.
    always_panic: bool,
}

impl TurnRunner for FakeRunner {
    fn abandon(&self, conversation: &ConversationId, _reason: &str) -> BoxFuture<'_, Result<(), TurnError>> {
        self.abandoned.lock().expect("lock").push(conversation.to_string());
        Box::pin(async { Ok(()) })
    }

    fn resume(&self, _conversation: &ConversationId) -> BoxFuture<'_, Result<Vec<Inbound>, TurnError>> {
        self.resume_calls.fetch_add(1, Ordering::SeqCst);
        Box::pin(async move { Ok(std::mem::take(&mut *self.resumed.lock().expect("lock"))) })
    }

    fn run_turn(&self, inbound: Inbound) -> BoxFuture<'_, Result<(), TurnError>> {
        Box::pin(async move {
            if let Some(gate) = &self.gate {
                let _permit = gate.acquire().await.expect("gate open");
            }
            if self.always_panic {
                // Stored and unanswered: every restarted session finds it again, and fails again.
                self.resumed.lock().expect("lock").push(inbound.clone());
                panic!("runner always panics");
            }
            let poison = self.panic_on.lock().expect("lock").take_if(|text| *text == inbound.text);
            if poison.is_some() {
                // The message is "in the store, unanswered": a restarted session must get it from resume().
                self.resumed.lock().expect("lock").push(inbound.clone());
                panic!("runner told to panic");
            }
            self.turns.lock().expect("lock").push((inbound.conversation.to_string(), inbound.text));
            Ok(())
        })
    }
}

/// Every message gets its own store id, as stored messages do.
fn inbound(conversation: &str, text: &str) -> Inbound {
    static NEXT_RECORD_ID: std::sync::atomic::AtomicI64 = std::sync::atomic::AtomicI64::new(1);
    Inbound {
        conversation: ConversationId::new(ChannelKind::Webhook, conversation),
        channel: ChannelKind::Webhook,
        platform_message_id: text.into(),
        record_id: NEXT_RECORD_ID.fetch_add(1, Ordering::Relaxed),
        sender: "tester".into(),
        text: text.into(),
        follows: None,
    }
}

fn args(runner: Arc<FakeRunner>, capacity: usize, overload: OverloadPolicy, idle: Duration) -> SessionRouterArgs {
    SessionRouterArgs {
        runner,
        registry: SessionRegistry::default(),
        idle_after: idle,
        queue_capacity: capacity,
        overload,
        restart: RestartPolicy { initial_backoff: Duration::from_millis(1), jitter: 0.0, ..RestartPolicy::default() },
    }
}

async fn wait_for(what: &str, mut condition: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !condition() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

#[tokio::test]
async fn conversations_get_their_own_sessions_and_keep_order() {
    let runner = Arc::new(FakeRunner::default());
    let args = args(runner.clone(), 64, OverloadPolicy::Reject, Duration::from_secs(60));
    let registry = args.registry.clone();
    let (router, _) = Actor::spawn(None, SessionRouter, args).await.expect("router");
    for n in 0..20 {
        for conversation in ["a", "b", "c"] {
            deliver(&router, &registry, inbound(conversation, &format!("{conversation}{n}"))).await.expect("delivered");
        }
    }
    wait_for("all turns", || runner.turns.lock().expect("lock").len() == 60).await;
    assert_eq!(registry.len(), 3);
    for conversation in ["a", "b", "c"] {
        let texts: Vec<String> = runner
            .turns
            .lock()
            .expect("lock")
            .iter()
            .filter(|(c, _)| c.ends_with(&format!(":{conversation}")))
            .map(|(_, t)| t.clone())
            .collect();
        let expected: Vec<String> = (0..20).map(|n| format!("{conversation}{n}")).collect();
        assert_eq!(texts, expected, "conversation {conversation} out of order");
    }
    router.stop_and_wait(None, Some(Duration::from_secs(5))).await.expect("stop");
}

#[tokio::test]
async fn a_flood_to_a_slow_session_stays_bounded_and_is_refused() {
    let gate = Arc::new(Semaphore::new(0));
    let runner = Arc::new(FakeRunner { gate: Some(gate.clone()), ..FakeRunner::default() });
    let args = args(runner.clone(), 8, OverloadPolicy::Reject, Duration::from_secs(60));
    let registry = args.registry.clone();
    let (router, _) = Actor::spawn(None, SessionRouter, args).await.expect("router");

    let mut accepted = 0;
    let mut refused = 0;
    for n in 0..1_000 {
        match deliver(&router, &registry, inbound("slow", &n.to_string())).await {
            Ok(()) => accepted += 1,
            Err(BusError::Overloaded { capacity, .. }) => {
                assert_eq!(capacity, 8);
                refused += 1;
            }
            Err(other) => panic!("unexpected error {other}"),
        }
    }
    assert_eq!((accepted, refused), (8, 992), "exactly the capacity is admitted while the session is stuck");
    let handle = registry.get(&ConversationId::new(ChannelKind::Webhook, "slow")).expect("session");
    assert_eq!(handle.gate.depth(), 8);

    gate.add_permits(1_000);
    wait_for("the admitted turns", || runner.turns.lock().expect("lock").len() == 8).await;
    wait_for("queue drained", || handle.gate.depth() == 0).await;
    deliver(&router, &registry, inbound("slow", "after")).await.expect("room again once drained");
    router.stop_and_wait(None, Some(Duration::from_secs(5))).await.expect("stop");
}

#[tokio::test]
async fn wait_policy_holds_senders_until_there_is_room() {
    let gate = Arc::new(Semaphore::new(0));
    let runner = Arc::new(FakeRunner { gate: Some(gate.clone()), ..FakeRunner::default() });
    let args = args(runner.clone(), 2, OverloadPolicy::Wait(Duration::from_secs(10)), Duration::from_secs(60));
    let registry = args.registry.clone();
    let (router, _) = Actor::spawn(None, SessionRouter, args).await.expect("router");
    for n in 0..2 {
        deliver(&router, &registry, inbound("w", &n.to_string())).await.expect("room");
    }
    let waiting = {
        let (router, registry) = (router.clone(), registry.clone());
        tokio::spawn(async move { deliver(&router, &registry, inbound("w", "third")).await })
    };
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert!(!waiting.is_finished(), "the third sender must wait while the queue is full");
    gate.add_permits(10);
    waiting.await.expect("join").expect("admitted after room was made");
    wait_for("three turns", || runner.turns.lock().expect("lock").len() == 3).await;
    router.stop_and_wait(None, Some(Duration::from_secs(5))).await.expect("stop");
}

#[tokio::test]
async fn a_session_that_panics_mid_turn_is_restarted_and_answers_once() {
    let runner = Arc::new(FakeRunner { panic_on: Mutex::new(Some("boom".into())), ..FakeRunner::default() });
    let args = args(runner.clone(), 16, OverloadPolicy::Reject, Duration::from_secs(60));
    let registry = args.registry.clone();
    let (router, _) = Actor::spawn(None, SessionRouter, args).await.expect("router");
    deliver(&router, &registry, inbound("p", "boom")).await.expect("delivered");
    wait_for("restart and resume", || runner.resume_calls.load(Ordering::SeqCst) >= 2).await;
    wait_for("the poisoned message answered", || runner.turns.lock().expect("lock").len() == 1).await;
    deliver(&router, &registry, inbound("p", "next")).await.expect("delivered after restart");
    wait_for("next answered", || runner.turns.lock().expect("lock").len() == 2).await;
    let texts: Vec<String> = runner.turns.lock().expect("lock").iter().map(|(_, t)| t.clone()).collect();
    assert_eq!(texts, vec!["boom".to_string(), "next".to_string()], "each message answered exactly once");
    router.stop_and_wait(None, Some(Duration::from_secs(5))).await.expect("stop");
}

/// The first message of a conversation is stored before its session exists, so the new session finds it both
/// unanswered (resume) and in its mailbox: one turn, not two.
#[tokio::test]
async fn a_message_found_on_resume_and_delivered_runs_one_turn() {
    let runner = Arc::new(FakeRunner::default());
    let first = inbound("fresh", "first");
    runner.resumed.lock().expect("lock").push(first.clone());
    let args = args(runner.clone(), 16, OverloadPolicy::Reject, Duration::from_secs(60));
    let registry = args.registry.clone();
    let (router, _) = Actor::spawn(None, SessionRouter, args).await.expect("router");
    deliver(&router, &registry, first).await.expect("delivered");
    deliver(&router, &registry, inbound("fresh", "second")).await.expect("delivered");
    wait_for("the second message", || runner.turns.lock().expect("lock").len() >= 2).await;
    router.stop_and_wait(None, Some(Duration::from_secs(5))).await.expect("stop");
    let texts: Vec<String> = runner.turns.lock().expect("lock").iter().map(|(_, t)| t.clone()).collect();
    assert_eq!(texts, vec!["first".to_string(), "second".to_string()], "each message answered exactly once");
}

#[tokio::test]
async fn idle_sessions_stop_and_leave_the_registry() {
    let runner = Arc::new(FakeRunner::default());
    let args = args(runner.clone(), 16, OverloadPolicy::Reject, Duration::from_millis(100));
    let registry = args.registry.clone();
    let (router, _) = Actor::spawn(None, SessionRouter, args).await.expect("router");
    deliver(&router, &registry, inbound("idle", "hello")).await.expect("delivered");
    wait_for("session registered", || registry.len() == 1).await;
    wait_for("idle stop", || registry.is_empty()).await;
    deliver(&router, &registry, inbound("idle", "again")).await.expect("a new session starts");
    wait_for("two turns", || runner.turns.lock().expect("lock").len() == 2).await;
    router.stop_and_wait(None, Some(Duration::from_secs(5))).await.expect("stop");
}

#[tokio::test]
async fn a_conversation_that_keeps_failing_is_dropped_and_its_caller_told() {
    let runner = Arc::new(FakeRunner { always_panic: true, ..FakeRunner::default() });
    let args = args(runner.clone(), 16, OverloadPolicy::Reject, Duration::from_secs(60));
    let registry = args.registry.clone();
    let (router, _) = Actor::spawn(None, SessionRouter, args).await.expect("router");
    deliver(&router, &registry, inbound("doomed", "hello")).await.expect("delivered");
    wait_for("abandon", || !runner.abandoned.lock().expect("lock").is_empty()).await;
    assert_eq!(*runner.abandoned.lock().expect("lock"), vec!["webhook:doomed".to_string()]);
    assert!(registry.is_empty(), "the dropped session leaves the registry");
    router.stop_and_wait(None, Some(Duration::from_secs(5))).await.expect("stop");
}
