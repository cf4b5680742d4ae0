//! A fake Slack on 127.0.0.1: the Web API methods the channel calls (`chat.postMessage`,
//! `apps.connections.open`) and a Socket Mode WebSocket that tests drive (events, `disconnect`, drops).

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use axum::Json;
use axum::Router;
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, post};
use serde_json::{Value, json};
use tokio::sync::mpsc;

#[derive(Debug, Clone, PartialEq)]
pub struct Posted {
    pub channel: String,
    pub thread_ts: Option<String>,
    pub text: String,
    pub ts: String,
}

/// What the test asks of the open socket.
enum SocketCommand {
    Send(String),
    /// Closes the TCP connection without a `disconnect` message, as a network drop would.
    Drop,
}

#[derive(Default)]
struct Inner {
    posted: Vec<Posted>,
    next_ts: u64,
    rate_limit_next: u32,
    retry_after_secs: u32,
    revoked: bool,
    connections_opened: u32,
    socket: Option<mpsc::UnboundedSender<SocketCommand>>,
    acks: Vec<String>,
    /// Events pushed while no socket was open; sent on the next connection, as Slack queues them.
    undelivered: VecDeque<String>,
}

#[derive(Clone)]
pub struct FakeSlack {
    pub api_url: String,
    inner: Arc<Mutex<Inner>>,
}

impl FakeSlack {
    pub async fn start() -> Self {
        let inner = Arc::new(Mutex::new(Inner { next_ts: 1, ..Inner::default() }));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind fake slack");
        let addr = listener.local_addr().expect("fake slack address");
        let fake = Self { api_url: format!("http://{addr}/api"), inner };
        let app =
            Router::new().route("/api/{method}", post(web_api)).route("/socket", any(socket)).with_state(fake.clone());
        tokio::spawn(async move { axum::serve(listener, app).await });
        fake
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    pub fn posted(&self) -> Vec<Posted> {
        self.lock().posted.clone()
    }

    /// The next `count` `chat.postMessage` calls get HTTP 429 with `Retry-After: retry_after_secs`.
    pub fn rate_limit_next_posts(&self, count: u32, retry_after_secs: u32) {
        let mut inner = self.lock();
        inner.rate_limit_next = count;
        inner.retry_after_secs = retry_after_secs;
    }

    pub fn set_revoked(&self, revoked: bool) {
        self.lock().revoked = revoked;
    }

    pub fn connections_opened(&self) -> u32 {
        self.lock().connections_opened
    }

    pub fn socket_open(&self) -> bool {
        self.lock().socket.as_ref().is_some_and(|socket| !socket.is_closed())
    }

    pub fn acks(&self) -> Vec<String> {
        self.lock().acks.clone()
    }

    /// Sends an `events_api` envelope carrying `event` (queued if no socket is open); returns the envelope id.
    pub fn push_event(&self, envelope_id: &str, event_id: &str, event: Value) -> String {
        let frame = json!({
            "envelope_id": envelope_id, "type": "events_api", "accepts_response_payload": false,
            "retry_attempt": 0, "retry_reason": "",
            "payload": event_callback(event_id, event),
        })
        .to_string();
        let mut inner = self.lock();
        let sent = inner.socket.as_ref().is_some_and(|socket| socket.send(SocketCommand::Send(frame.clone())).is_ok());
        if !sent {
            inner.undelivered.push_back(frame);
        }
        envelope_id.to_string()
    }

    /// Asks the client to reconnect, as Slack does every few hours.
    pub fn send_disconnect(&self) {
        let frame = json!({"type": "disconnect", "reason": "refresh_requested",
            "debug_info": {"host": "fake-slack"}})
        .to_string();
        if let Some(socket) = self.lock().socket.as_ref() {
            let _ = socket.send(SocketCommand::Send(frame));
        }
    }

    pub fn drop_connection(&self) {
        if let Some(socket) = self.lock().socket.take() {
            let _ = socket.send(SocketCommand::Drop);
        }
    }
}

/// The `event_callback` body Slack wraps every event in (Events API body, Socket Mode payload).
pub fn event_callback(event_id: &str, event: Value) -> Value {
    json!({"token": "legacy", "team_id": "T1", "api_app_id": "A1", "type": "event_callback",
        "event_id": event_id, "event_time": 1_700_000_000, "event": event})
}

/// A direct message from `user`.
pub fn dm(channel: &str, user: &str, ts: &str, text: &str) -> Value {
    json!({"type": "message", "channel": channel, "channel_type": "im", "user": user, "text": text, "ts": ts})
}

/// A mention of the bot in a channel.
pub fn mention(channel: &str, user: &str, ts: &str, text: &str) -> Value {
    json!({"type": "app_mention", "channel": channel, "user": user, "text": format!("<@UBOT> {text}"), "ts": ts})
}

async fn web_api(
    State(fake): State<FakeSlack>,
    Path(method): Path<String>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    let mut inner = fake.lock();
    let authorized = headers
        .get("authorization")
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| value.starts_with("Bearer xoxb-") || value.starts_with("Bearer xapp-"));
    if inner.revoked || !authorized {
        return Json(json!({"ok": false, "error": "invalid_auth"})).into_response();
    }
    match method.as_str() {
        "apps.connections.open" => {
            let url = fake.api_url.replace("http://", "ws://").replace("/api", "/socket");
            Json(json!({"ok": true, "url": url})).into_response()
        }
        "chat.postMessage" => {
            if inner.rate_limit_next > 0 {
                inner.rate_limit_next -= 1;
                let retry_after = inner.retry_after_secs.to_string();
                return (
                    StatusCode::TOO_MANY_REQUESTS,
                    [("retry-after", retry_after)],
                    Json(json!({"ok": false,
                    "error": "ratelimited"})),
                )
                    .into_response();
            }
            let params: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
            let ts = format!("{}.000100", 1_700_000_000 + inner.next_ts);
            inner.next_ts += 1;
            let posted = Posted {
                channel: params["channel"].as_str().unwrap_or_default().to_string(),
                thread_ts: params["thread_ts"].as_str().map(str::to_string),
                text: params["text"].as_str().unwrap_or_default().to_string(),
                ts: ts.clone(),
            };
            inner.posted.push(posted.clone());
            Json(json!({"ok": true, "channel": posted.channel, "ts": ts,
                "message": {"type": "message", "text": posted.text, "ts": ts, "bot_id": "B1"}}))
            .into_response()
        }
        _ => Json(json!({"ok": true})).into_response(),
    }
}

