//! The OpenAI-compatible API: `POST /v1/chat/completions` (plain and streamed) and `GET /v1/models`, so any OpenAI
//! SDK can talk to Chitin as an agent. The last user message is the turn's input; history is Chitin's own.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use chitin_actors::{ChannelKind, FinalReply, ReplyEvent, ReplySubscription, ReplyUsage};
use futures::stream::Stream;
use serde_json::{Value, json};
use tokio::sync::{broadcast, mpsc};
use tracing::{Instrument, info_span, warn};

use crate::gateway::auth::GatewayAuth;
use crate::ports::{Incoming, Intake};
use crate::webhook::{auth_failure_message, intake_failure};

/// Header that picks the conversation when the `user` field does not.
pub const CONVERSATION_HEADER: &str = "x-chitin-conversation";
/// The single model id Chitin presents.
pub const MODEL_ID: &str = "chitin";
/// Longest a caller waits for a turn.
const TURN_TIMEOUT: Duration = Duration::from_secs(600);
/// How often a waiting caller also checks the store, in case it missed the live event.
const STORE_POLL: Duration = Duration::from_secs(2);
const MAX_BODY_BYTES: usize = 1024 * 1024;

#[derive(Clone)]
struct ApiState {
    intake: Arc<dyn Intake>,
    auth: GatewayAuth,
}

pub fn routes(intake: Arc<dyn Intake>, auth: GatewayAuth) -> Router {
    Router::new()
        .route("/v1/chat/completions", post(chat_completions))
        .route("/v1/models", get(models))
        .route("/v1/models/{id}", get(model))
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .with_state(ApiState { intake, auth })
}

async fn models(State(state): State<ApiState>, headers: HeaderMap) -> Response {
    if let Err(failure) = state.auth.check_request(&headers) {
        return api_error(StatusCode::UNAUTHORIZED, auth_failure_message(failure));
    }
    Json(json!({"object": "list", "data": [model_json()]})).into_response()
}

/// `GET /v1/models/{id}`, which SDKs call to check a model exists.
async fn model(State(state): State<ApiState>, Path(id): Path<String>, headers: HeaderMap) -> Response {
    if let Err(failure) = state.auth.check_request(&headers) {
        return api_error(StatusCode::UNAUTHORIZED, auth_failure_message(failure));
    }
    if id != MODEL_ID {
        return api_error_for(
            StatusCode::NOT_FOUND,
            Some("model"),
            format!("model `{id}` does not exist; use `{MODEL_ID}`"),
        );
    }
    Json(model_json()).into_response()
}

fn model_json() -> Value {
    json!({"id": MODEL_ID, "object": "model", "created": 0, "owned_by": "chitin"})
}

/// An error in the body shape of OpenAI's API (`{"error": {"message", "type", "param", "code"}}`), which the
/// OpenAI SDKs read into their exception types and messages.
fn api_error(status: StatusCode, message: impl Into<String>) -> Response {
    api_error_for(status, None, message)
}

/// [`api_error`] naming the request field (`param`) that was wrong.
fn api_error_for(status: StatusCode, param: Option<&str>, message: impl Into<String>) -> Response {
    let (kind, code) = match status {
        StatusCode::UNAUTHORIZED => ("invalid_request_error", Some("invalid_api_key")),
        StatusCode::TOO_MANY_REQUESTS => ("rate_limit_error", Some("rate_limit_exceeded")),
        StatusCode::GATEWAY_TIMEOUT => ("server_error", Some("timeout")),
        status if status.is_server_error() => ("server_error", None),
        _ => ("invalid_request_error", None),
    };
    let body = json!({"error": {"message": message.into(), "type": kind, "param": param, "code": code}});
    (status, Json(body)).into_response()
}

/// The parts of a Chat Completions request Chitin uses.
struct ChatInput {
    text: String,
    stream: bool,
    /// `stream_options.include_usage`: end the stream with a chunk that carries `usage`, as OpenAI does.
    include_usage: bool,
    model: String,
    conversation: String,
}

/// What was wrong with a request: the field, when one is to blame, and a message that names it.
struct BadRequest {
    param: Option<&'static str>,
    message: String,
}

