//! The HTTP webhook channel: `POST /webhook` takes a message, `GET /webhook/replies/{id}` returns its answer.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use chitin_actors::ChannelKind;
use serde::Deserialize;
use serde_json::json;
use tracing::{Instrument, info, info_span, warn};

use crate::gateway::auth::{AuthFailure, GatewayAuth};
use crate::ports::{Incoming, Intake, IntakeError, Submitted};

/// Largest accepted body; larger requests get 413 before anything is parsed.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// What a webhook caller sends.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct WebhookRequest {
    /// The caller's id for this message: sending it again returns the same message id and one reply.
    message_id: String,
    /// The caller's conversation; messages with the same value share history.
    conversation: String,
    text: String,
    #[serde(default)]
    sender: Option<String>,
}

#[derive(Clone)]
struct WebhookState {
    intake: Arc<dyn Intake>,
    auth: GatewayAuth,
}

pub fn routes(intake: Arc<dyn Intake>, auth: GatewayAuth) -> Router {
    Router::new()
        .route("/webhook", post(receive))
        .route("/webhook/replies/{id}", get(reply))
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .with_state(WebhookState { intake, auth })
}

pub(crate) fn error(status: StatusCode, message: impl Into<String>) -> Response {
    (status, Json(json!({"error": message.into()}))).into_response()
}

pub(crate) fn auth_error(failure: AuthFailure) -> Response {
    error(StatusCode::UNAUTHORIZED, auth_failure_message(failure))
}

/// What a caller that failed authentication is told, on every gateway endpoint.
pub(crate) fn auth_failure_message(failure: AuthFailure) -> &'static str {
    match failure {
        AuthFailure::NotConfigured => "gateway.token is not configured; set it to use this endpoint",
        AuthFailure::Missing => "missing Authorization: Bearer token or signature",
        AuthFailure::Wrong => "wrong token or signature",
    }
}

pub(crate) fn intake_error(failure: IntakeError) -> Response {
    let (status, message) = intake_failure(failure);
    error(status, message)
}

/// The status and message for a message the intake could not take.
pub(crate) fn intake_failure(failure: IntakeError) -> (StatusCode, String) {
    match failure {
        IntakeError::Overloaded(reason) => (StatusCode::TOO_MANY_REQUESTS, reason),
        IntakeError::Storage { reason, retryable: true } => (StatusCode::SERVICE_UNAVAILABLE, reason),
        IntakeError::Storage { reason, retryable: false } => (StatusCode::INTERNAL_SERVER_ERROR, reason),
    }
}

async fn receive(
    State(state): State<WebhookState>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let body = match body {
        Ok(body) => body,
        Err(rejection) => return body_rejected(rejection),
    };
    if let Err(failure) = state.auth.check_bearer_or_signature(&headers, &body) {
        return auth_error(failure);
    }
    let request: WebhookRequest = match parse_request(&body) {
        Ok(request) => request,
        Err(problem) => return error(StatusCode::BAD_REQUEST, problem),
    };
    for (field, value) in
        [("message_id", &request.message_id), ("conversation", &request.conversation), ("text", &request.text)]
    {
        if value.trim().is_empty() {
            return error(StatusCode::BAD_REQUEST, format!("{field} must not be empty"));
        }
    }
    // Both are slices of the connection's read buffer; released here, hyper can reuse it for the next request.
    drop((headers, body));
    let incoming = Incoming {
        channel: ChannelKind::Webhook,
        external_conversation_id: request.conversation,
        platform_message_id: request.message_id,
        sender: request.sender.unwrap_or_else(|| "webhook".into()),
        text: request.text,
    };
    let span = info_span!("webhook", message = %incoming.platform_message_id);
    match state.intake.submit(incoming).instrument(span).await {
        Ok(submitted) => {
            let duplicate = matches!(submitted, Submitted::Duplicate { .. });
            info!(record = submitted.record_id(), duplicate, "webhook message accepted");
            (
                StatusCode::ACCEPTED,
                Json(json!({
                    "message_id": submitted.record_id().to_string(),
                    "duplicate": duplicate,
                    "reply_url": format!("/webhook/replies/{}", submitted.record_id()),
                })),
            )
                .into_response()
        }
        Err(failure) => {
            warn!(%failure, "webhook message refused");
            intake_error(failure)
        }
    }
}

/// The request, or what is wrong with it naming the field (`text: invalid type: integer `5`, expected a string`).
fn parse_request(body: &[u8]) -> Result<WebhookRequest, String> {
    let mut reader = serde_json::Deserializer::from_slice(body);
    serde_path_to_error::deserialize(&mut reader).map_err(|problem| {
        let field = problem.path().to_string();
        let inner = problem.into_inner();
        // Syntax errors and a missing or unknown field name themselves; a value of the wrong type does not.
        if inner.is_data() && field != "." && !inner.to_string().contains(&format!("`{field}`")) {
            format!("invalid JSON body: {field}: {inner}")
        } else {
            format!("invalid JSON body: {inner}")
        }
    })
}

/// A body that could not be read: too large (413, with the limit) or cut off.
fn body_rejected(rejection: BytesRejection) -> Response {
    if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
        return error(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("the body is larger than {} KiB; send shorter messages", MAX_BODY_BYTES / 1024),
        );
    }
    error(rejection.status(), format!("could not read the body: {}", rejection.body_text()))
}

async fn reply(State(state): State<WebhookState>, headers: HeaderMap, Path(id): Path<String>) -> Response {
    if let Err(failure) = state.auth.check_bearer(&headers) {
        return auth_error(failure);
    }
    let Ok(record_id) = id.parse::<i64>() else {
        return error(StatusCode::BAD_REQUEST, format!("message id `{id}` is not a number"));
    };
    match state.intake.reply_for(record_id).await {
        Ok(Some(reply)) => {
            // Fetching is this channel's delivery: the reply reached the caller.
            if let Err(failure) = state.intake.delivered(reply.outbox_id).await {
                warn!(%failure, "could not mark a fetched reply delivered");
            }
            Json(json!({"message_id": id, "status": "answered", "reply": reply.text})).into_response()
        }
        Ok(None) => match state.intake.received_on(ChannelKind::Webhook, record_id).await {
            Ok(true) => (StatusCode::ACCEPTED, Json(json!({"message_id": id, "status": "pending"}))).into_response(),
            Ok(false) => error(StatusCode::NOT_FOUND, format!("no webhook message has id {id}")),
            Err(failure) => intake_error(failure),
        },
        Err(failure) => intake_error(failure),
    }
}
