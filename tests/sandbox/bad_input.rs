//! Bad components and bad manifests are rejected with errors that name the cause.

use chitin::sandbox::{Manifest, ManifestError, SandboxError};

use crate::support::sandbox_fixture::{MapSecrets, manifest, new_sandbox, test_config, wasm};

fn manifest_error(text: &str) -> (String, String) {
    match Manifest::parse(text, "bad.toml") {
        Err(ManifestError::Invalid { path, message, .. }) => (path, message),
        other => panic!("expected an invalid manifest, got {other:?}"),
    }
}

#[test]
fn manifest_errors_name_the_field() {
    let base = "name = \"calc\"\nversion = \"1\"\n";
    let (path, message) = manifest_error(&format!("{base}[limits]\nfule = 5\n"));
    assert_eq!(path, "limits.fule");
    assert!(message.contains("unknown field `fule`"), "{message}");
    let (path, message) = manifest_error(&format!("{base}colour = \"red\"\n"));
    assert_eq!(path, "colour");
    assert!(message.contains("unknown field `colour`"), "{message}");
    let (path, message) = manifest_error(&format!(
        "{base}[[http]]\nurl = \"https://ok.example/\"\nmethods = [\"GET\"]\n[[http]]\nurl = \"https://exa mple.com/\"\nmethods = [\"GET\"]\n"
    ));
    assert_eq!(path, "http[1].url");
    assert!(message.contains("not a valid URL pattern"), "{message}");
    let (path, _) = manifest_error(&format!("{base}[[http]]\nurl = \"ftp://files.example/\"\nmethods = [\"GET\"]\n"));
    assert_eq!(path, "http[0].url");
    let (path, _) = manifest_error(&format!("{base}[[http]]\nurl = \"https://a.example/\"\nmethods = [\"FETCH\"]\n"));
    assert_eq!(path, "http[0].methods");
    let (path, message) = manifest_error(&format!(
        "{base}[[http]]\nurl = \"https://a.example/\"\nmethods = [\"GET\"]\n[[secrets]]\nname = \"k\"\ninject = \"bearer\"\nhosts = [\"b.example\"]\n"
    ));
    assert_eq!(path, "secrets[0].hosts");
    assert!(message.contains("b.example"), "{message}");
    let (path, _) = manifest_error(&format!("{base}[limits]\nfuel = 0\n"));
    assert_eq!(path, "limits.fuel");
    let (path, _) = manifest_error(&format!("{base}[limits]\nfuel = \"lots\"\n"));
    assert_eq!(path, "limits.fuel");
    let (path, _) = manifest_error("name = \"Bad Name\"\nversion = \"1\"\n");
    assert_eq!(path, "name");
}

#[test]
fn defaults_grant_nothing_and_limit_everything() {
    let manifest = manifest("calc", "");
    assert!(
        manifest.http.is_empty()
            && manifest.secrets.is_empty()
            && manifest.tools.is_empty()
            && manifest.workspace_read.is_empty()
    );
    assert!(manifest.capabilities().is_empty());
    assert!(manifest.limits.fuel > 0 && manifest.limits.memory_bytes > 0 && manifest.limits.wall_clock_ms > 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn non_components_and_wrong_worlds_are_refused() {
    let sandbox = new_sandbox(test_config(), MapSecrets::with(&[]));
    let dir = tempfile::tempdir().expect("dir");
    let core_module = dir.path().join("core.wasm");
    std::fs::write(&core_module, b"\0asm\x01\0\0\0").expect("write core module");
    let error = sandbox.load_tool(&core_module, manifest("calc", "")).await.expect_err("core module");
    assert!(matches!(error, SandboxError::NotAComponent { .. }), "{error}");
    assert!(error.to_string().contains("not a component"), "{error}");
    let text = dir.path().join("text.wasm");
    std::fs::write(&text, b"hello").expect("write");
    let error = sandbox.load_tool(&text, manifest("calc", "")).await.expect_err("not wasm");
    assert!(matches!(error, SandboxError::NotWasm { .. }), "{error}");
    let error = sandbox.load_tool(&wasm("wrong_world"), manifest("calc", "")).await.expect_err("wrong world");
    assert!(matches!(error, SandboxError::WrongWorld { .. }), "{error}");
    let error = sandbox.load_tool(&wasm("calc"), manifest("json_query", "")).await.expect_err("name mismatch");
    assert!(matches!(error, SandboxError::NameMismatch { ref described, .. } if described == "calc"), "{error}");
    let error = sandbox
        .load_tool(&wasm("calc"), manifest("calc", "[limits]\nmemory_bytes = 100_000_000_000"))
        .await
        .expect_err("above ceiling");
    assert!(
        matches!(&error, SandboxError::Manifest(ManifestError::Invalid { path, .. }) if path == "limits.memory_bytes"),
        "{error}"
    );
    assert_eq!(sandbox.stats().tools_loaded, 0);
}
