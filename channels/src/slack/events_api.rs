//! The Events API endpoint `POST /slack/events`: checks size, age and signature, then hands the event over.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use chitin_actors::ChildSlot;
use ractor::rpc::CallResult;
use slack_morphism::prelude::{SlackPushEvent, SlackSigningSecret};
use slack_morphism::signature_verifier::SlackEventSignatureVerifier;
use tracing::{Instrument, debug, info_span, warn};

use crate::slack::actor::{EVENT_TIMEOUT, SlackMsg};
use crate::slack::config::SlackConfig;

/// Slack's own rule: a request older (or newer) than five minutes may be a replay.
pub const MAX_REQUEST_AGE: Duration = Duration::from_secs(5 * 60);

#[derive(Clone)]
struct EventsState {
    channel: ChildSlot<SlackMsg>,
    verifier: Arc<SlackEventSignatureVerifier>,
}

/// The router the gateway mounts. Bodies over `max_body_bytes` get 413 before anything is parsed.
pub fn events_router(config: &SlackConfig, channel: ChildSlot<SlackMsg>) -> Router {
    let secret = SlackSigningSecret::new(config.signing_secret.clone());
    let state = EventsState { channel, verifier: Arc::new(SlackEventSignatureVerifier::new(&secret)) };
    Router::new()
        .route("/slack/events", post(receive))
        .layer(DefaultBodyLimit::max(config.max_body_bytes))
        .with_state(state)
}

async fn receive(State(state): State<EventsState>, headers: HeaderMap, body: Bytes) -> Response {
    let retry = header(&headers, "x-slack-retry-num").unwrap_or("0").to_string();
    let span = info_span!("slack_event", retry = %retry, body_bytes = body.len());
    let event = match span.in_scope(|| authenticate(&state, &headers, &body)) {
        Ok(event) => event,
        Err(refusal) => return refusal.into_response(),
    };
    match event {
        SlackPushEvent::UrlVerification(verification) => verification.challenge.into_response(),
        SlackPushEvent::AppRateLimited(_) => {
            warn!("slack reports that this app's events are being rate limited");
            StatusCode::OK.into_response()
        }
        SlackPushEvent::EventCallback(callback) => hand_over(&state, callback).instrument(span).await,
    }
}

/// Checks the request's age and signature, then parses it; the error is the response to send.
fn authenticate(state: &EventsState, headers: &HeaderMap, body: &[u8]) -> Result<SlackPushEvent, Refusal> {
    let timestamp = header(headers, "x-slack-request-timestamp")
        .ok_or_else(|| refuse(StatusCode::BAD_REQUEST, "missing x-slack-request-timestamp header"))?;
    let sent_at = timestamp
        .parse::<u64>()
        .map_err(|_| refuse(StatusCode::BAD_REQUEST, "x-slack-request-timestamp is not a unix time"))?;
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default().as_secs();
    if now.abs_diff(sent_at) > MAX_REQUEST_AGE.as_secs() {
        return Err(refuse(StatusCode::UNAUTHORIZED, "request timestamp is more than 5 minutes from now"));
    }
    let signature = header(headers, "x-slack-signature")
        .ok_or_else(|| refuse(StatusCode::UNAUTHORIZED, "missing x-slack-signature header"))?;
    let text = std::str::from_utf8(body).map_err(|_| refuse(StatusCode::BAD_REQUEST, "body is not UTF-8"))?;
    state
        .verifier
        .verify(signature, text, timestamp)
        .map_err(|_| refuse(StatusCode::UNAUTHORIZED, "signature does not match the signing secret"))?;
    serde_json::from_str::<SlackPushEvent>(text).map_err(|error| {
        warn!(%error, "slack event body is not a known event");
        refuse(StatusCode::BAD_REQUEST, "body is not a Slack event")
    })
}

/// Answers 200 only once the channel recorded the event, so a failure makes Slack retry it.
async fn hand_over(state: &EventsState, callback: slack_morphism::prelude::SlackPushEventCallback) -> Response {
    let Some(channel) = state.channel.get() else {
        return refuse(StatusCode::SERVICE_UNAVAILABLE, "the slack channel is restarting").into_response();
    };
    let event_id = callback.event_id.0.clone();
    let outcome =
        channel.call(|reply| SlackMsg::Event { callback: Box::new(callback), reply }, Some(EVENT_TIMEOUT)).await;
    match outcome {
        Ok(CallResult::Success(Ok(()))) => {
            debug!(event = %event_id, "slack event accepted");
            StatusCode::OK.into_response()
        }
        Ok(CallResult::Success(Err(error))) => {
            warn!(%error, event = %event_id, "slack event not recorded; slack will retry");
            refuse(StatusCode::INTERNAL_SERVER_ERROR, "the event could not be stored").into_response()
        }
        _ => refuse(StatusCode::SERVICE_UNAVAILABLE, "the slack channel did not answer in time").into_response(),
    }
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|value| value.to_str().ok())
}

/// A request turned away, with a reason that names what was wrong (and never echoes the request).
struct Refusal {
    status: StatusCode,
    reason: &'static str,
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        (self.status, self.reason).into_response()
    }
}

fn refuse(status: StatusCode, reason: &'static str) -> Refusal {
    debug!(%status, reason, "slack event refused");
    Refusal { status, reason }
}
