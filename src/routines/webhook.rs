//! `POST /routines/{id}/trigger`: fires a webhook routine; the caller proves itself with the routine's own token.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::json;
use tracing::warn;

use crate::error_chain::describe;
use crate::jobs::{JobLimits, JobSignals};
use crate::store::{RoutineId, Store, TriggerKind};

use super::{Fired, definition, fire, token_hash};

#[derive(Clone)]
struct WebhookState {
    store: Store,
    limits: JobLimits,
    signals: JobSignals,
}

pub fn routes(store: Store, limits: JobLimits, signals: JobSignals) -> axum::Router {
    axum::Router::new().route("/routines/{id}/trigger", axum::routing::post(trigger)).with_state(WebhookState {
        store,
        limits,
        signals,
    })
}

fn refuse(status: StatusCode, error: &str) -> Response {
    (status, Json(json!({ "error": error }))).into_response()
}

/// `Authorization: Bearer <token>`; an `Idempotency-Key` header makes a retried request fire once.
async fn trigger(State(state): State<WebhookState>, Path(id): Path<i64>, headers: HeaderMap) -> Response {
    let routine = match state.store.routines().get_by_id(RoutineId(id)).await {
        Ok(Some(routine)) if routine.trigger_kind == TriggerKind::Webhook => routine,
        Ok(_) => return refuse(StatusCode::NOT_FOUND, "no webhook routine with this id"),
        Err(error) => {
            warn!(error = %describe(&error), "cannot read routine");
            return refuse(StatusCode::SERVICE_UNAVAILABLE, "storage unavailable");
        }
    };
    let presented = headers
        .get("authorization")
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Bearer "))
        .unwrap_or_default();
    let expected = definition(&routine).ok().and_then(|definition| definition.webhook_token_sha256);
    // Hashes are compared, so the comparison's timing says nothing about the token.
    if presented.is_empty() || expected.as_deref() != Some(token_hash(presented).as_str()) {
        return refuse(StatusCode::UNAUTHORIZED, "missing or wrong routine token");
    }
    if !routine.enabled {
        return refuse(StatusCode::CONFLICT, "the routine is paused");
    }
    let request = headers
        .get("idempotency-key")
        .and_then(|value| value.to_str().ok())
        .map(str::to_string)
        .unwrap_or_else(|| hex::encode(rand::random::<[u8; 16]>()));
    match fire(&state.store, &routine, &format!("webhook:{request}"), &state.limits).await {
        Ok(Fired::Queued(job)) => {
            state.signals.job_queued();
            (StatusCode::ACCEPTED, Json(json!({ "job_id": job.0 }))).into_response()
        }
        Ok(Fired::AlreadyFired) => (StatusCode::OK, Json(json!({ "already_fired": true }))).into_response(),
        Err(error) => {
            warn!(error = %describe(&error), "webhook routine could not fire");
            refuse(StatusCode::INTERNAL_SERVER_ERROR, "the routine could not fire")
        }
    }
}
