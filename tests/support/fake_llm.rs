//! A scriptable fake model server on 127.0.0.1: each test queues replies and reads back requests.
//!
//! The wire format is a [`Dialect`] (see `fake_openai.rs`, `fake_anthropic.rs`); this file holds
//! what both share: the reply script, request recording, and the misbehaviours (429, 500,
//! garbage, dropped or stalled streams, slow answers).

use std::collections::VecDeque;
use std::io;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use futures::{Stream, StreamExt, stream};
use serde_json::Value;
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// A tool call the fake will make, with its arguments as the JSON text the model "writes".
#[derive(Debug, Clone)]
pub struct ScriptedToolCall {
    pub id: String,
    pub name: String,
    pub arguments: String,
}

/// A successful answer, rendered in whichever form (JSON or SSE) the request asked for.
#[derive(Debug, Clone)]
pub struct Answer {
    pub text: String,
    pub tool_calls: Vec<ScriptedToolCall>,
    pub input_tokens: u64,
    pub output_tokens: u64,
    /// Text and tool arguments are streamed in deltas of this many characters.
    pub delta_chars: usize,
    /// When set, the SSE body is written in frames of this many bytes, cutting events (and
    /// UTF-8 characters) at arbitrary points as a real network may.
    pub frame_bytes: Option<usize>,
    /// Time between SSE frames, so the answer streams over a while as a slow model's would.
    pub pace: Duration,
}

impl Answer {
    pub fn text(text: &str) -> Self {
        Answer {
            text: text.to_owned(),
            tool_calls: Vec::new(),
            input_tokens: 11,
            output_tokens: 7,
            delta_chars: 4,
            frame_bytes: None,
            pace: Duration::ZERO,
        }
    }

    pub fn tool_call(mut self, id: &str, name: &str, arguments: &str) -> Self {
        self.tool_calls.push(ScriptedToolCall {
            id: id.to_owned(),
            name: name.to_owned(),
            arguments: arguments.to_owned(),
        });
        self
    }

    pub fn usage(mut self, input_tokens: u64, output_tokens: u64) -> Self {
        self.input_tokens = input_tokens;
        self.output_tokens = output_tokens;
        self
    }

    pub fn delta_chars(mut self, delta_chars: usize) -> Self {
        self.delta_chars = delta_chars.max(1);
        self
    }

    pub fn pace(mut self, pace: Duration) -> Self {
        self.pace = pace;
        self
    }

    pub fn frame_bytes(mut self, frame_bytes: usize) -> Self {
        self.frame_bytes = Some(frame_bytes.max(1));
        self
    }
}

/// What the fake does with the next request.
#[derive(Debug, Clone)]
pub enum Reply {
    Answer(Answer),
    /// Answers with plain JSON even when the request asked for a stream, as some servers do.
    IgnoreStream(Answer),
    /// HTTP 429 with `retry-after` (whole seconds) and/or `retry-after-ms`.
    RateLimited {
        retry_after_secs: Option<u64>,
        retry_after_ms: Option<u64>,
    },
    /// Any error status with the dialect's error body.
    Status(u16),
    /// HTTP 200 whose JSON body (or SSE event data) is broken.
    MalformedJson,
    /// Streams `text_before` (or sends half a JSON body) and then breaks the connection.
    DropMidStream {
        text_before: String,
    },
    /// Streams `text_before` and then sends nothing more, keeping the connection open.
    StallMidStream {
        text_before: String,
    },
    /// Waits before doing `then`.
    Slow {
        delay: Duration,
        then: Box<Reply>,
    },
    /// Holds the answer until `count` requests in all have arrived (or answers 504 after 10 s),
    /// so a test can prove calls were in flight at the same time.
    AfterRequests {
        count: usize,
        then: Box<Reply>,
    },
}

/// One request as the fake received it.
#[derive(Debug, Clone)]
pub struct RecordedRequest {
    pub at: Instant,
    pub path: String,
    pub headers: HeaderMap,
    pub body: Value,
}

/// How one provider's API spells answers, events and errors.
#[derive(Clone, Copy)]
pub struct Dialect {
    /// Route the client posts to.
    pub path: &'static str,
    /// What goes after `http://addr` in `llm.base_url`.
    pub base_path: &'static str,
    /// Non-streamed body for an answer to `request` (whose model it echoes).
    pub answer_json: fn(&Answer, &Value) -> Value,
    /// All SSE events of a streamed answer to `request`, each a complete `...\n\n` block.
    pub answer_events: fn(&Answer, &Value) -> Vec<String>,
    /// Events that start an answer to `request` and stream `text`, without ending it.
    pub partial_events: fn(&str, &Value) -> Vec<String>,
    /// Error body for a status.
    pub error_json: fn(u16) -> Value,
}

