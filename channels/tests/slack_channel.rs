//! The Slack channel against a fake Web API and Socket Mode server, and signed Events API requests.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use chitin_actors::health::probe;
use chitin_actors::{ActorState, ChannelKind, ChildSlot};
use chitin_channels::outbound::RateLimits;
use chitin_channels::slack::{SlackArgs, SlackChannel, SlackConfig, SlackMode, SlackMsg, events_router};
use hmac::{Hmac, KeyInit, Mac};
use ractor::{Actor, ActorRef};
use sha2::Sha256;

use crate::support::chat_poll::{eventually, eventually_async};
use crate::support::chat_ports::{MemoryStore, OutboxState};
use crate::support::fake_slack::{FakeSlack, dm, event_callback, mention};

const WAIT: Duration = Duration::from_secs(20);
const SIGNING_SECRET: &str = "8f742231b10e8888abcd99yyyzzz85a5";

fn config(fake: &FakeSlack, mode: SlackMode) -> SlackConfig {
    SlackConfig {
        enabled: true,
        mode,
        bot_token: "xoxb-test".into(),
        app_token: "xapp-test".into(),
        signing_secret: SIGNING_SECRET.into(),
        api_url: fake.api_url.clone(),
        allowed_users: vec!["U1".into(), "U2".into()],
        rate_limits: RateLimits { global_per_second: 1_000.0, per_chat_per_second: 500.0, per_group_per_minute: 0.0 },
        retry_initial_ms: 20,
        retry_max_ms: 200,
        socket_reconnect_secs: 1,
        ..SlackConfig::default()
    }
}

async fn start(config: SlackConfig, store: &Arc<MemoryStore>) -> ActorRef<SlackMsg> {
    let (channel, _) = Actor::spawn(None, SlackChannel, SlackArgs { config, ports: store.ports() })
        .await
        .expect("slack channel starts");
    channel
}

/// A Slack channel in Events mode behind its router on 127.0.0.1; returns the actor and the events URL.
async fn start_events(fake: &FakeSlack, store: &Arc<MemoryStore>) -> (ActorRef<SlackMsg>, String) {
    let config = config(fake, SlackMode::Events);
    let slot = ChildSlot::new();
    let router = events_router(&config, slot.clone());
    let channel = start(config, store).await;
    slot.set(channel.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind gateway");
    let addr = listener.local_addr().expect("gateway address");
    tokio::spawn(async move { axum::serve(listener, router).await });
    (channel, format!("http://{addr}/slack/events"))
}

fn now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|elapsed| elapsed.as_secs()).unwrap_or_default()
}

fn signature(secret: &str, timestamp: u64, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("any key length");
    mac.update(format!("v0:{timestamp}:").as_bytes());
    mac.update(body);
    format!("v0={}", hex::encode(mac.finalize().into_bytes()))
}

/// POSTs `body` as Slack would, signed with `secret` at `timestamp`; returns status and body.
async fn post_event(url: &str, body: &[u8], timestamp: u64, secret: &str, retry: Option<u32>) -> (u16, String) {
    let mut request = reqwest::Client::new()
        .post(url)
        .header("content-type", "application/json")
        .header("x-slack-request-timestamp", timestamp.to_string())
        .header("x-slack-signature", signature(secret, timestamp, body))
        .body(body.to_vec());
    if let Some(retry) = retry {
        request = request.header("x-slack-retry-num", retry.to_string()).header("x-slack-retry-reason", "http_timeout");
    }
    let response = request.send().await.expect("gateway reachable");
    let status = response.status().as_u16();
    (status, response.text().await.unwrap_or_default())
}

async fn post_signed(url: &str, body: &serde_json::Value) -> (u16, String) {
    post_event(url, body.to_string().as_bytes(), now(), SIGNING_SECRET, None).await
}

#[tokio::test]
async fn signed_events_are_accepted_and_answered_in_the_dm_or_the_thread() {
    let fake = FakeSlack::start().await;
    let store = MemoryStore::with_echo_agent();
    let (channel, url) = start_events(&fake, &store).await;

    let challenge = serde_json::json!({"token": "t", "challenge": "c-123", "type": "url_verification"});
    assert_eq!(post_signed(&url, &challenge).await, (200, "c-123".to_string()));

    let direct = event_callback("Ev1", dm("D1", "U1", "100.1", "**hello** <there>"));
    assert_eq!(post_signed(&url, &direct).await.0, 200);
    let asked = event_callback("Ev2", mention("C1", "U2", "200.2", "status?"));
    assert_eq!(post_signed(&url, &asked).await.0, 200);

    let posted = eventually("two replies", WAIT, || {
        let posted = fake.posted();
        (posted.len() >= 2).then_some(posted)
    })
    .await;
    let to_dm = posted.iter().find(|post| post.channel == "D1").expect("a reply in the DM");
    assert_eq!(to_dm.thread_ts, None);
    assert_eq!(to_dm.text, "echo: *hello* &lt;there&gt;", "mrkdwn bold and escaping");
    let in_thread = posted.iter().find(|post| post.channel == "C1").expect("a reply in the channel");
    assert_eq!(in_thread.thread_ts.as_deref(), Some("200.2"), "a mention is answered in its thread");
    assert_eq!(in_thread.text, "echo: status?");
    channel.stop(None);
}

