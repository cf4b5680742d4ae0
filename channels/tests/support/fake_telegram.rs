//! A fake Telegram Bot API on 127.0.0.1: queued updates for `getUpdates`, recorded `sendMessage` calls, and
//! switches for 429s and a revoked token. Method names match case-insensitively, as on the real API.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Json;
use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use serde_json::{Value, json};
use tokio::sync::Notify;
use tokio::time::Instant;

pub const BOT_USERNAME: &str = "chitin_bot";

#[derive(Debug, Clone)]
pub struct SentMessage {
    pub chat_id: i64,
    pub message_id: i64,
    pub text: String,
    pub parse_mode: Option<String>,
    pub reply_to: Option<i64>,
    pub at: Instant,
}

/// One `editMessageText` call.
#[derive(Debug, Clone)]
pub struct Edit {
    pub chat_id: i64,
    pub message_id: i64,
    pub text: String,
}

#[derive(Default)]
struct Inner {
    updates: Vec<Value>,
    next_update_id: i64,
    next_message_id: i64,
    sent: Vec<SentMessage>,
    typing: Vec<i64>,
    edits: Vec<Edit>,
    deleted: Vec<(i64, i64)>,
    rejected_with_429: u32,
    rejected_at: Vec<Instant>,
    fail_sends: u32,
    retry_after: u32,
    revoked: bool,
    highest_offset: i64,
    enforced: Option<EnforcedLimits>,
}

/// Telegram's flood limits, enforced on `sendMessage` like the real API does: a send over a limit gets 429 with
/// `retry_after`. Windows are 10 % shorter than a second (a minute), so a sender that spaces its messages at the
/// limit passes despite network jitter, and one that bursts does not.
#[derive(Debug, Clone, Copy)]
pub struct EnforcedLimits {
    pub global_per_second: usize,
    pub per_chat_per_second: usize,
    pub per_group_per_minute: usize,
}

impl EnforcedLimits {
    /// The limits Telegram publishes: 30 messages/s overall, 1/s per chat, 20/min per group.
    #[allow(dead_code)] // the channel tests scale the limits down; benches/telegram.rs uses the real ones
    pub const TELEGRAM: EnforcedLimits =
        EnforcedLimits { global_per_second: 30, per_chat_per_second: 1, per_group_per_minute: 20 };

    /// Why a send to `chat_id` now would break a limit, given the sends accepted so far.
    fn broken(&self, sent: &[SentMessage], chat_id: i64, now: Instant) -> Option<&'static str> {
        let within = |window: Duration, chat: Option<i64>| {
            sent.iter()
                .rev()
                .take_while(|message| now.duration_since(message.at) < window)
                .filter(|message| chat.is_none_or(|chat| message.chat_id == chat))
                .count()
        };
        let second = Duration::from_millis(900);
        if within(second, None) >= self.global_per_second {
            return Some("global");
        }
        if within(second, Some(chat_id)) >= self.per_chat_per_second {
            return Some("chat");
        }
        if chat_id < 0 && within(Duration::from_secs(54), Some(chat_id)) >= self.per_group_per_minute {
            return Some("group");
        }
        None
    }
}

#[derive(Clone)]
pub struct FakeTelegram {
    pub url: String,
    pub token: String,
    inner: Arc<Mutex<Inner>>,
    new_updates: Arc<Notify>,
}

