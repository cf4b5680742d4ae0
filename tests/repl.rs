//! The REPL of the real binary, driven through piped stdin against the fake model.

use std::process::Stdio;
use std::time::Duration;

use tokio::io::AsyncWriteExt;

use crate::support::fake_llm::{Answer, Reply};
use crate::support::fake_openai;
use crate::support::process::{Sandbox, text};

#[tokio::test]
async fn the_repl_answers_streams_and_quits() {
    let fake = fake_openai::start().await;
    fake.push(Reply::Answer(Answer::text("Hi! I am Chitin.").delta_chars(2)));
    fake.push(Reply::Answer(Answer::text("Fresh start.")));
    let sandbox = Sandbox::new()
        .env("CHITIN_LLM__BASE_URL", &fake.base_url())
        .env("CHITIN_LLM__API_KEY", "sk-test")
        .env("CHITIN_LLM__MODEL", "test-model");
    let mut command = tokio::process::Command::from(sandbox.command(&["-q", "run"]));
    command.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut child = command.spawn().expect("spawn chitin");
    let mut stdin = child.stdin.take().expect("stdin");
    stdin.write_all(b"hello\n/new\nanother\n/help\n/quit\n").await.expect("write");
    drop(stdin);
    let output =
        tokio::time::timeout(Duration::from_secs(60), child.wait_with_output()).await.expect("exits").expect("output");
    let stdout = text(&output.stdout);
    assert_eq!(output.status.code(), Some(0), "{stdout}\n{}", text(&output.stderr));
    assert!(stdout.contains("chitin> Hi! I am Chitin."), "{stdout}");
    assert!(stdout.contains("(new conversation)") && stdout.contains("chitin> Fresh start."), "{stdout}");
    assert!(stdout.contains("/quit  stop Chitin"), "help is shown: {stdout}");
    let requests = fake.requests();
    assert_eq!(requests.len(), 2);
    let second_users: Vec<&str> = requests[1].body["messages"]
        .as_array()
        .expect("messages")
        .iter()
        .filter(|m| m["role"] == "user")
        .filter_map(|m| m["content"].as_str())
        .collect();
    assert_eq!(second_users, vec!["another"], "/new starts a conversation without the old history");
}

/// SIGTERM waits for the turn in flight (within the grace period); a second signal exits at once.
#[tokio::test]
async fn shutdown_drains_in_flight_work_and_a_second_signal_cuts_it_short() {
    let fake = fake_openai::start().await;
    fake.push(Reply::Slow { delay: Duration::from_secs(30), then: Box::new(Reply::Answer(Answer::text("late"))) });
    let sandbox = Sandbox::new()
        .env("CHITIN_LLM__BASE_URL", &fake.base_url())
        .env("CHITIN_LLM__API_KEY", "sk-test")
        .env("CHITIN_LLM__MODEL", "test-model")
        .env("CHITIN_SHUTDOWN__GRACE_SECS", "60");
    let mut command = tokio::process::Command::from(sandbox.command(&["-q", "run"]));
    command.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut child = command.spawn().expect("spawn chitin");
    let mut stdin = child.stdin.take().expect("stdin");
    stdin.write_all(b"this turn will be slow\n").await.expect("write");
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while fake.requests().is_empty() {
        assert!(std::time::Instant::now() < deadline, "the turn never reached the model");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let pid = nix::unistd::Pid::from_raw(child.id().expect("pid") as i32);
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM).expect("first signal");
    // Still draining: the slow turn holds the session, and the grace period is long.
    assert!(
        tokio::time::timeout(Duration::from_millis(500), child.wait()).await.is_err(),
        "chitin must wait for the turn in flight"
    );
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM).expect("second signal");
    let status =
        tokio::time::timeout(Duration::from_secs(10), child.wait()).await.expect("exits at once").expect("status");
    assert_eq!(status.code(), Some(130), "a second signal exits without waiting");
    drop(stdin);
}