struct FakeState {
    dialect: Dialect,
    replies: Mutex<VecDeque<Reply>>,
    /// Given when the script is empty; a test that sets none gets a loud 418 instead.
    fallback: Mutex<Option<Reply>>,
    /// Off for load tests, where keeping every request body would dwarf what is measured.
    recording: std::sync::atomic::AtomicBool,
    requests: Mutex<Vec<RecordedRequest>>,
    /// How many requests have arrived, for [`Reply::AfterRequests`] to wait on.
    arrived: watch::Sender<usize>,
}

/// A running fake; the server stops when this is dropped.
pub struct FakeLlmServer {
    addr: SocketAddr,
    state: Arc<FakeState>,
    task: JoinHandle<()>,
}

impl FakeLlmServer {
    pub async fn start(dialect: Dialect) -> Self {
        let state = Arc::new(FakeState {
            dialect,
            replies: Mutex::new(VecDeque::new()),
            fallback: Mutex::new(None),
            recording: std::sync::atomic::AtomicBool::new(true),
            requests: Mutex::new(Vec::new()),
            arrived: watch::Sender::new(0),
        });
        let app = Router::new().route(dialect.path, post(handle)).with_state(state.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind fake llm server");
        let addr = listener.local_addr().expect("fake llm server address");
        let task = tokio::spawn(async move {
            // Like a real provider's server: no Nagle delay on small SSE writes.
            let listener = axum::serve::ListenerExt::tap_io(listener, |stream| {
                let _ = stream.set_nodelay(true);
            });
            axum::serve(listener, app).await.expect("fake llm server");
        });
        FakeLlmServer { addr, state, task }
    }

    /// The value for `llm.base_url`.
    pub fn base_url(&self) -> String {
        format!("http://{}{}", self.addr, self.state.dialect.base_path)
    }

    pub fn push(&self, reply: Reply) -> &Self {
        self.state.replies.lock().expect("replies").push_back(reply);
        self
    }

    /// Answers every request with `reply` once the script runs out, and stops recording requests: for benches.
    #[allow(dead_code)] // only benches/agent.rs; tests want the loud 418 of an empty script
    pub fn answer_all_with(&self, reply: Reply) -> &Self {
        *self.state.fallback.lock().expect("fallback") = Some(reply);
        self.state.recording.store(false, std::sync::atomic::Ordering::Relaxed);
        self
    }

    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.state.requests.lock().expect("requests").clone()
    }
}