impl BadRequest {
    fn field(param: &'static str, problem: &str) -> BadRequest {
        BadRequest { param: Some(param), message: format!("{param}: {problem}") }
    }
}

fn parse_request(headers: &HeaderMap, body: &[u8]) -> Result<ChatInput, BadRequest> {
    let request: Value = serde_json::from_slice(body)
        .map_err(|problem| BadRequest { param: None, message: format!("invalid JSON body: {problem}") })?;
    let messages = match request.get("messages") {
        Some(Value::Array(messages)) => messages,
        Some(_) => return Err(BadRequest::field("messages", "must be an array of messages")),
        None => return Err(BadRequest::field("messages", "required array is missing")),
    };
    let last_user = messages
        .iter()
        .rev()
        .find(|message| message.get("role").and_then(Value::as_str) == Some("user"))
        .ok_or_else(|| BadRequest::field("messages", "no message with role \"user\""))?;
    let text = match last_user.get("content") {
        Some(Value::String(text)) => text.clone(),
        Some(Value::Array(parts)) => {
            parts.iter().filter_map(|part| part.get("text").and_then(Value::as_str)).collect::<Vec<_>>().join("\n")
        }
        _ => return Err(BadRequest::field("messages[].content", "must be a string or an array of text parts")),
    };
    let stream = match request.get("stream") {
        None | Some(Value::Null) => false,
        Some(Value::Bool(stream)) => *stream,
        Some(_) => return Err(BadRequest::field("stream", "must be a boolean")),
    };
    let include_usage = request.pointer("/stream_options/include_usage").and_then(Value::as_bool).unwrap_or(false);
    let model = request.get("model").and_then(Value::as_str).unwrap_or(MODEL_ID).to_string();
    let conversation = headers
        .get(CONVERSATION_HEADER)
        .and_then(|value| value.to_str().ok())
        .map(str::to_string)
        .or_else(|| request.get("user").and_then(Value::as_str).map(str::to_string))
        .filter(|id| !id.trim().is_empty())
        .unwrap_or_else(|| "default".to_string());
    Ok(ChatInput { text, stream, include_usage, model, conversation })
}

async fn chat_completions(
    State(state): State<ApiState>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    if let Err(failure) = state.auth.check_request(&headers) {
        return api_error(StatusCode::UNAUTHORIZED, auth_failure_message(failure));
    }
    let body = match body {
        Ok(body) => body,
        Err(rejection) if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE => {
            let limit = MAX_BODY_BYTES / 1024;
            return api_error(StatusCode::PAYLOAD_TOO_LARGE, format!("the request is larger than {limit} KiB"));
        }
        Err(rejection) => {
            return api_error(rejection.status(), format!("could not read the request: {}", rejection.body_text()));
        }
    };
    let input = match parse_request(&headers, &body) {
        Ok(input) => input,
        Err(problem) => return api_error_for(StatusCode::BAD_REQUEST, problem.param, problem.message),
    };
    // The header values and the body are slices of the connection's read buffer. Kept to the end of the turn, they
    // would hold it while hyper takes a second one to watch the idle connection: 8 KiB more per waiting request.
    drop((headers, body));
    let conversation = chitin_actors::ConversationId::new(ChannelKind::Api, &input.conversation);
    // Subscribe before submitting, so no event of this turn can be missed.
    let events = state.intake.replies().subscribe(&conversation);
    let incoming = Incoming {
        channel: ChannelKind::Api,
        external_conversation_id: input.conversation.clone(),
        platform_message_id: uuid::Uuid::now_v7().to_string(),
        sender: "api".into(),
        text: input.text,
    };
    let span = info_span!("openai_api", conversation = %conversation);
    let submitted = match state.intake.submit(incoming).instrument(span).await {
        Ok(submitted) => submitted,
        Err(failure) => {
            let (status, message) = intake_failure(failure);
            return api_error(status, message);
        }
    };
    let record_id = submitted.record_id();
    let completion_id = format!("chatcmpl-{}", uuid::Uuid::now_v7().simple());
    let created = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
    let (tx, rx) = mpsc::channel::<Piece>(256);
    tokio::spawn(follow_turn(Arc::clone(&state.intake), events, record_id, tx));

    if input.stream {
        let stream = sse_chunks(rx, completion_id, created, input.model, input.include_usage);
        Sse::new(stream).keep_alive(KeepAlive::default()).into_response()
    } else {
        match collect(rx).await {
            Some((text, usage)) => Json(json!({
                "id": completion_id,
                "object": "chat.completion",
                "created": created,
                "model": input.model,
                "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
                "usage": usage_json(usage),
            }))
            .into_response(),
            None => api_error(StatusCode::GATEWAY_TIMEOUT, "the turn did not finish in time; the message is saved"),
        }
    }
}

