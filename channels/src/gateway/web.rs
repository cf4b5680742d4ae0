//! The browser UI: the page and its assets (embedded in the binary), token login that sets a session cookie,
//! and the JSON API the page reads. Every `/api/…` route takes the session cookie or the bearer token.
//!
//! The chat itself goes through `POST /v1/chat/completions` with `stream: true` (the OpenAI-compatible route,
//! which accepts the same cookie), so the browser sees the same streamed turn as any API client.

use std::sync::Arc;

use axum::extract::{Path, Query, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use tracing::{info, warn};

use super::StatusPort;
use super::auth::{AuthFailure, GatewayAuth, SESSION_COOKIE, SESSION_LIFETIME};
use crate::ports::BoxFuture;

const INDEX_HTML: &str = include_str!("../../../web/index.html");
const APP_JS: &str = include_str!("../../../web/app.js");
const STYLE_CSS: &str = include_str!("../../../web/style.css");

/// Longest list any `/api` route returns.
const MAX_LIMIT: i64 = 500;

/// A conversation as the UI lists it.
#[derive(Debug, Clone, Serialize)]
pub struct ConversationView {
    pub id: i64,
    pub channel: String,
    pub external_id: String,
    pub last_activity_at_ms: i64,
}

/// One message of a conversation's history.
#[derive(Debug, Clone, Serialize)]
pub struct MessageView {
    pub id: i64,
    pub role: String,
    pub direction: String,
    pub status: String,
    pub body: String,
    pub created_at_ms: i64,
}

/// A memory search result.
#[derive(Debug, Clone, Serialize)]
pub struct MemoryHitView {
    pub path: String,
    pub text: String,
    pub score: f64,
}

/// A whole workspace document.
#[derive(Debug, Clone, Serialize)]
pub struct MemoryDocumentView {
    pub path: String,
    pub content: String,
}

/// An installed tool and what it may do.
#[derive(Debug, Clone, Serialize)]
pub struct ToolView {
    pub name: String,
    pub version: String,
    pub hash: String,
    pub approved: bool,
    pub capabilities: Vec<String>,
}

/// One audit log entry.
#[derive(Debug, Clone, Serialize)]
pub struct AuditView {
    pub id: i64,
    pub at_ms: i64,
    pub kind: String,
    pub subject: String,
    pub detail: serde_json::Value,
}

/// A persisted job.
#[derive(Debug, Clone, Serialize)]
pub struct JobView {
    pub id: i64,
    pub kind: String,
    pub state: String,
    pub attempts: i64,
    pub node: Option<String>,
    pub updated_at_ms: i64,
}

/// A routine and its trigger.
#[derive(Debug, Clone, Serialize)]
pub struct RoutineView {
    pub id: i64,
    pub name: String,
    pub trigger: String,
    pub paused: bool,
    pub next_fire_at_ms: Option<i64>,
}

/// What the UI reads and changes, implemented by `chitin` on its store and services.
pub trait WebPort: Send + Sync + 'static {
    fn conversations(&self, limit: i64) -> BoxFuture<'_, Result<Vec<ConversationView>, String>>;
    fn messages(&self, conversation: i64, limit: i64) -> BoxFuture<'_, Result<Vec<MessageView>, String>>;
    fn memory_search(&self, query: String, limit: i64) -> BoxFuture<'_, Result<Vec<MemoryHitView>, String>>;
    fn memory_document(&self, path: String) -> BoxFuture<'_, Result<Option<MemoryDocumentView>, String>>;
    fn tools(&self) -> BoxFuture<'_, Result<Vec<ToolView>, String>>;
    fn audit(&self, limit: i64) -> BoxFuture<'_, Result<Vec<AuditView>, String>>;
    fn jobs(&self, limit: i64) -> BoxFuture<'_, Result<Vec<JobView>, String>>;
    /// `Ok(false)` when the job does not exist or has already ended.
    fn cancel_job(&self, id: i64) -> BoxFuture<'_, Result<bool, String>>;
    fn routines(&self) -> BoxFuture<'_, Result<Vec<RoutineView>, String>>;
    /// `Ok(false)` when the routine does not exist.
    fn set_routine_paused(&self, id: i64, paused: bool) -> BoxFuture<'_, Result<bool, String>>;
}

