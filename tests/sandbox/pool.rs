//! The SandboxPool actor in front of the real sandbox: hostile calls fail alone, good calls go on, a restarted pool
//! keeps serving, and every refused capability is its own audit entry.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use chitin::tools::SandboxExecutor;
use chitin_actors::ChildSlot;
use chitin_actors::ports::{BoxFuture, ToolExecution, ToolExecutionError, ToolExecutor};
use chitin_actors::shells::sandbox_pool::{self, SandboxPool, SandboxPoolArgs, SandboxPoolMsg};
use chitin_actors::supervision::{ChildSpec, RestartPolicy, Strategy, Supervisor, SupervisorSpec};
use ractor::Actor;

use crate::support::sandbox_fixture::{MapSecrets, manifest, new_sandbox, test_config, wasm};
use crate::support::store_backends::sqlite_store;

/// The real executor, except that it panics once, while building a call to the tool `crash-the-pool`: a host bug
/// on the pool's own path, which the supervisor must recover from.
struct PanicsOnce {
    inner: SandboxExecutor,
    armed: AtomicBool,
}

impl ToolExecutor for PanicsOnce {
    fn execute(&self, execution: ToolExecution) -> BoxFuture<'static, Result<String, ToolExecutionError>> {
        if execution.tool == "crash-the-pool" && self.armed.swap(false, Ordering::SeqCst) {
            panic!("host bug while preparing a call");
        }
        self.inner.execute(execution)
    }
}

fn execution(tool: &str, params: serde_json::Value, session: &str) -> ToolExecution {
    ToolExecution {
        tool: tool.into(),
        params: params.to_string(),
        call_id: format!("{session}-1"),
        session: session.into(),
    }
}

async fn wait_for_restart(slot: &ChildSlot<SandboxPoolMsg>, old: ractor::ActorId) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while slot.get().is_none_or(|pool| pool.get_id() == old) {
        assert!(Instant::now() < deadline, "the pool was not restarted");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_pool_contains_hostile_calls_survives_a_crash_and_audits_refusals() {
    let sandbox = new_sandbox(test_config(), MapSecrets::with(&[]));
    let hostile = "[limits]\nfuel = 20000000\nwall_clock_ms = 3000\nmemory_bytes = 16777216\n";
    sandbox.load_tool(&wasm("hostile"), manifest("hostile", hostile)).await.expect("hostile loaded");
    sandbox.load_tool(&wasm("calc"), manifest("calc", "")).await.expect("calc loaded");
    let store = sqlite_store().await;
    let scanner = chitin::safety::LeakScanner::shared_default().expect("scanner");
    let executor = PanicsOnce {
        inner: SandboxExecutor { sandbox, audit: store.store.audit(), scanner },
        armed: AtomicBool::new(true),
    };
    let slot = ChildSlot::new();
    let args = SandboxPoolArgs::new(Arc::new(executor), 4);
    let child =
        ChildSpec::new("sandbox", slot.clone(), move || (SandboxPool, args.clone())).with_policy(RestartPolicy {
            initial_backoff: Duration::from_millis(1),
            jitter: 0.0,
            ..RestartPolicy::default()
        });
    let spec = SupervisorSpec { name: "test-root".into(), strategy: Strategy::OneForOne, children: vec![child] };
    let (root, _join) = Actor::spawn(None, Supervisor, spec).await.expect("supervisor");
    let timeout = Duration::from_secs(30);

    // Hostile calls from one session and a good call from another, all at once.
    let attacks = ["infinite_loop", "memory_bomb", "panic", "deep_recursion"];
    let hostile_calls = attacks.iter().map(|attack| {
        let slot = slot.clone();
        let call = execution("hostile", serde_json::json!({ "attack": attack }), "attacker");
        async move { sandbox_pool::execute(&slot, call, timeout).await }
    });
    let good =
        sandbox_pool::execute(&slot, execution("calc", serde_json::json!({"expression": "6*7"}), "owner"), timeout);
    let (hostile_results, good_result) = tokio::join!(futures::future::join_all(hostile_calls), good);
    for (attack, result) in attacks.iter().zip(&hostile_results) {
        assert!(matches!(result, Err(ToolExecutionError::Failed { .. })), "{attack}: {result:?}");
    }
    assert!(hostile_results[0].as_ref().expect_err("loop").to_string().contains("fuel"), "{hostile_results:?}");
    let value: serde_json::Value = serde_json::from_str(&good_result.expect("good call")).expect("json");
    assert_eq!(value["value"], 42);

    // A refused capability: the call fails with the denial and the audit log has it as its own entry.
    let fetch = serde_json::json!({ "attack": "fetch", "method": "GET", "url": "https://unlisted.example/steal" });
    let denied = sandbox_pool::execute(&slot, execution("hostile", fetch, "attacker"), timeout).await;
    assert!(denied.expect_err("denied").to_string().contains("unlisted.example"));
    let rows = store.store.audit().list(None, 100).await.expect("audit");
    let refusal = rows.iter().find(|row| row.action == "security.capability_refused").expect("refusal audited");
    assert_eq!((refusal.target.as_str(), refusal.actor.as_str()), ("hostile", "attacker"));
    assert_eq!(refusal.detail["kind"], "denied");

    // A host bug on the pool's own path fails the pool; the supervisor restarts it and calls go on.
    let before = slot.get().expect("pool running").get_id();
    let crash = sandbox_pool::execute(&slot, execution("crash-the-pool", serde_json::json!({}), "x"), timeout).await;
    assert!(matches!(crash, Err(ToolExecutionError::Unavailable { .. })), "{crash:?}");
    wait_for_restart(&slot, before).await;
    let after =
        sandbox_pool::execute(&slot, execution("calc", serde_json::json!({"expression": "1+1"}), "owner"), timeout)
            .await
            .expect("the restarted pool serves");
    assert!(after.contains('2'), "{after}");

    root.stop_and_wait(None, Some(Duration::from_secs(5))).await.expect("stop");
    store.store.close().await;
}