/// What the follower task passes to the response. `Final` is boxed so the channel's slots, allocated 32 at a time
/// for every request, are sized for a delta (24 bytes, not 72).
enum Piece {
    Delta(String),
    Final(Box<LastPiece>),
}

/// The whole reply, and what of it a stream has not carried yet (`None`: deltas carried all of it).
struct LastPiece {
    text: String,
    unsent: Option<String>,
    usage: Option<ReplyUsage>,
}

/// What a follower has forwarded of a turn's deltas.
#[derive(Default)]
struct StreamedSoFar {
    sent: String,
    /// Some deltas were missed (the follower fell behind the hub's buffer); none are forwarded after that.
    lagged: bool,
}

impl StreamedSoFar {
    /// What the stream still owes of the reply `text`: all of it when nothing was streamed; after missed deltas,
    /// the part after what was sent when that is its start (one model step), else the whole reply (the sent text
    /// was an earlier step's).
    fn unsent(&self, text: &str) -> Option<String> {
        if self.sent.is_empty() {
            return Some(text.to_string());
        }
        if !self.lagged {
            return None;
        }
        let rest = text.strip_prefix(self.sent.as_str()).unwrap_or(text);
        (!rest.is_empty()).then(|| rest.to_string())
    }
}

/// OpenAI's `usage` object from the turn's stored token counts; zeros when no model wrote the reply.
fn usage_json(usage: Option<ReplyUsage>) -> Value {
    let usage = usage.unwrap_or_default();
    json!({
        "prompt_tokens": usage.input_tokens,
        "completion_tokens": usage.output_tokens,
        "total_tokens": usage.input_tokens + usage.output_tokens,
    })
}

/// Waits for this turn's events (or its filed reply), forwards them, and records the in-band delivery.
async fn follow_turn(intake: Arc<dyn Intake>, mut events: ReplySubscription, record_id: i64, tx: mpsc::Sender<Piece>) {
    let deadline = tokio::time::Instant::now() + TURN_TIMEOUT;
    // The first look at the store comes after one period: the live event almost always arrives first.
    let mut poll = tokio::time::interval_at(tokio::time::Instant::now() + STORE_POLL, STORE_POLL);
    let mut stream = StreamedSoFar::default();
    loop {
        tokio::select! {
            event = events.recv() => match event {
                Ok(ReplyEvent::Delta { in_reply_to, text }) if in_reply_to == record_id => {
                    if stream.lagged { continue; }
                    stream.sent.push_str(&text);
                    if tx.send(Piece::Delta(text)).await.is_err() { return; }
                }
                Ok(ReplyEvent::Final(reply)) if reply.in_reply_to == record_id => {
                    let FinalReply { outbox_id, text, usage, .. } = *reply;
                    let unsent = stream.unsent(&text);
                    finish(&intake, outbox_id, &tx, LastPiece { text, unsent, usage }).await;
                    return;
                }
                Ok(_) => {}
                Err(broadcast::error::RecvError::Lagged(missed)) => {
                    warn!(missed, record_id, "fell behind the turn's stream; the rest follows with the reply");
                    stream.lagged = true;
                }
                Err(broadcast::error::RecvError::Closed) => return,
            },
            _ = poll.tick() => {
                if let Ok(Some(reply)) = intake.reply_for(record_id).await {
                    let unsent = stream.unsent(&reply.text);
                    let piece = LastPiece { text: reply.text, unsent, usage: reply.usage };
                    finish(&intake, reply.outbox_id, &tx, piece).await;
                    return;
                }
            }
            () = tokio::time::sleep_until(deadline) => return,
        }
    }
}

