//! `chitin tool install | list | info | run | remove` as library calls, with a real catalog file.

use std::sync::Mutex;

use chitin::sandbox::{
    Approver, CapabilityRequest, InstallRequest, JsonFileCatalog, SandboxError, tool_info, tool_install, tool_list,
    tool_remove, tool_run,
};
use serde_json::json;

use super::name;
use crate::support::sandbox_fixture::{MapSecrets, new_sandbox, test_config, wasm};

/// Records what it was asked and answers with a fixed decision.
struct RecordingApprover {
    decision: bool,
    asked: Mutex<Vec<CapabilityRequest>>,
}

impl Approver for RecordingApprover {
    fn approve(&self, request: &CapabilityRequest) -> bool {
        self.asked.lock().expect("lock").push(request.clone());
        self.decision
    }
}

fn approver(decision: bool) -> RecordingApprover {
    RecordingApprover { decision, asked: Mutex::new(Vec::new()) }
}

fn staged_tool(dir: &std::path::Path, tool: &str, manifest_body: &str) -> InstallRequest {
    let wasm_path = dir.join(format!("{tool}.wasm"));
    std::fs::copy(wasm(tool), &wasm_path).expect("stage wasm");
    std::fs::write(
        dir.join(format!("{tool}.toml")),
        format!("name = \"{tool}\"\nversion = \"1.2.0\"\n{manifest_body}"),
    )
    .expect("stage manifest");
    InstallRequest { wasm_path, manifest_path: None }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn install_list_info_run_and_remove() {
    let data = tempfile::tempdir().expect("data dir");
    let staging = tempfile::tempdir().expect("staging");
    let sandbox = new_sandbox(test_config(), MapSecrets::with(&[]));
    let catalog = JsonFileCatalog::new(data.path().join("tools.json"));
    let tools_dir = data.path().join("tools");
    let request = staged_tool(
        staging.path(),
        "http_get",
        "[[http]]\nurl = \"https://api.example.com/v1/\"\nmethods = [\"GET\"]\n",
    );
    let yes = approver(true);
    let installed = tool_install(&sandbox, &catalog, &tools_dir, &request, &yes).await.expect("install");
    let asked = yes.asked.lock().expect("lock").clone();
    assert_eq!(asked.len(), 1);
    assert_eq!(asked[0].capabilities, vec!["http GET https://api.example.com:443/v1/".to_string()]);
    assert!(asked[0].description.contains("Fetch"), "{}", asked[0].description);

    let listed = serde_json::to_value(tool_list(&catalog).await.expect("list")).expect("json");
    assert_eq!(
        listed,
        json!([{"name": "http_get", "version": "1.2.0", "hash": installed.hash, "capabilities": ["http GET https://api.example.com:443/v1/"]}])
    );
    let info = tool_info(&catalog, &name("http_get")).await.expect("info");
    assert!(info.approved);
    assert_eq!(info.wasm_path, tools_dir.join("http_get.wasm"));

    // A fresh process (new sandbox, same catalog) runs it with the manifest's grants.
    let fresh = new_sandbox(test_config(), MapSecrets::with(&[]));
    let failure = tool_run(&fresh, &catalog, &name("http_get"), &json!({"url": "https://elsewhere.example/"}))
        .await
        .expect_err("outside the grant");
    assert!(matches!(failure.error, SandboxError::CapabilityDenied { .. }), "{failure}");

    let removed = tool_remove(&sandbox, &catalog, &name("http_get")).await.expect("remove");
    assert_eq!(removed.hash, installed.hash);
    assert!(tool_list(&catalog).await.expect("list").is_empty());
    assert!(!tools_dir.join("http_get.wasm").exists());
    let error = tool_info(&catalog, &name("http_get")).await.expect_err("gone");
    assert!(matches!(error, SandboxError::UnknownTool { .. }), "{error}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_install_stores_nothing() {
    let data = tempfile::tempdir().expect("data dir");
    let staging = tempfile::tempdir().expect("staging");
    let sandbox = new_sandbox(test_config(), MapSecrets::with(&[]));
    let catalog = JsonFileCatalog::new(data.path().join("tools.json"));
    let request = staged_tool(staging.path(), "calc", "");
    let error = tool_install(&sandbox, &catalog, &data.path().join("tools"), &request, &approver(false))
        .await
        .expect_err("refused");
    assert!(matches!(error, SandboxError::NotApproved { .. }), "{error}");
    assert!(tool_list(&catalog).await.expect("list").is_empty());
    assert!(sandbox.description(&name("calc")).is_none(), "a refused tool is not callable");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_changed_binary_needs_approval_again() {
    let data = tempfile::tempdir().expect("data dir");
    let staging = tempfile::tempdir().expect("staging");
    let sandbox = new_sandbox(test_config(), MapSecrets::with(&[]));
    let catalog = JsonFileCatalog::new(data.path().join("tools.json"));
    let tools_dir = data.path().join("tools");
    tool_install(&sandbox, &catalog, &tools_dir, &staged_tool(staging.path(), "calc", ""), &approver(true))
        .await
        .expect("install");
    let outcome = tool_run(&sandbox, &catalog, &name("calc"), &json!({"expression": "2 + 2"})).await.expect("run");
    assert_eq!(outcome.output["value"].as_f64(), Some(4.0));
    // Swap the installed binary behind the catalog's back.
    std::fs::copy(wasm("json_query"), tools_dir.join("calc.wasm")).expect("tamper");
    let failure =
        tool_run(&sandbox, &catalog, &name("calc"), &json!({"expression": "2 + 2"})).await.expect_err("tampered");
    assert!(matches!(failure.error, SandboxError::ChangedSinceApproval { .. }), "{failure}");
    // Reinstalling asks again and names the hash it replaces.
    let again = approver(true);
    let request = staged_tool(staging.path(), "calc", "");
    tool_install(&sandbox, &catalog, &tools_dir, &request, &again).await.expect("reinstall");
    let asked = again.asked.lock().expect("lock").clone();
    assert!(asked[0].replaces_hash.is_some());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bundled_tools_install_with_their_shipped_manifests() {
    let data = tempfile::tempdir().expect("data dir");
    let sandbox = new_sandbox(test_config(), MapSecrets::with(&[]));
    let catalog = JsonFileCatalog::new(data.path().join("tools.json"));
    for tool in ["calc", "json_query", "http_get"] {
        let request = InstallRequest { wasm_path: wasm(tool), manifest_path: None };
        tool_install(&sandbox, &catalog, &data.path().join("tools"), &request, &approver(true))
            .await
            .unwrap_or_else(|error| panic!("install {tool}: {error}"));
    }
    let listed = tool_list(&catalog).await.expect("list");
    let names: Vec<&str> = listed.iter().map(|entry| entry.name.as_str()).collect();
    assert_eq!(names, vec!["calc", "http_get", "json_query"]);
    let http_get = &listed[1];
    assert_eq!(http_get.capabilities, vec!["http GET https://*:443/".to_string()]);
    // The shipped wildcard grant still refuses loopback.
    let failure = tool_run(&sandbox, &catalog, &name("http_get"), &json!({"url": "https://127.0.0.1/"}))
        .await
        .expect_err("loopback");
    assert!(
        matches!(&failure.error, SandboxError::CapabilityDenied { capability, .. } if capability.contains("non-public")),
        "{failure}"
    );
}
