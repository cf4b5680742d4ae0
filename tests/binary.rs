//! The real binary: help, config commands, exit codes, start-up errors, status, signals, no leaked secrets.

use std::os::unix::fs::PermissionsExt;
use std::time::Duration;

use nix::sys::signal::Signal;

use crate::support::process::{Running, Sandbox, http_get, text, write_file};

#[test]
fn help_lists_commands_and_exit_codes_and_each_subcommand_has_an_example() {
    let sandbox = Sandbox::new();
    let output = sandbox.run(&["--help"]);
    assert!(output.status.success());
    let help = text(&output.stdout);
    for word in ["run", "status", "config", "completions", "Exit codes", "--log-format"] {
        assert!(help.contains(word), "--help lacks {word}:\n{help}");
    }
    for sub in [
        &["run", "--help"][..],
        &["status", "--help"],
        &["config", "show", "--help"],
        &["config", "check", "--help"],
        &["completions", "--help"],
    ] {
        let output = sandbox.run(sub);
        assert!(output.status.success(), "{sub:?}");
        assert!(text(&output.stdout).contains("Example"), "{sub:?} --help has no example");
    }
    let version = sandbox.run(&["--version"]);
    assert!(text(&version.stdout).starts_with("chitin "), "{}", text(&version.stdout));
}

#[test]
fn config_check_on_a_broken_file_exits_2_with_the_problem() {
    let sandbox = Sandbox::new();
    let file = sandbox.path("broken.toml");
    write_file(&file, "[agent]\nidle_secs = \"soon\"\n");
    let output = sandbox.run(&["--config", file.to_str().expect("utf-8"), "config", "check"]);
    assert_eq!(output.status.code(), Some(2));
    let stderr = text(&output.stderr);
    assert!(stderr.contains("agent.idle_secs") && stderr.contains("broken.toml"), "{stderr}");
}

#[test]
fn invalid_config_starts_nothing() {
    let sandbox = Sandbox::new().env("CHITIN_SHUTDOWN__GRACE", "3");
    let output = sandbox.run(&["run", "--no-repl"]);
    assert_eq!(output.status.code(), Some(2), "{}", text(&output.stderr));
    assert!(text(&output.stderr).contains("shutdown.grace"), "{}", text(&output.stderr));
    assert!(!sandbox.data_dir().exists(), "nothing may be created when the config is invalid");
}

#[test]
fn config_show_prints_effective_values_with_credentials_redacted() {
    let sandbox = Sandbox::new().env("CHITIN_LLM__API_KEY", "sk-planted-show-999").env("CHITIN_LLM__MODEL", "m-1");
    let output = sandbox.run(&["config", "show"]);
    assert!(output.status.success(), "{}", text(&output.stderr));
    let shown = text(&output.stdout);
    assert!(shown.contains("model = \"m-1\""), "{shown}");
    assert!(shown.contains("<redacted>") && !shown.contains("planted-show"), "{shown}");
}

#[test]
fn completions_are_generated() {
    let output = Sandbox::new().run(&["completions", "bash"]);
    assert!(output.status.success());
    assert!(text(&output.stdout).contains("_chitin"), "not a bash completion script");
}

#[test]
fn status_without_an_instance_exits_3() {
    let output = Sandbox::new().run(&["status"]);
    assert_eq!(output.status.code(), Some(3));
    assert!(text(&output.stderr).contains("chitin run"), "{}", text(&output.stderr));
}

#[test]
fn run_serves_health_and_status_then_exits_0_on_sigterm_without_logging_secrets() {
    let planted = "sk-planted-log-secret-4242";
    let sandbox = Sandbox::new().env("CHITIN_LLM__API_KEY", planted).env("CHITIN_SHUTDOWN__GRACE_SECS", "5");
    let mut running = sandbox.start(&["-vv", "--log-format", "json"]);

    assert_eq!(http_get(running.port, "/healthz"), Some((200, "ok\n".into())));
    let status = sandbox.run(&["status"]);
    assert!(status.status.success(), "{}", text(&status.stderr));
    let tree = text(&status.stdout);
    for actor in [
        "storage",
        "channels",
        "sessions",
        "jobs",
        "job-worker-0",
        "sandbox",
        "memory-indexer",
        "memory-vector-indexer",
        "scheduler",
        "repairer",
    ] {
        assert!(tree.contains(actor), "status lacks {actor}:\n{tree}");
    }
    let json = sandbox.run(&["status", "--json"]);
    let parsed: serde_json::Value = serde_json::from_slice(&json.stdout).expect("status --json is JSON");
    assert_eq!(parsed["state"], "running");
    assert_eq!(parsed["children"].as_array().map(Vec::len), Some(9), "eight actors and storage");
    assert_eq!(parsed["children"][0]["name"], "storage");

    let mode = std::fs::metadata(sandbox.data_dir()).expect("data dir created").permissions().mode() & 0o777;
    assert_eq!(mode, 0o700);

    running.signal(Signal::SIGTERM);
    let output = running.wait_exit(Duration::from_secs(5 + 5)).expect("exits within the grace period");
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    let logs = text(&output.stderr) + &text(&output.stdout);
    assert!(logs.contains("stopped cleanly"), "{logs}");
    assert!(logs.contains("\"level\""), "--log-format json must print JSON lines");
    assert!(!logs.contains(planted), "a secret reached the logs");
}

