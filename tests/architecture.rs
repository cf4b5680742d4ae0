//! Architecture rules that the compiler cannot check.

use std::process::Command;

/// Invariant: nothing in `actors/` knows HTTP, SQL or wasmtime.
#[test]
fn the_actor_crate_depends_on_no_io_stack() {
    let output = Command::new(env!("CARGO"))
        .args(["tree", "-p", "chitin-actors", "-e", "normal", "--prefix", "none", "--offline"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("run cargo tree");
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let tree = String::from_utf8_lossy(&output.stdout);
    assert!(tree.contains("ractor"), "cargo tree output looks wrong:\n{tree}");
    for forbidden in ["axum", "hyper", "reqwest", "sqlx", "wasmtime", "teloxide", "slack-morphism"] {
        assert!(
            !tree.lines().any(|line| line.starts_with(&format!("{forbidden} "))),
            "chitin-actors depends on {forbidden}"
        );
    }
}
