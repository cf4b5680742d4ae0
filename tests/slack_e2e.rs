//! Slack end to end through the real binary and its store: signed Events API requests on the gateway (and the
//! bad ones refused), Slack's retries answered once, Socket Mode through disconnects and drops.

use std::collections::HashMap;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use hmac::{Hmac, KeyInit, Mac};
use serde_json::{Value, json};
use sha2::Sha256;

use crate::support::fake_llm::{Answer, Reply};
use crate::support::fake_openai;
use crate::support::fake_slack::{FakeSlack, dm, event_callback, mention};
use crate::support::process::Sandbox;

const SIGNING_SECRET: &str = "e2e-signing-secret-0123456789abcdef";

fn sandbox(slack: &FakeSlack, mode: &str, llm_base_url: &str) -> Sandbox {
    Sandbox::new()
        .env("CHITIN_CHANNELS__SLACK__ENABLED", "true")
        .env("CHITIN_CHANNELS__SLACK__MODE", mode)
        .env("CHITIN_CHANNELS__SLACK__BOT_TOKEN", "xoxb-e2e")
        .env("CHITIN_CHANNELS__SLACK__APP_TOKEN", "xapp-e2e")
        .env("CHITIN_CHANNELS__SLACK__SIGNING_SECRET", SIGNING_SECRET)
        .env("CHITIN_CHANNELS__SLACK__API_URL", &slack.api_url)
        .env("CHITIN_CHANNELS__SLACK__ALLOWED_USERS", "U1,U2")
        .env("CHITIN_CHANNELS__SLACK__SOCKET_RECONNECT_SECS", "1")
        .env("CHITIN_CHANNELS__SLACK__RETRY_INITIAL_MS", "50")
        .env("CHITIN_LLM__BASE_URL", llm_base_url)
        .env("CHITIN_LLM__API_KEY", "sk-e2e")
        .env("CHITIN_LLM__MODEL", "e2e-model")
        .env("CHITIN_LLM__MAX_RETRIES", "0")
        // The test never reads stderr while the process runs; a pipe full of info lines would stall it.
        .env("CHITIN_LOG", "warn")
}

fn unix_now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|elapsed| elapsed.as_secs()).unwrap_or_default()
}

/// POSTs `body` to the binary's `/slack/events` signed with `secret` at `timestamp`, as Slack does.
async fn post_event(port: u16, body: &[u8], timestamp: u64, secret: &str, retry: Option<u32>) -> (u16, String) {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("any key length");
    mac.update(format!("v0:{timestamp}:").as_bytes());
    mac.update(body);
    let signature = format!("v0={}", hex::encode(mac.finalize().into_bytes()));
    let mut request = reqwest::Client::new()
        .post(format!("http://127.0.0.1:{port}/slack/events"))
        .header("content-type", "application/json")
        .header("x-slack-request-timestamp", timestamp.to_string())
        .header("x-slack-signature", signature)
        .body(body.to_vec());
    if let Some(retry) = retry {
        request = request.header("x-slack-retry-num", retry.to_string()).header("x-slack-retry-reason", "http_timeout");
    }
    let response = request.send().await.expect("the gateway answers");
    let status = response.status().as_u16();
    (status, response.text().await.unwrap_or_default())
}

async fn post_signed(port: u16, body: &Value, retry: Option<u32>) -> u16 {
    post_event(port, body.to_string().as_bytes(), unix_now(), SIGNING_SECRET, retry).await.0
}

