//! A fake HTTP server on 127.0.0.1 that records every request it receives.

use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::{Body, to_bytes};
use axum::http::{Request, Response, StatusCode};

/// One request as the server saw it.
#[derive(Debug, Clone)]
pub struct RecordedRequest {
    pub method: String,
    pub uri: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl RecordedRequest {
    /// The whole request as text, for "does the secret appear anywhere" assertions.
    pub fn as_text(&self) -> String {
        let headers: Vec<String> = self.headers.iter().map(|(name, value)| format!("{name}: {value}")).collect();
        format!("{} {}\n{}\n\n{}", self.method, self.uri, headers.join("\n"), String::from_utf8_lossy(&self.body))
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(header, _)| header.eq_ignore_ascii_case(name)).map(|(_, value)| value.as_str())
    }
}

/// Routes: `/redirect?to=URL` answers 302 to URL; `/echo-headers` answers with the request's
/// headers as its body (to test the response leak scan); `/big` answers 2 MiB; `/hang` answers
/// after 30 s; anything else
/// answers `hello from fake`.
pub struct FakeHttpServer {
    pub port: u16,
    requests: Arc<Mutex<Vec<RecordedRequest>>>,
}

impl FakeHttpServer {
    pub async fn start() -> FakeHttpServer {
        let requests = Arc::new(Mutex::new(Vec::new()));
        let recorder = Arc::clone(&requests);
        let app = Router::new().fallback(move |request: Request<Body>| {
            let recorder = Arc::clone(&recorder);
            async move { respond(request, recorder).await }
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind fake http server");
        let port = listener.local_addr().expect("fake server address").port();
        tokio::spawn(async move {
            axum::serve(listener, app).await.expect("fake http server");
        });
        FakeHttpServer { port, requests }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.requests.lock().expect("recorder lock").clone()
    }
}

async fn respond(request: Request<Body>, recorder: Arc<Mutex<Vec<RecordedRequest>>>) -> Response<Body> {
    let method = request.method().to_string();
    let uri = request.uri().to_string();
    let headers: Vec<(String, String)> = request
        .headers()
        .iter()
        .map(|(name, value)| (name.to_string(), value.to_str().unwrap_or("").to_string()))
        .collect();
    let path = request.uri().path().to_string();
    let query = request.uri().query().unwrap_or("").to_string();
    let body = to_bytes(request.into_body(), 1 << 20).await.map(|bytes| bytes.to_vec()).unwrap_or_default();
    let recorded = RecordedRequest { method, uri, headers, body };
    recorder.lock().expect("recorder lock").push(recorded.clone());
    match path.as_str() {
        "/redirect" => {
            let target = query.strip_prefix("to=").unwrap_or("/");
            Response::builder()
                .status(StatusCode::FOUND)
                .header("location", target)
                .body(Body::empty())
                .expect("response")
        }
        "/echo-headers" => Response::new(Body::from(recorded.as_text())),
        "/big" => Response::new(Body::from(vec![b'z'; 2 << 20])),
        "/hang" => {
            // A peer that never answers in time; the caller's limits must end the wait.
            tokio::time::sleep(std::time::Duration::from_secs(30)).await;
            Response::new(Body::from("too late"))
        }
        _ => Response::new(Body::from("hello from fake")),
    }
}