async fn finish(intake: &Arc<dyn Intake>, outbox_id: i64, tx: &mpsc::Sender<Piece>, last: LastPiece) {
    if tx.send(Piece::Final(Box::new(last))).await.is_ok()
        && let Err(failure) = intake.delivered_later(outbox_id).await
    {
        warn!(%failure, "could not mark an API reply delivered");
    }
}

async fn collect(mut rx: mpsc::Receiver<Piece>) -> Option<(String, Option<ReplyUsage>)> {
    while let Some(piece) = rx.recv().await {
        if let Piece::Final(last) = piece {
            return Some((last.text, last.usage));
        }
    }
    None
}

fn chunk(id: &str, created: u64, model: &str, delta: Value, finish_reason: Option<&str>) -> Event {
    let body = json!({
        "id": id,
        "object": "chat.completion.chunk",
        "created": created,
        "model": model,
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish_reason}],
    });
    Event::default().data(body.to_string())
}

/// The extra last chunk OpenAI sends when `stream_options.include_usage` is set: no choices, only `usage`.
fn usage_chunk(id: &str, created: u64, model: &str, usage: Option<ReplyUsage>) -> Event {
    let body = json!({
        "id": id,
        "object": "chat.completion.chunk",
        "created": created,
        "model": model,
        "choices": [],
        "usage": usage_json(usage),
    });
    Event::default().data(body.to_string())
}

/// OpenAI's stream: a role chunk, content chunks, a finishing chunk, then `[DONE]`.
fn sse_chunks(
    mut rx: mpsc::Receiver<Piece>,
    id: String,
    created: u64,
    model: String,
    include_usage: bool,
) -> impl Stream<Item = Result<Event, Infallible>> {
    let (out, events) = mpsc::channel::<Event>(64);
    tokio::spawn(async move {
        // A send fails only when the client went away; then there is nobody left to write to.
        let _ = out.send(chunk(&id, created, &model, json!({"role": "assistant", "content": ""}), None)).await;
        while let Some(piece) = rx.recv().await {
            match piece {
                Piece::Delta(text) => {
                    let _ = out.send(chunk(&id, created, &model, json!({"content": text}), None)).await;
                }
                Piece::Final(last) => {
                    let LastPiece { unsent, usage, .. } = *last;
                    if let Some(text) = unsent {
                        let _ = out.send(chunk(&id, created, &model, json!({"content": text}), None)).await;
                    }
                    let _ = out.send(chunk(&id, created, &model, json!({}), Some("stop"))).await;
                    if include_usage {
                        let _ = out.send(usage_chunk(&id, created, &model, usage)).await;
                    }
                    break;
                }
            }
        }
        let _ = out.send(Event::default().data("[DONE]")).await;
    });
    futures::StreamExt::map(tokio_stream::wrappers::ReceiverStream::new(events), Ok)
}

#[cfg(test)]
mod tests {
    use super::{Piece, StreamedSoFar};

    #[test]
    fn a_piece_is_no_larger_than_a_delta() {
        // Every request's channel from its follower allocates 32 slots sized for the largest piece.
        assert!(std::mem::size_of::<Piece>() <= 24, "{} bytes", std::mem::size_of::<Piece>());
    }

    fn streamed(sent: &str, lagged: bool) -> StreamedSoFar {
        StreamedSoFar { sent: sent.to_string(), lagged }
    }

    #[test]
    fn a_stream_owes_only_what_its_deltas_did_not_carry() {
        assert_eq!(streamed("", false).unsent("Hello there"), Some("Hello there".into()), "nothing streamed");
        assert_eq!(streamed("Hello there", false).unsent("Hello there"), None, "every delta arrived");
        assert_eq!(streamed("Hel", true).unsent("Hello there"), Some("lo there".into()), "missed the end");
        assert_eq!(streamed("Hello there", true).unsent("Hello there"), None, "missed only non-text events");
        assert_eq!(
            streamed("Let me look that up.", true).unsent("It is 4 pm."),
            Some("It is 4 pm.".into()),
            "what was sent belonged to an earlier step"
        );
    }
}