impl Drop for FakeLlmServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn handle(State(state): State<Arc<FakeState>>, headers: HeaderMap, body: Bytes) -> Response {
    let recording = state.recording.load(std::sync::atomic::Ordering::Relaxed);
    let body: Value = if recording { serde_json::from_slice(&body).unwrap_or(Value::Null) } else { essentials(&body) };
    let streamed = body["stream"].as_bool().unwrap_or(false);
    if recording {
        state.requests.lock().expect("requests").push(RecordedRequest {
            at: Instant::now(),
            path: state.dialect.path.to_owned(),
            headers,
            body: body.clone(),
        });
    }
    state.arrived.send_modify(|arrived| *arrived += 1);
    let next = state.replies.lock().expect("replies").pop_front();
    let next = next.or_else(|| state.fallback.lock().expect("fallback").clone());
    // An empty script is a test bug; a 418 makes it fail loudly rather than look like an outage.
    let mut reply = next.unwrap_or(Reply::Status(418));
    let reply = loop {
        reply = match reply {
            Reply::Slow { delay, then } => {
                tokio::time::sleep(delay).await;
                *then
            }
            Reply::AfterRequests { count, then } => {
                let mut arrived = state.arrived.subscribe();
                let gate = arrived.wait_for(|arrived| *arrived >= count);
                match tokio::time::timeout(Duration::from_secs(10), gate).await {
                    Ok(_) => *then,
                    Err(_) => Reply::Status(504),
                }
            }
            other => break other,
        };
    };
    let dialect = state.dialect;
    match reply {
        Reply::Answer(answer) if streamed => {
            let events = (dialect.answer_events)(&answer, &body);
            sse(frames(events, answer.frame_bytes), answer.pace, Ending::Clean)
        }
        Reply::Answer(answer) | Reply::IgnoreStream(answer) => {
            axum::Json((dialect.answer_json)(&answer, &body)).into_response()
        }
        Reply::RateLimited { retry_after_secs, retry_after_ms } => {
            let mut response = (StatusCode::TOO_MANY_REQUESTS, axum::Json((dialect.error_json)(429))).into_response();
            let headers = response.headers_mut();
            if let Some(secs) = retry_after_secs {
                headers.insert(header::RETRY_AFTER, HeaderValue::from(secs));
            }
            if let Some(ms) = retry_after_ms {
                headers.insert("retry-after-ms", HeaderValue::from(ms));
            }
            response
        }
        Reply::Status(status) => {
            let status = StatusCode::from_u16(status).expect("valid status");
            (status, axum::Json((dialect.error_json)(status.as_u16()))).into_response()
        }
        Reply::MalformedJson if streamed => {
            let mut events = (dialect.partial_events)("ok so far", &body);
            events.push("data: {\"choices\": [{\"delta\": {\"content\": \"unterminated\n\n".to_owned());
            sse(frames(events, None), Duration::ZERO, Ending::Clean)
        }
        Reply::MalformedJson => {
            ([(header::CONTENT_TYPE, "application/json")], "{\"choices\": [{\"message\": ").into_response()
        }
        Reply::DropMidStream { text_before } if streamed => {
            let events = (dialect.partial_events)(&text_before, &body);
            sse(frames(events, None), Duration::ZERO, Ending::Drop)
        }
        Reply::DropMidStream { .. } => {
            let half = stream::iter([Ok::<_, io::Error>(Bytes::from_static(b"{\"id\":\"x\",\"cho"))]);
            let broken = half.chain(stream::once(async { Err(io::Error::other("fake drops the connection")) }));
            ([(header::CONTENT_TYPE, "application/json")], Body::from_stream(broken)).into_response()
        }
        Reply::StallMidStream { text_before } => {
            let events = (dialect.partial_events)(&text_before, &body);
            sse(frames(events, None), Duration::ZERO, Ending::Stall)
        }
        Reply::Slow { .. } | Reply::AfterRequests { .. } => {
            unreachable!("waiting replies are unwrapped above")
        }
    }
}

/// The fields an answer depends on, without building the rest of the request (history, tools, system
/// prompt) as a `Value`: a load test's fake should cost its clients' machine as little as it can.
fn essentials(body: &[u8]) -> Value {
    #[derive(serde::Deserialize)]
    struct Essentials {
        model: Option<String>,
        stream: Option<bool>,
        stream_options: Option<Value>,
    }
    match serde_json::from_slice::<Essentials>(body) {
        Ok(request) => serde_json::json!({
            "model": request.model,
            "stream": request.stream,
            "stream_options": request.stream_options,
        }),
        Err(_) => Value::Null,
    }
}

/// How a fake SSE body ends.
enum Ending {
    Clean,
    Drop,
    Stall,
}

/// The SSE text as frames: one per event, or fixed-size byte cuts.
fn frames(events: Vec<String>, frame_bytes: Option<usize>) -> Vec<Bytes> {
    match frame_bytes {
        None => events.into_iter().map(Bytes::from).collect(),
        Some(size) => events.concat().into_bytes().chunks(size).map(Bytes::copy_from_slice).collect(),
    }
}

fn sse(frames: Vec<Bytes>, pace: Duration, ending: Ending) -> Response {
    // A yield (or the pace) between frames lets each go out as its own chunk instead of one write.
    let body = stream::iter(frames).then(move |frame| async move {
        if pace.is_zero() {
            tokio::task::yield_now().await;
        } else {
            tokio::time::sleep(pace).await;
        }
        Ok::<_, io::Error>(frame)
    });
    let body: std::pin::Pin<Box<dyn Stream<Item = Result<Bytes, io::Error>> + Send>> = match ending {
        Ending::Clean => body.boxed(),
        // Yielding first lets hyper flush the frames already written before it aborts.
        Ending::Drop => body
            .chain(stream::once(async {
                tokio::task::yield_now().await;
                Err(io::Error::other("fake drops the connection"))
            }))
            .boxed(),
        Ending::Stall => body.chain(stream::pending()).boxed(),
    };
    ([(header::CONTENT_TYPE, "text/event-stream")], Body::from_stream(body)).into_response()
}

/// `s` cut into pieces of `size` characters (never inside a character).
pub fn pieces(s: &str, size: usize) -> Vec<String> {
    let chars: Vec<char> = s.chars().collect();
    chars.chunks(size.max(1)).map(|c| c.iter().collect()).collect()
}
