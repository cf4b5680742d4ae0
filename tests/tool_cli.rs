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
