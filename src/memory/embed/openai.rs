//! Client for any OpenAI-compatible `/v1/embeddings` endpoint, with batching and retries.

use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tracing::Instrument;

use super::config::OpenAiConfig;
use super::{EmbedError, EmbedFuture, Embedder, Embedding, validate_embeddings};

/// Longest wait between two attempts, whatever the backoff or `Retry-After` says.
const MAX_RETRY_DELAY: Duration = Duration::from_secs(30);

/// Error bodies are cut to this many bytes in messages: enough to read the reason, short enough
/// not to flood logs with an HTML error page.
const ERROR_BODY_LIMIT: usize = 300;

/// A bearer token for an embeddings endpoint; its `Debug` never shows the value.
#[derive(Clone, PartialEq, Eq, Deserialize)]
#[serde(transparent)]
pub struct ApiKey(String);

impl ApiKey {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The value, for the request header and for resolving a `secret:NAME` reference.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

/// `chitin config show` prints the key as redacted, never its value.
impl Serialize for ApiKey {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str("<redacted>")
    }
}

impl fmt::Debug for ApiKey {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str("ApiKey(<redacted>)")
    }
}

/// Embeds through an OpenAI-compatible HTTP API.
pub struct OpenAiEmbedder {
    client: reqwest::Client,
    endpoint: String,
    model_id: String,
    config: OpenAiConfig,
    batch_size: usize,
}

#[derive(Serialize)]
struct EmbeddingsRequest<'a> {
    model: &'a str,
    input: &'a [String],
    #[serde(skip_serializing_if = "Option::is_none")]
    dimensions: Option<usize>,
}

#[derive(Deserialize)]
struct EmbeddingsResponse {
    data: Vec<EmbeddingItem>,
}

#[derive(Deserialize)]
struct EmbeddingItem {
    index: usize,
    /// Read as f64 so a value beyond f32's range becomes infinity (and is rejected as not finite by validation)
    /// rather than failing the whole parse, whichever serde_json float features the build enables.
    embedding: Vec<f64>,
}

impl OpenAiEmbedder {
    /// Builds the client; no request is sent until the first `embed`.
    pub fn new(config: &OpenAiConfig, batch_size: usize) -> Result<Self, EmbedError> {
        let client =
            reqwest::Client::builder().timeout(Duration::from_secs(config.timeout_secs.max(1))).build().map_err(
                |source| EmbedError::InvalidConfig { reason: format!("could not build the HTTP client: {source}") },
            )?;
        Ok(Self {
            client,
            endpoint: format!("{}/embeddings", config.base_url.trim_end_matches('/')),
            model_id: config.model.clone(),
            config: config.clone(),
            batch_size: batch_size.max(1),
        })
    }

    async fn embed_batch(&self, batch: &[String]) -> Result<Vec<Embedding>, EmbedError> {
        let request = EmbeddingsRequest {
            model: &self.config.model,
            input: batch,
            dimensions: self.config.send_dimensions.then_some(self.config.dims),
        };
        let body = self.post_with_retries(&request).await?;
        let mut vectors = self.parse(&body)?;
        vectors.sort_by_key(|item| item.index);
        let vectors: Vec<Embedding> =
            vectors.into_iter().map(|item| item.embedding.into_iter().map(|value| value as f32).collect()).collect();
        validate_embeddings(&self.model_id, self.config.dims, batch.len(), &vectors)?;
        Ok(vectors)
    }

    fn parse(&self, body: &[u8]) -> Result<Vec<EmbeddingItem>, EmbedError> {
        match serde_json::from_slice::<EmbeddingsResponse>(body) {
            Ok(response) => Ok(response.data),
            Err(error) => {
                // Python servers serialise NaN as a bare `NaN` token, which is not JSON; name it
                // instead of reporting a syntax error at some column.
                let text = String::from_utf8_lossy(body);
                let detail = if text.contains("NaN") || text.contains("Infinity") {
                    "a vector contains NaN or Infinity".to_string()
                } else {
                    error.to_string()
                };
                Err(EmbedError::Malformed { endpoint: self.endpoint.clone(), detail })
            }
        }
    }

    async fn post_with_retries(&self, request: &EmbeddingsRequest<'_>) -> Result<Vec<u8>, EmbedError> {
        let max_attempts = self.config.max_retries + 1;
        let mut attempt = 0;
        loop {
            attempt += 1;
            let mut builder = self.client.post(&self.endpoint).json(request);
            if let Some(ApiKey(key)) = &self.config.api_key {
                builder = builder.bearer_auth(key);
            }
            let retry_after = match builder.send().await {
                Err(source) => {
                    if attempt >= max_attempts {
                        return Err(EmbedError::Unreachable {
                            endpoint: self.endpoint.clone(),
                            attempts: attempt,
                            source,
                        });
                    }
                    tracing::warn!(error = %source, attempt, "embedding request failed; retrying");
                    None
                }
                Ok(response) if response.status().is_success() => {
                    return match response.bytes().await {
                        Ok(bytes) => Ok(bytes.to_vec()),
                        Err(source) => {
                            Err(EmbedError::Unreachable { endpoint: self.endpoint.clone(), attempts: attempt, source })
                        }
                    };
                }
                Ok(response) => {
                    let status = response.status();
                    let retryable = status.as_u16() == 429 || status.is_server_error();
                    let retry_after = retry_after_header(&response);
                    if !retryable || attempt >= max_attempts {
                        let body = response.text().await.unwrap_or_default();
                        return Err(EmbedError::Status {
                            endpoint: self.endpoint.clone(),
                            status: status.as_u16(),
                            attempts: attempt,
                            body: truncate(&body, ERROR_BODY_LIMIT),
                        });
                    }
                    tracing::warn!(status = status.as_u16(), attempt, "embedding endpoint refused; retrying");
                    retry_after
                }
            };
            let backoff =
                Duration::from_millis(self.config.retry_base_delay_ms).saturating_mul(1 << (attempt - 1).min(16));
            tokio::time::sleep(retry_after.unwrap_or(backoff).min(MAX_RETRY_DELAY)).await;
        }
    }
}

fn retry_after_header(response: &reqwest::Response) -> Option<Duration> {
    let seconds: u64 = response.headers().get(reqwest::header::RETRY_AFTER)?.to_str().ok()?.trim().parse().ok()?;
    Some(Duration::from_secs(seconds))
}

fn truncate(text: &str, limit: usize) -> String {
    if text.len() <= limit {
        return text.to_string();
    }
    let mut end = limit;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &text[..end])
}

impl Embedder for OpenAiEmbedder {
    fn model_id(&self) -> &str {
        &self.model_id
    }

    fn dims(&self) -> usize {
        self.config.dims
    }

    fn embed<'a>(&'a self, texts: &'a [String]) -> EmbedFuture<'a> {
        let span = tracing::debug_span!("embed_remote", model = %self.model_id, texts = texts.len());
        Box::pin(
            async move {
                let mut vectors = Vec::with_capacity(texts.len());
                for batch in texts.chunks(self.batch_size) {
                    vectors.extend(self.embed_batch(batch).await?);
                }
                Ok(vectors)
            }
            .instrument(span),
        )
    }
}