#[tokio::test]
async fn bad_requests_get_4xx_and_the_service_keeps_working() {
    let fake = FakeSlack::start().await;
    let store = MemoryStore::with_echo_agent();
    let (channel, url) = start_events(&fake, &store).await;
    let body = event_callback("Ev1", dm("D1", "U1", "1.1", "hi")).to_string();

    let (status, _) = post_event(&url, body.as_bytes(), now(), "not-the-secret", None).await;
    assert_eq!(status, 401, "bad signature");
    let (status, _) = post_event(&url, body.as_bytes(), now() - 301, SIGNING_SECRET, None).await;
    assert_eq!(status, 401, "stale timestamp");
    let (status, _) = post_event(&url, b"{\"type\": \"event_callback\", ", now(), SIGNING_SECRET, None).await;
    assert_eq!(status, 400, "malformed JSON");
    let huge = vec![b'x'; 2 * 1024 * 1024];
    let (status, _) = post_event(&url, &huge, now(), SIGNING_SECRET, None).await;
    assert_eq!(status, 413, "2 MB body");
    let unsigned = reqwest::Client::new().post(&url).body(body.clone()).send().await.expect("reachable");
    assert_eq!(unsigned.status().as_u16(), 400, "no timestamp header");
    assert!(store.recorded().is_empty(), "nothing refused was stored");

    assert_eq!(post_event(&url, body.as_bytes(), now(), SIGNING_SECRET, None).await.0, 200);
    let reply = eventually("a reply after the bad requests", WAIT, || fake.posted().into_iter().next()).await;
    assert_eq!(reply.text, "echo: hi");
    channel.stop(None);
}

#[tokio::test]
async fn slack_retries_of_the_same_event_get_one_reply() {
    let fake = FakeSlack::start().await;
    let store = MemoryStore::with_echo_agent();
    let (channel, url) = start_events(&fake, &store).await;
    let body = event_callback("Ev9", dm("D1", "U1", "9.9", "only once")).to_string();
    for retry in [None, Some(1), Some(2)] {
        assert_eq!(post_event(&url, body.as_bytes(), now(), SIGNING_SECRET, retry).await.0, 200);
    }
    eventually("the reply", WAIT, || fake.posted().into_iter().next()).await;
    eventually("the reply marked delivered", WAIT, || {
        store.outbox().iter().all(|row| matches!(row.state, OutboxState::Delivered { .. })).then_some(())
    })
    .await;
    assert_eq!(store.recorded().len(), 1, "retries are recognised as the same message");
    assert_eq!(store.outbox().len(), 1, "so only one reply is owed");
    assert_eq!(fake.posted().len(), 1);
    channel.stop(None);
}

#[tokio::test]
async fn a_rate_limited_post_waits_for_retry_after() {
    let fake = FakeSlack::start().await;
    let store = MemoryStore::new();
    let (channel, _url) = start_events(&fake, &store).await;
    fake.rate_limit_next_posts(1, 1);
    let started = tokio::time::Instant::now();
    let reply = store.push_reply(ChannelKind::Slack, "C7/5.5", "patience", None);
    let posted = eventually("the post", WAIT, || fake.posted().into_iter().next()).await;
    assert!(started.elapsed() >= Duration::from_secs(1), "posted before Retry-After ran out");
    assert_eq!((posted.channel.as_str(), posted.thread_ts.as_deref()), ("C7", Some("5.5")));
    eventually("delivered", WAIT, || matches!(store.row(reply)?.state, OutboxState::Delivered { .. }).then_some(()))
        .await;
    assert_eq!(fake.posted().len(), 1);
    channel.stop(None);
}