#[test]
fn sigint_also_stops_cleanly() {
    let sandbox = Sandbox::new();
    let mut running = sandbox.start(&[]);
    running.signal(Signal::SIGINT);
    let output = running.wait_exit(Duration::from_secs(15)).expect("exits");
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
}

#[test]
fn a_taken_port_is_named_with_the_key_that_sets_it() {
    let blocker = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = blocker.local_addr().expect("addr").port();
    let sandbox = Sandbox::new().env("CHITIN_GATEWAY__BIND", &format!("127.0.0.1:{port}"));
    let output = sandbox.run(&["run", "--no-repl"]);
    assert_eq!(output.status.code(), Some(1));
    let stderr = text(&output.stderr);
    assert!(stderr.contains(&port.to_string()) && stderr.contains("gateway.bind"), "{stderr}");
}

#[test]
fn db_commands_migrate_report_back_up_and_export() {
    let sandbox = Sandbox::new();
    let status = sandbox.run(&["db", "status"]);
    assert!(status.status.success(), "{}", text(&status.stderr));
    assert!(text(&status.stdout).lines().all(|line| line.contains("pending")), "{}", text(&status.stdout));

    let migrate = sandbox.run(&["db", "migrate"]);
    let shipped = std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/migrations/sqlite")).expect("dir").count();
    let applied = format!("applied {shipped} migration(s)");
    assert!(text(&migrate.stdout).contains(&applied), "{}", text(&migrate.stderr));
    let status = text(&sandbox.run(&["db", "status"]).stdout);
    assert!(status.lines().count() >= 2 && status.lines().all(|line| line.contains("applied")), "{status}");

    let backup = sandbox.path("backup.db");
    let done = sandbox.run(&["db", "backup", backup.to_str().expect("utf-8")]);
    assert!(done.status.success(), "{}", text(&done.stderr));
    let bytes = std::fs::read(&backup).expect("backup written");
    assert!(!bytes.starts_with(b"SQLite format 3"), "the backup stays encrypted");

    let verify = sandbox.run(&["audit", "verify"]);
    assert!(text(&verify.stdout).contains("audit chain intact: 0 entries"), "{}", text(&verify.stderr));
    let bad_since = sandbox.run(&["audit", "list", "--since", "yesterday"]);
    assert!(!bad_since.status.success() && text(&bad_since.stderr).contains("RFC 3339"));

    let export = sandbox.run(&["export", "--conversations"]);
    assert!(export.status.success(), "{}", text(&export.stderr));
    let missing = sandbox.run(&["export"]);
    assert_eq!(missing.status.code(), Some(2), "one of --conversations / --memory is required");
}

#[test]
fn secrets_are_stored_encrypted_listed_without_values_and_removed() {
    let sandbox = Sandbox::new();
    let mut set = sandbox.command(&["secret", "set", "openai", "--stdin"]);
    set.stdin(std::process::Stdio::piped()).stdout(std::process::Stdio::piped()).stderr(std::process::Stdio::piped());
    let mut child = set.spawn().expect("spawn");
    std::io::Write::write_all(child.stdin.as_mut().expect("stdin"), b"sk-planted-stored-7777\n").expect("write");
    let output = child.wait_with_output().expect("output");
    assert!(output.status.success(), "{}", text(&output.stderr));

    let listed = sandbox.run(&["secret", "list"]);
    let list = text(&listed.stdout);
    assert!(list.starts_with("openai\t"), "{list}");
    assert!(!list.contains("7777"), "values are never listed");
    let db = std::fs::read(sandbox.data_dir().join("chitin.db")).expect("database file");
    assert!(!db.windows(4).any(|w| w == b"7777"), "the database file holds no plaintext");

    assert!(sandbox.run(&["secret", "remove", "openai"]).status.success());
    let again = sandbox.run(&["secret", "remove", "openai"]);
    assert!(!again.status.success() && text(&again.stderr).contains("no secret named openai"));
}

