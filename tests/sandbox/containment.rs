//! Hostile tools are stopped with the right typed error and the host keeps serving.

use std::time::{Duration, Instant};

use chitin::sandbox::SandboxError;
use serde_json::json;

use super::call;
use crate::support::sandbox_fixture::{MapSecrets, manifest, new_sandbox, sandbox_with, test_config, wasm};
use crate::support::sandbox_wat_tools::table_bomb_component;

async fn hostile(limits: &str) -> chitin::sandbox::Sandbox {
    sandbox_with("hostile", &format!("[limits]\n{limits}"), MapSecrets::with(&[])).await
}

/// After a failed call the same sandbox must still run a well-behaved call.
async fn assert_still_serving(sandbox: &chitin::sandbox::Sandbox) {
    let outcome =
        call(sandbox, "hostile", json!({"attack": "ok"})).await.expect("well-behaved call after a hostile one");
    assert_eq!(outcome.output, json!({"ok": true}));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn infinite_loop_runs_out_of_fuel() {
    let sandbox = hostile("fuel = 50_000_000").await;
    let failure =
        call(&sandbox, "hostile", json!({"attack": "infinite_loop"})).await.expect_err("loop must not finish");
    assert!(matches!(failure.error, SandboxError::FuelExhausted { budget: 50_000_000, .. }), "{failure}");
    assert_eq!(failure.error.to_string(), "tool hostile: fuel exhausted (budget 50000000)");
    assert!(failure.usage.fuel_consumed >= 50_000_000, "usage records the fuel: {:?}", failure.usage);
    assert_still_serving(&sandbox).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn infinite_loop_hits_the_wall_clock_limit() {
    let sandbox = hostile("fuel = 1_000_000_000_000\nwall_clock_ms = 300").await;
    let started = Instant::now();
    let failure =
        call(&sandbox, "hostile", json!({"attack": "infinite_loop"})).await.expect_err("loop must not finish");
    assert!(matches!(failure.error, SandboxError::Timeout { limit_ms: 300, .. }), "{failure}");
    assert!(started.elapsed() < Duration::from_secs(3), "stopped near its limit, took {:?}", started.elapsed());
    assert_still_serving(&sandbox).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn memory_bomb_hits_the_memory_limit() {
    let sandbox = hostile("memory_bytes = 16_777_216").await;
    let failure = call(&sandbox, "hostile", json!({"attack": "memory_bomb"})).await.expect_err("bomb must not finish");
    assert!(matches!(failure.error, SandboxError::MemoryExceeded { limit_bytes: 16_777_216, .. }), "{failure}");
    assert_still_serving(&sandbox).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deep_recursion_overflows_the_stack() {
    let sandbox = hostile("").await;
    let failure =
        call(&sandbox, "hostile", json!({"attack": "deep_recursion"})).await.expect_err("recursion must not finish");
    assert!(matches!(failure.error, SandboxError::StackOverflow { .. }), "{failure}");
    assert_still_serving(&sandbox).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn huge_output_is_refused() {
    let sandbox = hostile("max_output_bytes = 1024").await;
    let failure = call(&sandbox, "hostile", json!({"attack": "huge_output", "bytes": 4096}))
        .await
        .expect_err("output over the cap");
    assert!(matches!(failure.error, SandboxError::OutputTooLarge { size: 4098, limit: 1024, .. }), "{failure}");
    let small =
        call(&sandbox, "hostile", json!({"attack": "huge_output", "bytes": 100})).await.expect("output under the cap");
    assert_eq!(small.output.as_str().map(str::len), Some(100));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_panicking_tool_fails_only_its_call() {
    let sandbox = hostile("").await;
    let failure = call(&sandbox, "hostile", json!({"attack": "panic"})).await.expect_err("panic traps");
    assert!(matches!(failure.error, SandboxError::Trapped { .. }), "{failure}");
    assert_still_serving(&sandbox).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_utf8_and_non_json_results_are_named() {
    let sandbox = hostile("").await;
    let failure = call(&sandbox, "hostile", json!({"attack": "invalid_utf8"})).await.expect_err("bad utf-8");
    assert!(matches!(failure.error, SandboxError::InvalidUtf8Output { .. }), "{failure}");
    let failure = call(&sandbox, "hostile", json!({"attack": "not_json"})).await.expect_err("not json");
    assert!(matches!(failure.error, SandboxError::NonJsonOutput { .. }), "{failure}");
    assert!(failure.error.to_string().contains("not JSON"), "{failure}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_well_behaved_call_succeeds_while_a_hostile_one_spins() {
    let sandbox = new_sandbox(test_config(), MapSecrets::with(&[]));
    sandbox
        .load_tool(&wasm("hostile"), manifest("hostile", "[limits]\nfuel = 1_000_000_000_000\nwall_clock_ms = 1500"))
        .await
        .expect("load hostile");
    sandbox.load_tool(&wasm("calc"), manifest("calc", "")).await.expect("load calc");
    let spinning = {
        let sandbox = sandbox.clone();
        tokio::spawn(async move { call(&sandbox, "hostile", json!({"attack": "infinite_loop"})).await })
    };
    let outcome = call(&sandbox, "calc", json!({"expression": "6 * 7"})).await.expect("calc while hostile spins");
    assert_eq!(outcome.output["value"].as_f64(), Some(42.0));
    assert!(!spinning.is_finished(), "calc finished while the loop was still running");
    let failure = spinning.await.expect("join").expect_err("loop must not finish");
    assert!(matches!(failure.error, SandboxError::Timeout { .. }), "{failure}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn calls_beyond_the_rate_limit_are_refused() {
    let sandbox = sandbox_with("hostile", "[rate_limit]\ncalls_per_minute = 2", MapSecrets::with(&[])).await;
    for _ in 0..2 {
        call(&sandbox, "hostile", json!({"attack": "ok"})).await.expect("under the limit");
    }
    let failure = call(&sandbox, "hostile", json!({"attack": "ok"})).await.expect_err("third call");
    assert!(matches!(failure.error, SandboxError::RateLimited { .. }), "{failure}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn table_growth_hits_the_table_limit() {
    let dir = tempfile::tempdir().expect("dir");
    let sandbox = new_sandbox(test_config(), MapSecrets::with(&[]));
    sandbox.load_tool(&table_bomb_component(dir.path()), manifest("table_bomb", "")).await.expect("load table bomb");
    let failure = call(&sandbox, "table_bomb", json!({})).await.expect_err("table bomb");
    assert!(matches!(failure.error, SandboxError::TableExceeded { .. }), "{failure}");
    sandbox.load_tool(&wasm("calc"), manifest("calc", "")).await.expect("load calc");
    let outcome = call(&sandbox, "calc", json!({"expression": "1"})).await.expect("still serving");
    assert_eq!(outcome.output["value"].as_f64(), Some(1.0));
}