async fn wait_until(what: &str, limit: Duration, mut condition: impl FnMut() -> bool) {
    let deadline = Instant::now() + limit;
    while !condition() {
        assert!(Instant::now() < deadline, "timed out after {limit:?} waiting for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// How many replies each posted text got, to find repeats.
fn counts(slack: &FakeSlack) -> HashMap<String, usize> {
    let mut counts = HashMap::new();
    for post in slack.posted() {
        *counts.entry(post.text).or_default() += 1;
    }
    counts
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signed_events_are_answered_once_and_bad_requests_are_refused() {
    let slack = FakeSlack::start().await;
    let llm = fake_openai::start().await;
    llm.push(Reply::Answer(Answer::text("Hello from **Chitin**")));
    llm.push(Reply::Answer(Answer::text("All systems normal")));
    llm.push(Reply::Answer(Answer::text("Still here")));
    let sandbox = sandbox(&slack, "events", &llm.base_url());
    let chitin = tokio::task::block_in_place(|| sandbox.start(&[]));
    let port = chitin.port;

    let challenge = json!({"token": "t", "challenge": "c-e2e", "type": "url_verification"});
    let body = challenge.to_string();
    assert_eq!(post_event(port, body.as_bytes(), unix_now(), SIGNING_SECRET, None).await, (200, "c-e2e".into()));

    // A DM, then Slack retrying it twice (it did not see our 200 in time): one stored message, one reply.
    let direct = event_callback("EvE1", dm("D1", "U1", "100.1", "hi there"));
    for retry in [None, Some(1), Some(2)] {
        assert_eq!(post_signed(port, &direct, retry).await, 200);
    }
    wait_until("the DM's reply", Duration::from_secs(60), || !slack.posted().is_empty()).await;
    let asked = event_callback("EvE2", mention("C1", "U2", "200.2", "status?"));
    assert_eq!(post_signed(port, &asked, None).await, 200);
    wait_until("two replies", Duration::from_secs(60), || slack.posted().len() >= 2).await;

    let body = event_callback("EvE3", dm("D1", "U1", "300.3", "are you there?")).to_string();
    let refused = [
        (post_event(port, body.as_bytes(), unix_now(), "not-the-secret", None).await.0, 401, "bad signature"),
        (post_event(port, body.as_bytes(), unix_now() - 301, SIGNING_SECRET, None).await.0, 401, "stale timestamp"),
        (
            post_event(port, b"{\"type\": \"event_callback\", ", unix_now(), SIGNING_SECRET, None).await.0,
            400,
            "bad JSON",
        ),
        (post_event(port, &vec![b'x'; 2 * 1024 * 1024], unix_now(), SIGNING_SECRET, None).await.0, 413, "2 MB body"),
    ];
    for (status, expected, what) in refused {
        assert_eq!(status, expected, "{what}");
    }
    // The service keeps working after the bad requests.
    assert_eq!(post_event(port, body.as_bytes(), unix_now(), SIGNING_SECRET, None).await.0, 200);
    wait_until("the third reply", Duration::from_secs(60), || slack.posted().len() >= 3).await;
    tokio::time::sleep(Duration::from_secs(1)).await;

    let posted = slack.posted();
    assert_eq!(posted.len(), 3, "one reply per distinct event: {posted:?}");
    let to_dm = posted.iter().find(|post| post.text == "Hello from *Chitin*").expect("the DM answered in mrkdwn");
    assert_eq!((to_dm.channel.as_str(), to_dm.thread_ts.as_deref()), ("D1", None));
    let in_thread = posted.iter().find(|post| post.text == "All systems normal").expect("the mention answered");
    assert_eq!((in_thread.channel.as_str(), in_thread.thread_ts.as_deref()), ("C1", Some("200.2")));
    assert!(counts(&slack).values().all(|&count| count == 1));

    let prompts: Vec<String> = llm.requests().iter().map(|request| request.body.to_string()).collect();
    assert_eq!(prompts.len(), 3, "one model turn per distinct event");
    assert!(prompts[0].contains("hi there") && prompts[1].contains("status?"), "the model saw the users' words");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn socket_mode_answers_every_event_once_through_disconnects_and_drops() {
    let slack = FakeSlack::start().await;
    let llm = fake_openai::start().await;
    // One more than needed: a fourth turn (a repeat) would show as a fourth post rather than as a 418.
    for _ in 0..4 {
        llm.push(Reply::Answer(Answer::text("noted")));
    }
    let sandbox = sandbox(&slack, "socket", &llm.base_url());
    let _chitin = tokio::task::block_in_place(|| sandbox.start(&[]));
    wait_until("the socket", Duration::from_secs(30), || slack.socket_open()).await;

    slack.push_event("env-1", "EvS1", dm("D9", "U1", "1.1", "first"));
    wait_until("ack 1", Duration::from_secs(30), || slack.acks().contains(&"env-1".to_string())).await;
    slack.send_disconnect();
    wait_until("a reconnect after disconnect", Duration::from_secs(30), || {
        slack.connections_opened() >= 2 && slack.socket_open()
    })
    .await;
    slack.push_event("env-2", "EvS2", dm("D9", "U1", "2.2", "second"));
    wait_until("ack 2", Duration::from_secs(30), || slack.acks().contains(&"env-2".to_string())).await;
    slack.drop_connection();
    // Pushed while the socket is down; the fake queues it for the next connection as Slack does.
    slack.push_event("env-3", "EvS3", dm("D9", "U1", "3.3", "third"));
    wait_until("ack 3 after the drop", Duration::from_secs(30), || slack.acks().contains(&"env-3".to_string())).await;
    // Slack redelivers an envelope it believes lost: the same event in a new envelope.
    slack.push_event("env-2b", "EvS2", dm("D9", "U1", "2.2", "second"));
    wait_until("ack of the redelivery", Duration::from_secs(30), || slack.acks().contains(&"env-2b".to_string())).await;

    wait_until("three replies", Duration::from_secs(60), || slack.posted().len() >= 3).await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let posted = slack.posted();
    assert_eq!(posted.len(), 3, "each of the three messages answered once: {posted:?}");
    assert!(posted.iter().all(|post| post.channel == "D9" && post.text == "noted"));
    let asked: Vec<String> = llm.requests().iter().map(|request| request.body.to_string()).collect();
    assert_eq!(asked.len(), 3, "the redelivered event ran no second turn");
    for word in ["first", "second", "third"] {
        assert!(asked.iter().any(|prompt| prompt.contains(word)), "{word} reached the model");
    }
}
