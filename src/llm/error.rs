//! What can go wrong when calling a model, split into failures worth retrying and ones that are not.

use std::fmt;
use std::time::Duration;

/// Names one configured provider in errors and logs: protocol, model and host, never the key.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ProviderId(pub String);

impl fmt::Display for ProviderId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A failed model call. Messages name the provider and say what happened; they never carry the
/// prompt or the key.
#[derive(Debug, thiserror::Error)]
pub enum LlmError {
    /// The TCP or TLS connection could not be made: the provider is down or unreachable.
    #[error("could not connect to model provider {provider}")]
    Connect {
        provider: ProviderId,
        #[source]
        source: reqwest::Error,
    },
    /// The connection broke for another transport reason before an answer arrived.
    #[error("request to model provider {provider} failed in transit")]
    Transport {
        provider: ProviderId,
        #[source]
        source: reqwest::Error,
    },
    /// Nothing (or no next chunk) arrived in time: the provider is hung or overloaded.
    #[error("model provider {provider} did not answer within {}s", after.as_secs_f32())]
    Timeout { provider: ProviderId, after: Duration },
    /// HTTP 429; `retry_after` is what the provider asked us to wait, when it said.
    #[error("model provider {provider} is rate-limiting requests (HTTP 429)")]
    RateLimited { provider: ProviderId, retry_after: Option<Duration> },
    /// HTTP 5xx (including Anthropic's 529 "overloaded").
    #[error("model provider {provider} failed with HTTP {status}: {detail}")]
    ServerError { provider: ProviderId, status: u16, detail: String },
    /// HTTP 401/403: the key is wrong or lacks access; retrying cannot help.
    #[error("model provider {provider} refused the api key (HTTP {status})")]
    Unauthorized { provider: ProviderId, status: u16 },
    /// Another 4xx: the request itself is wrong (unknown model, prompt too long, bad tool schema).
    #[error("model provider {provider} rejected the request with HTTP {status}: {detail}")]
    Rejected { provider: ProviderId, status: u16, detail: String },
    /// The body was not the JSON or SSE this protocol promises.
    #[error("model provider {provider} sent a response that could not be understood: {detail}")]
    MalformedResponse { provider: ProviderId, detail: String },
    /// The stream ended or broke before the provider said the answer was complete.
    #[error("the connection to model provider {provider} dropped in the middle of the answer")]
    StreamDropped { provider: ProviderId },
    /// The provider reported an error inside an otherwise healthy stream.
    #[error("model provider {provider} reported an error mid-stream: {detail}")]
    StreamErrorEvent {
        provider: ProviderId,
        detail: String,
        /// Set for "overloaded"-type errors that may pass on retry.
        retryable: bool,
    },
    /// Every provider in the chain was tried and the last one still failed.
    #[error("the model provider is unavailable: failed after {attempts} attempts; last error: {last}")]
    Unavailable { attempts: u32, last: Box<LlmError> },
    /// Every provider failed recently and is cooling down, so no request was sent.
    #[error("the model provider is unavailable: every configured provider failed recently; next try in {}s", retry_in.as_secs())]
    AllCoolingDown { retry_in: Duration },
    /// The chain was built without any provider.
    #[error("no model provider is configured")]
    NoProviders,
    /// The api key still reads `secret:NAME`; the secrets service must resolve it first.
    #[error("api key for model provider {provider} is the unresolved reference secret:{name}")]
    UnresolvedSecret { provider: ProviderId, name: String },
    /// The HTTP client could not be set up (TLS backend, bad header value).
    #[error("could not set up the http client for model provider {provider}")]
    ClientSetup {
        provider: ProviderId,
        #[source]
        source: reqwest::Error,
    },
    /// The request could not be turned into JSON (a tool schema with non-string map keys).
    #[error("could not encode the request for model provider {provider}")]
    EncodeRequest {
        provider: ProviderId,
        #[source]
        source: serde_json::Error,
    },
    /// The api key contains characters that cannot go in an HTTP header.
    #[error("api key for model provider {provider} is not a valid http header value")]
    InvalidApiKey { provider: ProviderId },
}

impl LlmError {
    /// Whether the same request may succeed if sent again later, to this or another provider.
    pub fn is_retryable(&self) -> bool {
        match self {
            LlmError::Connect { .. }
            | LlmError::Transport { .. }
            | LlmError::Timeout { .. }
            | LlmError::RateLimited { .. }
            | LlmError::ServerError { .. }
            | LlmError::StreamDropped { .. } => true,
            LlmError::StreamErrorEvent { retryable, .. } => *retryable,
            LlmError::Unavailable { .. }
            | LlmError::AllCoolingDown { .. }
            | LlmError::Unauthorized { .. }
            | LlmError::Rejected { .. }
            | LlmError::MalformedResponse { .. }
            | LlmError::NoProviders
            | LlmError::UnresolvedSecret { .. }
            | LlmError::ClientSetup { .. }
            | LlmError::EncodeRequest { .. }
            | LlmError::InvalidApiKey { .. } => false,
        }
    }

    /// The wait the provider asked for, if this is a 429 that said.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            LlmError::RateLimited { retry_after, .. } => *retry_after,
            _ => None,
        }
    }

    /// Maps a reqwest failure that happened before or while sending the request.
    pub(crate) fn from_send(provider: &ProviderId, timeout: Duration, source: reqwest::Error) -> Self {
        let provider = provider.clone();
        if source.is_timeout() {
            LlmError::Timeout { provider, after: timeout }
        } else if source.is_connect() {
            LlmError::Connect { provider, source }
        } else {
            LlmError::Transport { provider, source }
        }
    }
}
