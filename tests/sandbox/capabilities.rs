//! Non-HTTP imports: secret-exists, workspace-read and invoke-tool, granted and refused.

use chitin::sandbox::{SandboxConfig, SandboxError};
use serde_json::json;

use super::call;
use crate::support::sandbox_fixture::{MapSecrets, manifest, new_sandbox, sandbox_with, test_config, wasm};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn secret_exists_answers_only_for_granted_secrets() {
    let body = "[[http]]\nurl = \"https://api.example.com/\"\nmethods = [\"GET\"]\n\
                [[secrets]]\nname = \"api_token\"\ninject = \"bearer\"\nhosts = [\"api.example.com\"]\n\
                [[secrets]]\nname = \"unset_token\"\ninject = \"bearer\"\nhosts = [\"api.example.com\"]\n";
    let sandbox = sandbox_with("hostile", body, MapSecrets::with(&[("api_token", "v1"), ("other", "v2")])).await;
    let present =
        call(&sandbox, "hostile", json!({"attack": "secret_exists", "name": "api_token"})).await.expect("granted");
    assert_eq!(present.output, json!({"exists": true}));
    let absent = call(&sandbox, "hostile", json!({"attack": "secret_exists", "name": "unset_token"}))
        .await
        .expect("granted, unset");
    assert_eq!(absent.output, json!({"exists": false}));
    let failure =
        call(&sandbox, "hostile", json!({"attack": "secret_exists", "name": "other"})).await.expect_err("not granted");
    assert!(
        matches!(&failure.error, SandboxError::CapabilityDenied { capability, .. } if capability == "secret other"),
        "{failure}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn workspace_reads_stay_inside_granted_prefixes() {
    let workspace = tempfile::tempdir().expect("workspace");
    std::fs::create_dir(workspace.path().join("notes")).expect("notes dir");
    std::fs::write(workspace.path().join("notes/today.md"), "buy milk").expect("note");
    std::fs::write(workspace.path().join("private.txt"), "diary").expect("private");
    std::os::unix::fs::symlink("/etc/hostname", workspace.path().join("notes/escape")).expect("symlink");
    let config = SandboxConfig { workspace_dir: Some(workspace.path().to_path_buf()), ..test_config() };
    let sandbox = new_sandbox(config, MapSecrets::with(&[]));
    sandbox.load_tool(&wasm("hostile"), manifest("hostile", "workspace_read = [\"notes/\"]")).await.expect("load");
    let outcome = call(&sandbox, "hostile", json!({"attack": "workspace_read", "path": "notes/today.md"}))
        .await
        .expect("granted read");
    assert_eq!(outcome.output, json!({"content": "buy milk"}));
    for path in ["private.txt", "notes/../private.txt", "/etc/passwd", "notes/escape"] {
        let failure = call(&sandbox, "hostile", json!({"attack": "workspace_read", "path": path}))
            .await
            .expect_err("outside the grant");
        assert!(matches!(failure.error, SandboxError::CapabilityDenied { .. }), "{path}: {failure}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invoke_tool_runs_granted_tools_only() {
    let sandbox = new_sandbox(test_config(), MapSecrets::with(&[]));
    sandbox.load_tool(&wasm("calc"), manifest("calc", "")).await.expect("load calc");
    sandbox.load_tool(&wasm("json_query"), manifest("json_query", "")).await.expect("load json_query");
    sandbox.load_tool(&wasm("hostile"), manifest("hostile", "tools = [\"calc\"]")).await.expect("load hostile");
    let params = json!({"attack": "invoke", "tool": "calc", "params": "{\"expression\": \"2 ^ 10\"}"});
    let outcome = call(&sandbox, "hostile", params).await.expect("granted invoke");
    assert_eq!(outcome.output["value"].as_f64(), Some(1024.0));
    assert!(outcome.usage.capabilities_used.contains(&"invoke calc".to_string()));
    let direct = call(&sandbox, "calc", json!({"expression": "2 ^ 10"})).await.expect("direct calc");
    let own = call(&sandbox, "hostile", json!({"attack": "ok"})).await.expect("hostile alone");
    assert!(
        outcome.usage.fuel_consumed >= direct.usage.fuel_consumed + own.usage.fuel_consumed,
        "the caller's fuel includes the nested call: {} < {} + {}",
        outcome.usage.fuel_consumed,
        direct.usage.fuel_consumed,
        own.usage.fuel_consumed
    );
    let params = json!({"attack": "invoke", "tool": "json_query", "params": "{}"});
    let failure = call(&sandbox, "hostile", params).await.expect_err("not granted");
    assert!(
        matches!(&failure.error, SandboxError::CapabilityDenied { capability, .. } if capability == "invoke tool json_query"),
        "{failure}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tool_invoking_itself_stops_at_the_depth_limit() {
    let sandbox = sandbox_with("hostile", "tools = [\"hostile\"]", MapSecrets::with(&[])).await;
    let failure =
        call(&sandbox, "hostile", json!({"attack": "invoke_self"})).await.expect_err("endless self-invocation");
    assert!(
        matches!(&failure.error, SandboxError::CapabilityDenied { capability, .. } if capability.contains("nesting depth 3")),
        "{failure}"
    );
    // The pool is not exhausted by the nested instances.
    let outcome = call(&sandbox, "hostile", json!({"attack": "ok"})).await.expect("still serving");
    assert_eq!(outcome.output, json!({"ok": true}));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bundled_tools_do_their_jobs() {
    let sandbox = new_sandbox(test_config(), MapSecrets::with(&[]));
    sandbox.load_tool(&wasm("calc"), manifest("calc", "")).await.expect("load calc");
    sandbox.load_tool(&wasm("json_query"), manifest("json_query", "")).await.expect("load json_query");
    let sum = call(&sandbox, "calc", json!({"expression": "(1 + 2) * -3 / 2"})).await.expect("calc");
    assert_eq!(sum.output["value"].as_f64(), Some(-4.5));
    let failure = call(&sandbox, "calc", json!({"expression": "1 / 0"})).await.expect_err("division by zero");
    assert!(
        matches!(&failure.error, SandboxError::ToolFailed { message, .. } if message == "division by zero"),
        "{failure}"
    );
    let picked = call(
        &sandbox,
        "json_query",
        json!({"document": {"items": [{"name": "a"}, {"name": "b"}]}, "path": "items[1].name"}),
    )
    .await
    .expect("query");
    assert_eq!(picked.output, json!({"value": "b"}));
    let failure = call(&sandbox, "json_query", json!({"path": 3})).await.expect_err("bad params");
    assert!(matches!(failure.error, SandboxError::InvalidParams { .. }), "{failure}");
    let description = sandbox.description(&super::name("calc")).expect("described");
    assert_eq!(description.parameters_schema["required"], json!(["expression"]));
}