async fn socket(State(fake): State<FakeSlack>, upgrade: WebSocketUpgrade) -> Response {
    upgrade.on_upgrade(move |socket| serve_socket(fake, socket))
}

async fn serve_socket(fake: FakeSlack, mut socket: WebSocket) {
    let (commands, mut receiver) = mpsc::unbounded_channel();
    let queued: Vec<String> = {
        let mut inner = fake.lock();
        inner.connections_opened += 1;
        inner.socket = Some(commands);
        inner.undelivered.drain(..).collect()
    };
    let hello = json!({"type": "hello", "num_connections": 1, "debug_info": {"host": "fake-slack"},
        "connection_info": {"app_id": "A1"}});
    if socket.send(Message::Text(hello.to_string().into())).await.is_err() {
        return;
    }
    for frame in queued {
        if socket.send(Message::Text(frame.into())).await.is_err() {
            return;
        }
    }
    loop {
        tokio::select! {
            command = receiver.recv() => match command {
                Some(SocketCommand::Send(frame)) => {
                    if socket.send(Message::Text(frame.into())).await.is_err() {
                        return;
                    }
                }
                Some(SocketCommand::Drop) | None => return,
            },
            incoming = socket.recv() => match incoming {
                Some(Ok(Message::Text(text))) => {
                    if let Ok(ack) = serde_json::from_str::<Value>(&text)
                        && let Some(envelope_id) = ack["envelope_id"].as_str()
                    {
                        fake.lock().acks.push(envelope_id.to_string());
                    }
                }
                Some(Ok(_)) => {}
                Some(Err(_)) | None => return,
            },
        }
    }
}
