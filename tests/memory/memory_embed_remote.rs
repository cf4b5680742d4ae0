//! The OpenAI-compatible embedder against a real HTTP fake: batching, retries, validation, cache.

use std::sync::Arc;

use chitin::memory::embed::{
    ApiKey, CachedEmbedder, EmbedError, Embedder, LruEmbeddingCache, OpenAiConfig, OpenAiEmbedder,
};

use crate::support::memory_fake_embeddings::{Behaviour, FakeEmbeddingServer, fake_vector};

fn client_config(server: &FakeEmbeddingServer, dims: usize) -> OpenAiConfig {
    OpenAiConfig {
        base_url: server.base_url.clone(),
        model: "fake-embed".to_string(),
        dims,
        max_retries: 3,
        retry_base_delay_ms: 5,
        timeout_secs: 5,
        ..OpenAiConfig::default()
    }
}

fn texts(values: &[&str]) -> Vec<String> {
    values.iter().map(|value| value.to_string()).collect()
}

#[tokio::test]
async fn batches_requests_and_keeps_input_order() {
    let server = FakeEmbeddingServer::start(Behaviour::Healthy { dims: 4 }).await;
    let embedder = OpenAiEmbedder::new(&client_config(&server, 4), 2).expect("client");
    let input = texts(&["alpha", "beta", "gamma", "delta", "epsilon"]);

    let vectors = embedder.embed(&input).await.expect("embed");

    let expected: Vec<Vec<f32>> = input.iter().map(|text| fake_vector(text, 4)).collect();
    assert_eq!(vectors, expected, "vectors follow input order although the fake reverses them");
    let sizes: Vec<usize> = server.inputs().iter().map(Vec::len).collect();
    assert_eq!(sizes, vec![2, 2, 1]);
}

#[tokio::test]
async fn empty_input_sends_nothing() {
    let server = FakeEmbeddingServer::start(Behaviour::Healthy { dims: 4 }).await;
    let embedder = OpenAiEmbedder::new(&client_config(&server, 4), 8).expect("client");
    assert!(embedder.embed(&[]).await.expect("embed").is_empty());
    assert_eq!(server.requests(), 0);
}

#[tokio::test]
async fn retries_overload_then_succeeds() {
    let server = FakeEmbeddingServer::start(Behaviour::FailFirst { failures: 2, status: 503, dims: 3 }).await;
    let embedder = OpenAiEmbedder::new(&client_config(&server, 3), 8).expect("client");
    let vectors = embedder.embed(&texts(&["hello"])).await.expect("third attempt succeeds");
    assert_eq!(vectors, vec![fake_vector("hello", 3)]);
    assert_eq!(server.requests(), 3);
}

#[tokio::test]
async fn rate_limits_are_retried_too() {
    let server = FakeEmbeddingServer::start(Behaviour::FailFirst { failures: 1, status: 429, dims: 3 }).await;
    let embedder = OpenAiEmbedder::new(&client_config(&server, 3), 8).expect("client");
    embedder.embed(&texts(&["hello"])).await.expect("second attempt succeeds");
    assert_eq!(server.requests(), 2);
}

#[tokio::test]
async fn gives_up_after_max_retries_with_the_status() {
    let server = FakeEmbeddingServer::start(Behaviour::FailFirst { failures: 100, status: 500, dims: 3 }).await;
    let mut config = client_config(&server, 3);
    config.max_retries = 2;
    let embedder = OpenAiEmbedder::new(&config, 8).expect("client");
    let error = embedder.embed(&texts(&["hello"])).await.expect_err("must fail");
    assert!(matches!(error, EmbedError::Status { status: 500, attempts: 3, .. }), "{error}");
    assert!(error.to_string().contains("upstream overloaded"), "{error}");
    assert_eq!(server.requests(), 3);
}

#[tokio::test]
async fn client_errors_are_not_retried() {
    let server = FakeEmbeddingServer::start(Behaviour::FailFirst { failures: 100, status: 400, dims: 3 }).await;
    let embedder = OpenAiEmbedder::new(&client_config(&server, 3), 8).expect("client");
    let error = embedder.embed(&texts(&["hello"])).await.expect_err("must fail");
    assert!(matches!(error, EmbedError::Status { status: 400, attempts: 1, .. }), "{error}");
    assert_eq!(server.requests(), 1);
}