#[derive(Clone)]
struct WebState {
    port: Arc<dyn WebPort>,
    status: Arc<dyn StatusPort>,
    auth: GatewayAuth,
}

/// The UI's routes: `/`, its assets, `/login`, `/logout` and `/api/…`. Every `/api` route sits behind one
/// authentication layer, so a route added later cannot be left open by forgetting a check.
pub fn web_routes(port: Arc<dyn WebPort>, status: Arc<dyn StatusPort>, auth: GatewayAuth) -> Router {
    let state = WebState { port, status, auth };
    let api = Router::new()
        .route("/api/session", get(|| async { Json(serde_json::json!({"ok": true})) }))
        .route("/api/conversations", get(conversations))
        .route("/api/conversations/{id}/messages", get(messages))
        .route("/api/memory/search", get(memory_search))
        .route("/api/memory/document", get(memory_document))
        .route("/api/tools", get(tools))
        .route("/api/audit", get(audit))
        .route("/api/jobs", get(jobs))
        .route("/api/jobs/{id}/cancel", post(cancel_job))
        .route("/api/routines", get(routines))
        .route("/api/routines/{id}/pause", post(pause_routine))
        .route("/api/routines/{id}/resume", post(resume_routine))
        .route("/api/status", get(actor_status))
        .route_layer(middleware::from_fn_with_state(state.clone(), require_session));
    Router::new()
        .route("/", get(|| async { asset("text/html; charset=utf-8", INDEX_HTML) }))
        .route("/app.js", get(|| async { asset("text/javascript; charset=utf-8", APP_JS) }))
        .route("/style.css", get(|| async { asset("text/css; charset=utf-8", STYLE_CSS) }))
        .route("/login", post(login))
        .route("/logout", post(logout))
        .merge(api)
        .with_state(state)
}

/// Lets a request through only with a live session cookie or the bearer token.
async fn require_session(State(state): State<WebState>, request: Request, next: Next) -> Response {
    match state.auth.check_request(request.headers()) {
        Ok(()) => next.run(request).await,
        Err(AuthFailure::NotConfigured) => problem(StatusCode::FORBIDDEN, "no gateway.token is configured"),
        Err(AuthFailure::Missing) => problem(StatusCode::UNAUTHORIZED, "log in first"),
        Err(AuthFailure::Wrong) => problem(StatusCode::UNAUTHORIZED, "the session expired or the token is wrong"),
    }
}

fn asset(content_type: &'static str, body: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, content_type),
            (header::CACHE_CONTROL, "no-cache"),
            // The page loads only its own script and style and is never framed.
            (header::CONTENT_SECURITY_POLICY, "default-src 'self'; frame-ancestors 'none'"),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        ],
        body,
    )
        .into_response()
}

#[derive(Deserialize)]
struct LoginForm {
    token: String,
}

async fn login(State(state): State<WebState>, body: axum::body::Bytes) -> Response {
    let Ok(form) = serde_json::from_slice::<LoginForm>(&body) else {
        return problem(StatusCode::BAD_REQUEST, "expected a JSON body {\"token\": \"…\"}");
    };
    match state.auth.login(&form.token) {
        Ok(session) => {
            info!("browser session opened");
            let cookie = format!(
                "{SESSION_COOKIE}={session}; HttpOnly; SameSite=Strict; Path=/; Max-Age={}",
                SESSION_LIFETIME.as_secs()
            );
            match HeaderValue::from_str(&cookie) {
                Ok(cookie) => ([(header::SET_COOKIE, cookie)], Json(serde_json::json!({"ok": true}))).into_response(),
                Err(_) => problem(StatusCode::INTERNAL_SERVER_ERROR, "could not build the session cookie"),
            }
        }
        Err(AuthFailure::NotConfigured) => {
            problem(StatusCode::FORBIDDEN, "no gateway.token is configured, so nobody can log in")
        }
        Err(_) => {
            warn!("browser login with a wrong token");
            problem(StatusCode::UNAUTHORIZED, "wrong token")
        }
    }
}

async fn logout(State(state): State<WebState>, headers: HeaderMap) -> Response {
    state.auth.logout(&headers);
    let cookie = format!("{SESSION_COOKIE}=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0");
    match HeaderValue::from_str(&cookie) {
        Ok(cookie) => ([(header::SET_COOKIE, cookie)], StatusCode::NO_CONTENT).into_response(),
        Err(_) => StatusCode::NO_CONTENT.into_response(),
    }
}

