//! The on-disk compiled-component cache: reused across restarts, rebuilt when it is bad.

use chitin::sandbox::{SandboxConfig, content_hash};
use serde_json::json;

use super::call;
use crate::support::sandbox_fixture::{MapSecrets, config_with_cache, manifest, new_sandbox, wasm};

async fn start_and_load(config: SandboxConfig) -> chitin::sandbox::SandboxStats {
    let sandbox = new_sandbox(config, MapSecrets::with(&[]));
    sandbox.load_tool(&wasm("calc"), manifest("calc", "")).await.expect("load calc");
    let outcome = call(&sandbox, "calc", json!({"expression": "1 + 1"})).await.expect("call after load");
    assert_eq!(outcome.output["value"].as_f64(), Some(2.0));
    sandbox.stats()
}

fn cache_file(dir: &std::path::Path) -> std::path::PathBuf {
    let bytes = std::fs::read(wasm("calc")).expect("calc.wasm");
    dir.join(format!("{}.cwasm", content_hash(&bytes)))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_loads_from_the_cache_without_compiling() {
    let dir = tempfile::tempdir().expect("cache dir");
    let first = start_and_load(config_with_cache(dir.path())).await;
    assert_eq!((first.components_compiled, first.components_loaded_from_cache), (1, 0));
    assert!(cache_file(dir.path()).exists());
    let second = start_and_load(config_with_cache(dir.path())).await;
    assert_eq!((second.components_compiled, second.components_loaded_from_cache), (0, 1));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_corrupted_cache_file_is_detected_and_recompiled() {
    let dir = tempfile::tempdir().expect("cache dir");
    start_and_load(config_with_cache(dir.path())).await;
    let path = cache_file(dir.path());
    let mut bytes = std::fs::read(&path).expect("cache file");
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0xff;
    std::fs::write(&path, &bytes).expect("corrupt");
    let after = start_and_load(config_with_cache(dir.path())).await;
    assert_eq!((after.components_compiled, after.components_loaded_from_cache), (1, 0));
    std::fs::write(&path, b"short").expect("truncate");
    let after = start_and_load(config_with_cache(dir.path())).await;
    assert_eq!((after.components_compiled, after.components_loaded_from_cache), (1, 0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cache_file_from_another_engine_configuration_is_recompiled() {
    let dir = tempfile::tempdir().expect("cache dir");
    start_and_load(config_with_cache(dir.path())).await;
    let unoptimised = SandboxConfig { optimize: false, ..config_with_cache(dir.path()) };
    let after = start_and_load(unoptimised).await;
    assert_eq!((after.components_compiled, after.components_loaded_from_cache), (1, 0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_engine_starts_with_the_first_tool_and_only_once() {
    let dir = tempfile::tempdir().expect("cache dir");
    let sandbox = new_sandbox(config_with_cache(dir.path()), MapSecrets::with(&[]));
    assert!(!sandbox.stats().engine_started, "a sandbox with no tools started wasmtime");
    let unknown = call(&sandbox, "calc", json!({"expression": "1 + 1"})).await.expect_err("calc is not loaded yet");
    assert_eq!(unknown.error.kind(), "unknown_tool", "{}", unknown.error);
    assert!(!sandbox.stats().engine_started, "calling a tool that is not loaded started wasmtime");

    // Two first loads on two threads share one engine and so one cache: both compilations are counted there.
    let loads = ["calc", "json_query"].map(|tool| {
        let sandbox = sandbox.clone();
        tokio::spawn(async move { sandbox.load_tool(&wasm(tool), manifest(tool, "")).await })
    });
    for load in loads {
        load.await.expect("load task").expect("load tool");
    }
    let stats = sandbox.stats();
    assert!(stats.engine_started);
    assert_eq!((stats.components_compiled, stats.tools_loaded), (2, 2));
    let outcome = call(&sandbox, "calc", json!({"expression": "2 * 3"})).await.expect("call after load");
    assert_eq!(outcome.output["value"].as_f64(), Some(6.0));
}
