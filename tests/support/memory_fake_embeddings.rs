//! A fake OpenAI-compatible `/v1/embeddings` server on 127.0.0.1:0 that can misbehave on purpose.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use serde::Deserialize;

/// What the fake does with each request.
#[derive(Clone, Copy)]
pub enum Behaviour {
    /// Answers with `dims`-long vectors derived from each text, listed in reverse index order
    /// (the API allows any order; clients must sort by `index`).
    Healthy { dims: usize },
    /// Fails the first `failures` requests with `status`, then behaves like `Healthy`.
    FailFirst { failures: usize, status: u16, dims: usize },
    /// Always answers vectors of `returned` values.
    WrongDimensions { returned: usize },
    /// Writes `NaN` into the JSON like Python's `json.dumps` does.
    NanLiteral { dims: usize },
    /// A number too large for f32, which parses as infinity.
    Overflow { dims: usize },
}

#[derive(Deserialize)]
struct EmbeddingsRequest {
    model: String,
    input: Vec<String>,
}

struct FakeState {
    behaviour: Behaviour,
    requests: AtomicUsize,
    inputs: Mutex<Vec<Vec<String>>>,
    authorization: Mutex<Vec<Option<String>>>,
}

pub struct FakeEmbeddingServer {
    pub base_url: String,
    state: Arc<FakeState>,
}

impl FakeEmbeddingServer {
    pub async fn start(behaviour: Behaviour) -> FakeEmbeddingServer {
        let state = Arc::new(FakeState {
            behaviour,
            requests: AtomicUsize::new(0),
            inputs: Mutex::new(Vec::new()),
            authorization: Mutex::new(Vec::new()),
        });
        let app = Router::new().route("/v1/embeddings", post(embeddings)).with_state(state.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind fake embeddings server");
        let address = listener.local_addr().expect("local addr");
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        FakeEmbeddingServer { base_url: format!("http://{address}/v1"), state }
    }

    pub fn requests(&self) -> usize {
        self.state.requests.load(Ordering::SeqCst)
    }

    /// The `input` array of every request, in arrival order.
    pub fn inputs(&self) -> Vec<Vec<String>> {
        self.state.inputs.lock().expect("inputs lock").clone()
    }

    pub fn authorization_headers(&self) -> Vec<Option<String>> {
        self.state.authorization.lock().expect("auth lock").clone()
    }
}

/// The vector the fake gives `text`: deterministic, so tests can check order and caching.
pub fn fake_vector(text: &str, dims: usize) -> Vec<f32> {
    let seed = text.bytes().fold(17u32, |hash, byte| hash.wrapping_mul(31).wrapping_add(byte.into()));
    (0..dims).map(|position| ((seed.wrapping_add(position as u32 * 7919)) % 1000) as f32 / 1000.0).collect()
}

async fn embeddings(
    State(state): State<Arc<FakeState>>,
    headers: HeaderMap,
    Json(request): Json<EmbeddingsRequest>,
) -> Response {
    let seen = state.requests.fetch_add(1, Ordering::SeqCst);
    state.inputs.lock().expect("inputs lock").push(request.input.clone());
    state
        .authorization
        .lock()
        .expect("auth lock")
        .push(headers.get("authorization").and_then(|value| value.to_str().ok()).map(str::to_string));
    let vectors = |dims: usize| -> Vec<Vec<f32>> { request.input.iter().map(|text| fake_vector(text, dims)).collect() };
    let body = match state.behaviour {
        Behaviour::Healthy { dims } => data_json(&request.model, vectors(dims)),
        Behaviour::FailFirst { failures, status, dims } => {
            if seen < failures {
                let status = StatusCode::from_u16(status).expect("valid status");
                return (status, "upstream overloaded").into_response();
            }
            data_json(&request.model, vectors(dims))
        }
        Behaviour::WrongDimensions { returned } => data_json(&request.model, vectors(returned)),
        Behaviour::NanLiteral { dims } => with_first_value(&request.model, vectors(dims), "NaN"),
        Behaviour::Overflow { dims } => with_first_value(&request.model, vectors(dims), "1e39"),
    };
    ([("content-type", "application/json")], body).into_response()
}

/// Value written where a literal is swapped in; no fake vector contains it (they are < 1).
const SENTINEL: f32 = 123456.0;

/// A body whose input 0 starts with `literal`, which need not be valid JSON.
fn with_first_value(model: &str, mut vectors: Vec<Vec<f32>>, literal: &str) -> String {
    if let Some(first) = vectors.first_mut().and_then(|vector| vector.first_mut()) {
        *first = SENTINEL;
    }
    data_json(model, vectors).replacen("123456.0", literal, 1)
}

/// An OpenAI-shaped body with entries in reverse order.
fn data_json(model: &str, vectors: Vec<Vec<f32>>) -> String {
    let data: Vec<serde_json::Value> = vectors
        .into_iter()
        .enumerate()
        .rev()
        .map(|(index, embedding)| serde_json::json!({"object": "embedding", "index": index, "embedding": embedding}))
        .collect();
    serde_json::json!({"object": "list", "model": model, "data": data}).to_string()
}