/// Six commands started at once on a new data directory all open the same database: one creates the master key
/// and runs the migrations, the others wait for them instead of failing on "table already exists" or reading a
/// half-written key file.
#[test]
fn commands_started_together_on_a_new_data_dir_all_open_it() {
    for round in 0..3 {
        let sandbox = Sandbox::new();
        let children: Vec<_> = (0..6)
            .map(|_| {
                sandbox
                    .command(&["secret", "list"])
                    .stdout(std::process::Stdio::piped())
                    .stderr(std::process::Stdio::piped())
                    .spawn()
                    .expect("spawn chitin")
            })
            .collect();
        for child in children {
            let output = child.wait_with_output().expect("wait");
            assert!(output.status.success(), "round {round}: {}", text(&output.stderr));
        }
    }
}

/// A second `chitin run` on the same SQLite database stops at start and says why; other commands still work, and
/// the database is free again once the first instance is gone.
#[test]
fn a_second_run_on_the_same_database_is_refused() {
    let sandbox = Sandbox::new();
    let mut running = sandbox.start(&[]);
    let other_port = std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).expect("port").port();
    let mut command = sandbox.command(&["run", "--no-repl"]);
    command.env("CHITIN_GATEWAY__BIND", format!("127.0.0.1:{other_port}"));
    // Bounded: a second instance that is not refused would otherwise serve until killed.
    let second = Running::spawn(&mut command, other_port).wait_exit(Duration::from_secs(30));
    let second = second.expect("the second run stops on its own instead of serving beside the first");
    assert_eq!(second.status.code(), Some(1));
    let stderr = text(&second.stderr);
    assert!(stderr.contains("already serving") && stderr.contains("chitin.db"), "{stderr}");
    assert!(sandbox.run(&["secret", "list"]).status.success(), "other commands are not locked out");

    running.signal(Signal::SIGTERM);
    running.wait_exit(Duration::from_secs(15)).expect("first exits");
    let mut again = sandbox.start(&[]);
    again.signal(Signal::SIGTERM);
    let output = again.wait_exit(Duration::from_secs(15)).expect("exits");
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
}

/// mimalloc's settings are applied before it starts (its own report, `MIMALLOC_VERBOSE=1`, lists them), and an
/// operator's `MIMALLOC_*` value for one of them wins.
#[test]
fn the_allocator_starts_with_chitins_settings_unless_the_environment_sets_them() {
    let sandbox = Sandbox::new();
    let option = |output: &std::process::Output, name: &str| {
        let report = text(&output.stderr);
        report
            .lines()
            .find_map(|line| line.split_once(&format!("option '{name}': ")).map(|(_, value)| value.trim().to_string()))
            .unwrap_or_else(|| panic!("no {name} in mimalloc's report:\n{report}"))
    };
    let defaults = sandbox.command(&["--version"]).env("MIMALLOC_VERBOSE", "1").output().expect("run chitin");
    assert!(defaults.status.success());
    assert_eq!(option(&defaults, "arena_eager_commit"), "0");
    assert_eq!(option(&defaults, "purge_delay"), "0");

    let chosen = sandbox
        .command(&["--version"])
        .env("MIMALLOC_VERBOSE", "1")
        .env("MIMALLOC_PURGE_DELAY", "250")
        .output()
        .expect("run chitin");
    assert_eq!(option(&chosen, "purge_delay"), "250", "the operator's value wins");
    assert_eq!(option(&chosen, "arena_eager_commit"), "0");
}

/// The binary's relative relocations are packed (`build.rs`): the loader's table is a few KB instead of the 3 MB
/// that stayed resident for the life of the process, and the binary still starts.
#[test]
fn the_binary_packs_its_relative_relocations_and_still_starts() {
    use object::elf::{DT_RELA, DT_RELASZ, DT_RELR, FileHeader64, PT_DYNAMIC};
    use object::read::elf::{Dyn, FileHeader, ProgramHeader};

    let data = std::fs::read(env!("CARGO_BIN_EXE_chitin")).expect("read the chitin binary");
    let header = FileHeader64::<object::Endianness>::parse(&*data).expect("an ELF64 file");
    let endian = header.endian().expect("endianness");
    let dynamic = header
        .program_headers(endian, &*data)
        .expect("program headers")
        .iter()
        .find(|segment| segment.p_type(endian) == PT_DYNAMIC)
        .and_then(|segment| segment.dynamic(endian, &*data).transpose())
        .expect("a dynamic segment")
        .expect("readable dynamic entries");
    let value = |tag: i64| dynamic.iter().find(|entry| entry.d_tag(endian) == tag).map(|entry| entry.d_val(endian));
    assert!(value(DT_RELR).is_some(), "no DT_RELR: build.rs did not pack the relative relocations");
    if value(DT_RELA).is_some() {
        let rela_bytes = value(DT_RELASZ).expect("DT_RELASZ beside DT_RELA");
        assert!(rela_bytes < 64 * 1024, "{rela_bytes} bytes of RELA relocations remain");
    }
    let output = Sandbox::new().run(&["--version"]);
    assert!(output.status.success(), "{}", text(&output.stderr));
}
