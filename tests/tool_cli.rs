//! `chitin tool` through the real binary: the fixed output contract, and a hostile tool stopped by its limits.

use std::path::PathBuf;

use crate::support::process::{Sandbox, text, write_file};
use crate::support::sandbox_fixture;

fn component(name: &str) -> PathBuf {
    sandbox_fixture::wasm(name)
}

#[test]
fn install_list_run_and_contain_a_fuel_bomb() {
    let sandbox = Sandbox::new();
    let calc = component("calc");
    let install = sandbox.run(&["tool", "install", calc.to_str().expect("utf-8"), "--yes"]);
    assert!(install.status.success(), "{}", text(&install.stderr));
    assert!(text(&install.stderr).contains("capabilities: none"), "the requested capabilities are shown");

    let listed = sandbox.run(&["tool", "list", "--json"]);
    let entries: serde_json::Value = serde_json::from_slice(&listed.stdout).expect("list --json is JSON");
    let entry = &entries[0];
    assert_eq!(entry["name"], "calc");
    assert_eq!(entry["version"], "0.1.0");
    assert_eq!(entry["hash"].as_str().map(str::len), Some(64));
    assert!(entry["capabilities"].is_array());

    let run = sandbox.run(&["tool", "run", "calc", "--params", r#"{"expression": "2*(3+4)"}"#]);
    assert!(run.status.success(), "{}", text(&run.stderr));
    let result: serde_json::Value = serde_json::from_slice(&run.stdout).expect("result is JSON");
    assert_eq!(result["value"], 14);

    // A hostile tool with a tiny fuel budget: the call fails with the typed error; the install stays usable.
    let manifest = sandbox.path("hostile.toml");
    write_file(&manifest, "name = \"hostile\"\nversion = \"0.1.0\"\n[limits]\nfuel = 1000000\nwall_clock_ms = 5000\n");
    let hostile = component("hostile");
    let install = sandbox.run(&[
        "tool",
        "install",
        hostile.to_str().expect("utf-8"),
        "--manifest",
        manifest.to_str().expect("utf-8"),
        "--yes",
    ]);
    assert!(install.status.success(), "{}", text(&install.stderr));
    let bomb = sandbox.run(&["tool", "run", "hostile", "--params", r#"{"attack": "infinite_loop"}"#]);
    assert!(!bomb.status.success());
    assert!(text(&bomb.stderr).contains("fuel exhausted"), "{}", text(&bomb.stderr));
    assert!(bomb.stdout.is_empty(), "no result on stdout when the call fails");

    let unknown = sandbox.run(&["tool", "run", "nope"]);
    assert!(!unknown.status.success() && text(&unknown.stderr).contains("nope"));
}

/// Stores `value` as secret `name` through `chitin secret set NAME --stdin`.
fn set_secret(sandbox: &Sandbox, name: &str, value: &str) {
    use std::io::Write;
    let mut child = sandbox
        .command(&["secret", "set", name, "--stdin"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn chitin secret set");
    child.stdin.take().expect("stdin").write_all(format!("{value}\n").as_bytes()).expect("write the value");
    let output = child.wait_with_output().expect("chitin secret set");
    assert!(output.status.success(), "{}", text(&output.stderr));
}

fn audit_rows(sandbox: &Sandbox) -> Vec<serde_json::Value> {
    let listed = sandbox.run(&["audit", "list", "--json"]);
    assert!(listed.status.success(), "{}", text(&listed.stderr));
    text(&listed.stdout).lines().map(|line| serde_json::from_str(line).expect("audit row is JSON")).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tool_run_injects_stored_secrets_and_audits_each_refused_capability() {
    const SECRET: &str = "tok-stored-5d8e2f0a91c3";
    let server = crate::support::sandbox_fake_http::FakeHttpServer::start().await;
    let sandbox = Sandbox::new();
    set_secret(&sandbox, "api_token", SECRET);
    let manifest = sandbox.path("http_get.toml");
    write_file(
        &manifest,
        &format!(
            "name = \"http_get\"\nversion = \"0.1.0\"\n[[http]]\nurl = \"http://127.0.0.1:{}/api/\"\nmethods = [\"GET\"]\n\
             [[secrets]]\nname = \"api_token\"\ninject = \"bearer\"\nhosts = [\"127.0.0.1\"]\n",
            server.port
        ),
    );
    let wasm = component("http_get");
    let install = sandbox.run(&[
        "tool",
        "install",
        wasm.to_str().expect("utf-8"),
        "--manifest",
        manifest.to_str().expect("utf-8"),
        "--yes",
    ]);
    assert!(install.status.success(), "{}", text(&install.stderr));

    let params = serde_json::json!({ "url": server.url("/api/weather") }).to_string();
    let run = tokio::task::block_in_place(|| sandbox.run(&["tool", "run", "http_get", "--params", &params]));
    assert!(run.status.success(), "{}", text(&run.stderr));
    let requests = server.requests();
    assert_eq!(requests.len(), 1, "{requests:?}");
    assert_eq!(
        requests[0].header("authorization"),
        Some(format!("Bearer {SECRET}").as_str()),
        "stored secret injected"
    );
    assert!(!text(&run.stdout).contains(SECRET), "the tool never sees the secret");

    // A path outside the grant: refused, and the refusal is its own audit entry.
    let denied = serde_json::json!({ "url": server.url("/admin/keys") }).to_string();
    let refused = tokio::task::block_in_place(|| sandbox.run(&["tool", "run", "http_get", "--params", &denied]));
    assert!(!refused.status.success(), "{}", text(&refused.stdout));
    assert_eq!(server.requests().len(), 1, "the refused request never left the host");
    let rows = tokio::task::block_in_place(|| audit_rows(&sandbox));
    let refusals: Vec<&serde_json::Value> =
        rows.iter().filter(|row| row["action"] == "security.capability_refused").collect();
    assert_eq!(refusals.len(), 1, "{rows:?}");
    assert_eq!(refusals[0]["target"], "http_get");
    assert_eq!(refusals[0]["detail"]["kind"], "denied");
    assert!(refusals[0]["detail"]["requested"].as_str().expect("requested").contains("/admin/keys"), "{rows:?}");
    assert!(!serde_json::to_string(&rows).expect("json").contains(SECRET));
    let verify = tokio::task::block_in_place(|| sandbox.run(&["audit", "verify"]));
    assert!(verify.status.success(), "{}", text(&verify.stderr));

    // After `secret rotate-key` the key file holds a new key and the stored secret still reaches the host.
    let key_file = sandbox.data_dir().join("master.key");
    let old_key = std::fs::read_to_string(&key_file).expect("key file");
    let rotate = tokio::task::block_in_place(|| sandbox.run(&["secret", "rotate-key"]));
    assert!(rotate.status.success(), "{}", text(&rotate.stderr));
    assert!(text(&rotate.stdout).contains("1 secret(s)"), "{}", text(&rotate.stdout));
    let new_key = std::fs::read_to_string(&key_file).expect("key file");
    assert_ne!(old_key, new_key);
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(std::fs::metadata(&key_file).expect("metadata").permissions().mode() & 0o777, 0o600);
    assert!(!text(&rotate.stdout).contains(new_key.trim()), "a key file's key is never printed");
    let run = tokio::task::block_in_place(|| sandbox.run(&["tool", "run", "http_get", "--params", &params]));
    assert!(run.status.success(), "{}", text(&run.stderr));
    let requests = server.requests();
    assert_eq!(requests.last().and_then(|r| r.header("authorization")), Some(format!("Bearer {SECRET}").as_str()));
    let verify = tokio::task::block_in_place(|| sandbox.run(&["audit", "verify"]));
    assert!(verify.status.success(), "the audit log reads under the new key: {}", text(&verify.stderr));
}