#[tokio::test]
async fn a_revoked_bot_token_degrades_the_channel_and_replies_wait() {
    let fake = FakeSlack::start().await;
    let store = MemoryStore::new();
    let (channel, _url) = start_events(&fake, &store).await;
    fake.set_revoked(true);
    let reply = store.push_reply(ChannelKind::Slack, "D1", "hello?", None);
    let report = eventually_async("degraded", WAIT, || async {
        probe(&channel).await.filter(|report| report.state == ActorState::Degraded)
    })
    .await;
    assert!(report.detail.contains("401"), "{}", report.detail);
    fake.set_revoked(false);
    eventually("delivered once the token works", WAIT, || {
        matches!(store.row(reply)?.state, OutboxState::Delivered { .. }).then_some(())
    })
    .await;
    let row = store.row(reply).expect("row");
    assert!(!row.errors.is_empty(), "the failed attempts went back to the outbox");
    assert_eq!(probe(&channel).await.map(|report| report.state), Some(ActorState::Running));
    channel.stop(None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn socket_mode_acks_each_event_and_survives_disconnects_without_losing_or_repeating() {
    let fake = FakeSlack::start().await;
    let store = MemoryStore::with_echo_agent();
    let channel = start(config(&fake, SlackMode::Socket), &store).await;
    eventually("the first connection", WAIT, || (fake.connections_opened() == 1 && fake.socket_open()).then_some(()))
        .await;
    eventually_async("running after hello", WAIT, || async {
        probe(&channel).await.filter(|report| report.state == ActorState::Running)
    })
    .await;

    fake.push_event("env-1", "Ev1", dm("D1", "U1", "1.1", "first"));
    eventually("ack 1", WAIT, || fake.acks().contains(&"env-1".to_string()).then_some(())).await;
    assert_eq!(store.recorded().len(), 1, "recorded before the ack");

    fake.send_disconnect();
    eventually("a reconnect after disconnect", WAIT, || (fake.connections_opened() == 2).then_some(())).await;
    fake.push_event("env-2", "Ev2", dm("D1", "U1", "2.2", "second"));
    eventually("ack 2", WAIT, || fake.acks().contains(&"env-2".to_string()).then_some(())).await;

    fake.drop_connection();
    // Pushed while the socket is down: the fake queues it as Slack does, for the next connection.
    fake.push_event("env-3", "Ev3", dm("D1", "U1", "3.3", "third"));
    eventually("a reconnect after the drop", WAIT, || (fake.connections_opened() >= 3).then_some(())).await;
    eventually("ack 3", WAIT, || fake.acks().contains(&"env-3".to_string()).then_some(())).await;
    // Slack redelivers an envelope it thinks was lost: same message, new envelope.
    fake.push_event("env-2b", "Ev2", dm("D1", "U1", "2.2", "second"));
    eventually("ack of the redelivery", WAIT, || fake.acks().contains(&"env-2b".to_string()).then_some(())).await;

    let posted = eventually("three replies", WAIT, || {
        let posted = fake.posted();
        (posted.len() >= 3).then_some(posted)
    })
    .await;
    let mut texts: Vec<String> = posted.into_iter().map(|post| post.text).collect();
    texts.sort();
    assert_eq!(texts, vec!["echo: first", "echo: second", "echo: third"]);
    assert_eq!(store.recorded().len(), 3, "nothing lost, nothing repeated");
    channel.stop(None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn socket_mode_withholds_the_ack_of_an_event_it_could_not_record() {
    let fake = FakeSlack::start().await;
    let store = MemoryStore::with_echo_agent();
    let channel = start(config(&fake, SlackMode::Socket), &store).await;
    eventually("a connection", WAIT, || fake.socket_open().then_some(())).await;
    store.fail_next_records(1);
    fake.push_event("env-lost", "Ev7", dm("D1", "U1", "7.7", "seven"));
    // Envelopes are handled in order, so once the next one is acked the failed one was handled too.
    fake.push_event("env-next", "Ev8", dm("D1", "U1", "8.8", "eight"));
    eventually("ack of the next event", WAIT, || fake.acks().contains(&"env-next".to_string()).then_some(())).await;
    assert!(!fake.acks().contains(&"env-lost".to_string()), "an unrecorded event must not be acknowledged");
    assert_eq!(
        store.recorded().iter().map(|inbound| inbound.platform_message_id.as_str()).collect::<Vec<_>>(),
        ["8.8"]
    );
    // Slack sends an unacknowledged envelope again; this time it is stored.
    fake.push_event("env-again", "Ev7", dm("D1", "U1", "7.7", "seven"));
    eventually("ack of the redelivery", WAIT, || fake.acks().contains(&"env-again".to_string()).then_some(())).await;
    assert_eq!(store.recorded().len(), 2);
    channel.stop(None);
}