impl FakeTelegram {
    pub async fn start(token: &str) -> Self {
        let fake = Self {
            url: String::new(),
            token: token.to_string(),
            inner: Arc::new(Mutex::new(Inner { next_update_id: 1, next_message_id: 1000, ..Inner::default() })),
            new_updates: Arc::new(Notify::new()),
        };
        let app = Router::new().route("/{bot}/{method}", post(handle)).with_state(fake.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind fake telegram");
        let addr = listener.local_addr().expect("fake telegram address");
        tokio::spawn(async move { axum::serve(listener, app).await });
        Self { url: format!("http://{addr}/"), ..fake }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Queues a text message from `user_id` in `chat_id` (negative: a group); returns its message id.
    pub fn push_text(&self, chat_id: i64, user_id: u64, text: &str) -> i64 {
        self.push_message(chat_id, user_id, json!({ "text": text }))
    }

    /// Queues a sticker: content the channel cannot read.
    pub fn push_sticker(&self, chat_id: i64, user_id: u64) -> i64 {
        let sticker = json!({"sticker": {"file_id": "f", "file_unique_id": "u", "type": "regular", "width": 512,
            "height": 512, "is_animated": false, "is_video": false}});
        self.push_message(chat_id, user_id, sticker)
    }

    /// Queues a 50 MB document, over the Bot API's 20 MB download limit.
    pub fn push_large_file(&self, chat_id: i64, user_id: u64) -> i64 {
        let document = json!({"document": {"file_id": "f", "file_unique_id": "u", "file_name": "big.iso",
            "file_size": 50_000_000}});
        self.push_message(chat_id, user_id, document)
    }

    fn push_message(&self, chat_id: i64, user_id: u64, content: Value) -> i64 {
        let message_id = {
            let mut inner = self.lock();
            inner.next_message_id += 1;
            let message_id = inner.next_message_id;
            let update_id = inner.next_update_id;
            inner.next_update_id += 1;
            let mut message = json!({
                "message_id": message_id, "date": 1_700_000_000, "chat": chat(chat_id),
                "from": {"id": user_id, "is_bot": false, "first_name": format!("user{user_id}")},
            });
            if let (Some(message), Some(content)) = (message.as_object_mut(), content.as_object()) {
                message.extend(content.clone());
            }
            inner.updates.push(json!({"update_id": update_id, "message": message}));
            message_id
        };
        self.new_updates.notify_waiters();
        message_id
    }

    /// Numbers the next sent message `first`: fakes standing in for one bot (one per node) get disjoint ranges,
    /// as the one real API would never hand out a message id twice in a chat. Used by the root crate's tests
    /// (`tests/jobs/outbox_nodes.rs`), not by this crate's.
    #[allow(dead_code)]
    pub fn number_messages_from(&self, first: i64) {
        self.lock().next_message_id = first - 1;
    }

    pub fn sent(&self) -> Vec<SentMessage> {
        self.lock().sent.clone()
    }

    pub fn sent_to(&self, chat_id: i64) -> Vec<SentMessage> {
        self.sent().into_iter().filter(|sent| sent.chat_id == chat_id).collect()
    }

    pub fn edits(&self) -> Vec<Edit> {
        self.lock().edits.clone()
    }

    pub fn deleted(&self) -> Vec<(i64, i64)> {
        self.lock().deleted.clone()
    }

    pub fn typing_shown_in(&self, chat_id: i64) -> bool {
        self.lock().typing.contains(&chat_id)
    }

    /// The next `count` `sendMessage` calls get a 429 asking to wait `retry_after` seconds.
    pub fn rate_limit_next_sends(&self, count: u32, retry_after: u32) {
        let mut inner = self.lock();
        inner.fail_sends = count;
        inner.retry_after = retry_after;
    }

    /// From now on, sends over `limits` get 429 with `retry_after`, as Telegram's flood control does.
    pub fn enforce_limits(&self, limits: EnforcedLimits) {
        self.lock().enforced = Some(limits);
    }

    pub fn rejected_with_429(&self) -> u32 {
        self.lock().rejected_with_429
    }

    /// When each 429 was answered.
    pub fn rejected_at(&self) -> Vec<Instant> {
        self.lock().rejected_at.clone()
    }

    /// Every call gets 401 Unauthorized while set, as after the token was revoked in @BotFather.
    pub fn set_revoked(&self, revoked: bool) {
        self.lock().revoked = revoked;
    }

    /// The highest offset a `getUpdates` call confirmed (every update below it is acknowledged).
    pub fn confirmed_offset(&self) -> i64 {
        self.lock().highest_offset
    }
}

fn chat(chat_id: i64) -> Value {
    if chat_id < 0 {
        json!({"id": chat_id, "type": "group", "title": "a group"})
    } else {
        json!({"id": chat_id, "type": "private", "first_name": format!("user{chat_id}")})
    }
}

fn ok(result: Value) -> Response {
    Json(json!({"ok": true, "result": result})).into_response()
}

fn api_error(status: StatusCode, description: &str, parameters: Option<Value>) -> Response {
    let mut body = json!({"ok": false, "error_code": status.as_u16(), "description": description});
    if let (Some(body), Some(parameters)) = (body.as_object_mut(), parameters) {
        body.insert("parameters".into(), parameters);
    }
    (status, Json(body)).into_response()
}

async fn handle(
    State(fake): State<FakeTelegram>,
    Path((bot, method)): Path<(String, String)>,
    body: axum::body::Bytes,
) -> Response {
    if bot != format!("bot{}", fake.token) {
        return api_error(StatusCode::NOT_FOUND, "Not Found", None);
    }
    if fake.lock().revoked {
        return api_error(StatusCode::UNAUTHORIZED, "Unauthorized", None);
    }
    let params: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    match method.to_ascii_lowercase().as_str() {
        "getme" => ok(json!({"id": 999, "is_bot": true, "first_name": "Chitin", "username": BOT_USERNAME,
            "can_join_groups": true, "can_read_all_group_messages": false, "supports_inline_queries": false,
            "has_main_web_app": false})),
        "getupdates" => get_updates(&fake, &params).await,
        "sendmessage" => send_message(&fake, &params),
        "sendchataction" => {
            fake.lock().typing.push(params["chat_id"].as_i64().unwrap_or_default());
            ok(json!(true))
        }
        "editmessagetext" => edit_message(&fake, &params),
        "deletemessage" => {
            let chat_id = params["chat_id"].as_i64().unwrap_or_default();
            fake.lock().deleted.push((chat_id, params["message_id"].as_i64().unwrap_or_default()));
            ok(json!(true))
        }
        _ => ok(json!(true)),
    }
}

fn edit_message(fake: &FakeTelegram, params: &Value) -> Response {
    let mut inner = fake.lock();
    let chat_id = params["chat_id"].as_i64().unwrap_or_default();
    let message_id = params["message_id"].as_i64().unwrap_or_default();
    if !inner.sent.iter().any(|sent| sent.chat_id == chat_id && sent.message_id == message_id) {
        return api_error(StatusCode::BAD_REQUEST, "Bad Request: message to edit not found", None);
    }
    let text = params["text"].as_str().unwrap_or_default().to_string();
    inner.edits.push(Edit { chat_id, message_id, text: text.clone() });
    ok(json!({"message_id": message_id, "date": 1_700_000_001, "chat": chat(chat_id), "text": text,
        "edit_date": 1_700_000_002, "from": {"id": 999, "is_bot": true, "first_name": "Chitin"}}))
}

async fn get_updates(fake: &FakeTelegram, params: &Value) -> Response {
    let offset = params["offset"].as_i64().unwrap_or(0);
    let timeout = Duration::from_secs(params["timeout"].as_u64().unwrap_or(0));
    let deadline = Instant::now() + timeout;
    loop {
        let notified = fake.new_updates.notified();
        {
            let mut inner = fake.lock();
            inner.highest_offset = inner.highest_offset.max(offset);
            let pending: Vec<Value> =
                inner.updates.iter().filter(|update| update["update_id"].as_i64() >= Some(offset)).cloned().collect();
            if !pending.is_empty() || Instant::now() >= deadline {
                return ok(Value::Array(pending.into_iter().take(100).collect()));
            }
        }
        let _ = tokio::time::timeout_at(deadline, notified).await;
    }
}

fn send_message(fake: &FakeTelegram, params: &Value) -> Response {
    let mut inner = fake.lock();
    if inner.fail_sends > 0 {
        inner.fail_sends -= 1;
        inner.rejected_with_429 += 1;
        inner.rejected_at.push(Instant::now());
        let retry_after = inner.retry_after;
        let description = format!("Too Many Requests: retry after {retry_after}");
        return api_error(StatusCode::TOO_MANY_REQUESTS, &description, Some(json!({"retry_after": retry_after})));
    }
    let chat_id = params["chat_id"].as_i64().unwrap_or_default();
    let now = Instant::now();
    if let Some(limit) = inner.enforced.and_then(|limits| limits.broken(&inner.sent, chat_id, now)) {
        inner.rejected_with_429 += 1;
        inner.rejected_at.push(now);
        let retry_after = if limit == "group" { 3 } else { 1 };
        let description = format!("Too Many Requests: retry after {retry_after} ({limit} limit)");
        return api_error(StatusCode::TOO_MANY_REQUESTS, &description, Some(json!({"retry_after": retry_after})));
    }
    let text = params["text"].as_str().unwrap_or_default().to_string();
    if text.encode_utf16().count() > 4096 {
        return api_error(StatusCode::BAD_REQUEST, "Bad Request: message is too long", None);
    }
    inner.next_message_id += 1;
    let message_id = inner.next_message_id;
    inner.sent.push(SentMessage {
        chat_id,
        message_id,
        text: text.clone(),
        parse_mode: params["parse_mode"].as_str().map(str::to_string),
        reply_to: params["reply_parameters"]["message_id"].as_i64(),
        at: now,
    });
    ok(json!({"message_id": message_id, "date": 1_700_000_001, "chat": chat(chat_id), "text": text,
        "from": {"id": 999, "is_bot": true, "first_name": "Chitin", "username": BOT_USERNAME}}))
}
