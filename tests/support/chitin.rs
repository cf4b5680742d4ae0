//! `TestChitin`: the whole service in-process on 127.0.0.1:0, with its own data dir and config from variables.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use chitin::config::{ConfigSources, load};
use chitin::service::{Service, ServiceEnv};

pub const TOKEN: &str = "test-gateway-token";

pub struct TestChitin {
    pub service: Option<Service>,
    pub addr: SocketAddr,
    pub dir: tempfile::TempDir,
    pub client: reqwest::Client,
}

impl TestChitin {
    /// Starts Chitin with the fake LLM at `llm_base_url` (None: no model configured) and extra `CHITIN_*` settings.
    pub async fn start(llm_base_url: Option<&str>, settings: &[(&str, &str)]) -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        Self::start_in(dir, llm_base_url, settings).await
    }

    pub async fn start_in(dir: tempfile::TempDir, llm_base_url: Option<&str>, settings: &[(&str, &str)]) -> Self {
        chitin::telemetry::init(
            chitin::telemetry::LogFormat::Pretty,
            0,
            "info",
            std::env::var("CHITIN_LOG").ok().as_deref(),
        );
        let service =
            Service::start(&config(&dir, llm_base_url, settings), &ServiceEnv::default()).await.expect("chitin starts");
        let addr = service.gateway_addr();
        Self { service: Some(service), addr, dir, client: reqwest::Client::new() }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// `POST /v1/chat/completions` (non-streamed) and the assistant's text.
    pub async fn chat(&self, conversation: &str, text: &str) -> String {
        let response = self
            .client
            .post(self.url("/v1/chat/completions"))
            .bearer_auth(TOKEN)
            .json(&serde_json::json!({"model": "chitin", "user": conversation, "messages": [{"role": "user", "content": text}]}))
            .send()
            .await
            .expect("request");
        assert_eq!(response.status(), 200, "chat failed");
        let body: serde_json::Value = response.json().await.expect("json");
        body["choices"][0]["message"]["content"].as_str().expect("content").to_string()
    }

    pub async fn stop(mut self) -> tempfile::TempDir {
        if let Some(service) = self.service.take() {
            service.shutdown(Duration::from_secs(5)).await.expect("clean shutdown");
        }
        self.dir
    }
}

pub fn config(
    dir: &tempfile::TempDir,
    llm_base_url: Option<&str>,
    settings: &[(&str, &str)],
) -> chitin::config::Config {
    let mut env: Vec<(String, String)> = vec![
        ("CHITIN_DATA_DIR".into(), dir.path().join("data").display().to_string()),
        ("CHITIN_GATEWAY__BIND".into(), "127.0.0.1:0".into()),
        ("CHITIN_GATEWAY__TOKEN".into(), TOKEN.into()),
        ("CHITIN_LLM__MAX_RETRIES".into(), "0".into()),
        ("CHITIN_SUPERVISION__INITIAL_BACKOFF_MS".into(), "5".into()),
    ];
    if let Some(base_url) = llm_base_url {
        env.push(("CHITIN_LLM__BASE_URL".into(), base_url.into()));
        env.push(("CHITIN_LLM__API_KEY".into(), "sk-test-key".into()));
        env.push(("CHITIN_LLM__MODEL".into(), "test-model".into()));
    }
    env.extend(settings.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    load(&ConfigSources { explicit_file: None, default_file: None, env }).expect("valid test config")
}

/// Polls `check` until it returns Some, for up to 20 s.
pub async fn eventually<T, F, Fut>(what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