#[tokio::test]
async fn unreachable_endpoint_is_reported_after_retries() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let address = listener.local_addr().expect("addr");
    drop(listener);
    let config = OpenAiConfig {
        base_url: format!("http://{address}/v1"),
        max_retries: 1,
        retry_base_delay_ms: 1,
        timeout_secs: 2,
        ..OpenAiConfig::default()
    };
    let embedder = OpenAiEmbedder::new(&config, 8).expect("client");
    let error = embedder.embed(&texts(&["hello"])).await.expect_err("must fail");
    assert!(matches!(error, EmbedError::Unreachable { attempts: 2, .. }), "{error}");
    assert!(error.to_string().contains(&address.to_string()), "{error}");
}

#[tokio::test]
async fn wrong_dimensions_are_rejected_with_a_clear_message() {
    let server = FakeEmbeddingServer::start(Behaviour::WrongDimensions { returned: 3 }).await;
    let embedder = OpenAiEmbedder::new(&client_config(&server, 4), 8).expect("client");
    let error = embedder.embed(&texts(&["a", "b"])).await.expect_err("must fail");
    assert_eq!(error.to_string(), "embedder fake-embed returned a 3-dimension vector for input 0; expected 4");
}

#[tokio::test]
async fn nan_in_the_response_is_rejected() {
    let server = FakeEmbeddingServer::start(Behaviour::NanLiteral { dims: 4 }).await;
    let embedder = OpenAiEmbedder::new(&client_config(&server, 4), 8).expect("client");
    let error = embedder.embed(&texts(&["a", "b"])).await.expect_err("must fail");
    assert!(matches!(error, EmbedError::Malformed { .. }), "{error}");
    assert!(error.to_string().contains("NaN"), "{error}");
}

#[tokio::test]
async fn values_beyond_f32_are_rejected_as_not_finite() {
    let server = FakeEmbeddingServer::start(Behaviour::Overflow { dims: 4 }).await;
    let embedder = OpenAiEmbedder::new(&client_config(&server, 4), 8).expect("client");
    let error = embedder.embed(&texts(&["a", "b"])).await.expect_err("must fail");
    assert!(matches!(error, EmbedError::NotFinite { index: 0, .. }), "{error}");
}

#[tokio::test]
async fn api_key_is_sent_as_bearer_and_never_debug_printed() {
    let server = FakeEmbeddingServer::start(Behaviour::Healthy { dims: 2 }).await;
    let mut config = client_config(&server, 2);
    config.api_key = Some(ApiKey::new("sk-test-4242"));
    let embedder = OpenAiEmbedder::new(&config, 8).expect("client");
    embedder.embed(&texts(&["x"])).await.expect("embed");
    assert_eq!(server.authorization_headers(), vec![Some("Bearer sk-test-4242".to_string())]);
    assert!(!format!("{config:?}").contains("sk-test-4242"));
}

#[tokio::test]
async fn cache_embeds_each_unchanged_text_once() {
    let server = FakeEmbeddingServer::start(Behaviour::Healthy { dims: 4 }).await;
    let remote: Arc<dyn Embedder> = Arc::new(OpenAiEmbedder::new(&client_config(&server, 4), 8).expect("client"));
    let cached = CachedEmbedder::new(remote, Arc::new(LruEmbeddingCache::new(100)));

    let first = cached.embed(&texts(&["a", "b", "a"])).await.expect("first");
    let second = cached.embed(&texts(&["b", "c", "a"])).await.expect("second");

    assert_eq!(server.inputs(), vec![texts(&["a", "b"]), texts(&["c"])]);
    assert_eq!(first, vec![fake_vector("a", 4), fake_vector("b", 4), fake_vector("a", 4)]);
    assert_eq!(second, vec![fake_vector("b", 4), fake_vector("c", 4), fake_vector("a", 4)]);
    let third = cached.embed(&texts(&["c", "a"])).await.expect("third");
    assert_eq!(third.len(), 2);
    assert_eq!(server.requests(), 2, "fully cached call sends nothing");
}

#[tokio::test]
async fn cache_does_not_store_rejected_vectors() {
    let server = FakeEmbeddingServer::start(Behaviour::WrongDimensions { returned: 2 }).await;
    let remote: Arc<dyn Embedder> = Arc::new(OpenAiEmbedder::new(&client_config(&server, 4), 8).expect("client"));
    let cached = CachedEmbedder::new(remote, Arc::new(LruEmbeddingCache::new(100)));
    assert!(cached.embed(&texts(&["a"])).await.is_err());
    assert!(cached.embed(&texts(&["a"])).await.is_err());
    assert_eq!(server.requests(), 2, "a rejected vector is asked for again, never served from cache");
}