/// A JSON error body the page shows as it is.
fn problem(status: StatusCode, message: &str) -> Response {
    (status, Json(serde_json::json!({"error": message}))).into_response()
}

/// The port's answer as JSON, or a 500 that says what failed.
fn answer<T: Serialize>(what: &str, result: Result<T, String>) -> Response {
    match result {
        Ok(value) => Json(value).into_response(),
        Err(reason) => {
            warn!(what, %reason, "web API request failed");
            problem(StatusCode::INTERNAL_SERVER_ERROR, &format!("could not {what}: {reason}"))
        }
    }
}

#[derive(Deserialize)]
struct ListQuery {
    limit: Option<i64>,
}

impl ListQuery {
    fn limit(&self, default: i64) -> i64 {
        self.limit.unwrap_or(default).clamp(1, MAX_LIMIT)
    }
}

async fn conversations(State(state): State<WebState>, Query(query): Query<ListQuery>) -> Response {
    answer("list conversations", state.port.conversations(query.limit(100)).await)
}

async fn messages(State(state): State<WebState>, Path(id): Path<i64>, Query(query): Query<ListQuery>) -> Response {
    answer("load the conversation", state.port.messages(id, query.limit(200)).await)
}

#[derive(Deserialize)]
struct SearchQuery {
    q: String,
    limit: Option<i64>,
}

async fn memory_search(State(state): State<WebState>, Query(query): Query<SearchQuery>) -> Response {
    if query.q.trim().is_empty() {
        return problem(StatusCode::BAD_REQUEST, "q: the search text is empty");
    }
    let limit = query.limit.unwrap_or(10).clamp(1, 50);
    answer("search memory", state.port.memory_search(query.q, limit).await)
}

#[derive(Deserialize)]
struct DocumentQuery {
    path: String,
}

async fn memory_document(State(state): State<WebState>, Query(query): Query<DocumentQuery>) -> Response {
    match state.port.memory_document(query.path.clone()).await {
        Ok(Some(document)) => Json(document).into_response(),
        Ok(None) => problem(StatusCode::NOT_FOUND, &format!("no document at {}", query.path)),
        Err(reason) => answer::<()>("read the document", Err(reason)),
    }
}

async fn tools(State(state): State<WebState>) -> Response {
    answer("list tools", state.port.tools().await)
}

async fn audit(State(state): State<WebState>, Query(query): Query<ListQuery>) -> Response {
    answer("read the audit log", state.port.audit(query.limit(100)).await)
}

async fn jobs(State(state): State<WebState>, Query(query): Query<ListQuery>) -> Response {
    answer("list jobs", state.port.jobs(query.limit(100)).await)
}

async fn cancel_job(State(state): State<WebState>, Path(id): Path<i64>) -> Response {
    match state.port.cancel_job(id).await {
        Ok(true) => {
            info!(job = id, "job cancelled from the web UI");
            Json(serde_json::json!({"cancelled": true})).into_response()
        }
        Ok(false) => problem(StatusCode::CONFLICT, &format!("job {id} does not exist or has already ended")),
        Err(reason) => answer::<()>("cancel the job", Err(reason)),
    }
}

async fn routines(State(state): State<WebState>) -> Response {
    answer("list routines", state.port.routines().await)
}

async fn pause_routine(State(state): State<WebState>, Path(id): Path<i64>) -> Response {
    set_paused(state, id, true).await
}

async fn resume_routine(State(state): State<WebState>, Path(id): Path<i64>) -> Response {
    set_paused(state, id, false).await
}

async fn set_paused(state: WebState, id: i64, paused: bool) -> Response {
    match state.port.set_routine_paused(id, paused).await {
        Ok(true) => Json(serde_json::json!({"paused": paused})).into_response(),
        Ok(false) => problem(StatusCode::NOT_FOUND, &format!("no routine {id}")),
        Err(reason) => answer::<()>("change the routine", Err(reason)),
    }
}

async fn actor_status(State(state): State<WebState>) -> Response {
    answer("read the actor tree", state.status.status().await)
}
