//! HTTP for model providers: send a JSON request, turn bad statuses into typed errors, read JSON or SSE.

use std::time::{Duration, SystemTime};

use eventsource_stream::{Event, EventStreamError, Eventsource};
use futures::StreamExt;
use futures::stream::{self, BoxStream};
use reqwest::header::{CONTENT_TYPE, HeaderMap, RETRY_AFTER};
use reqwest::{Response, StatusCode};
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::config::ProviderSettings;
use super::error::{LlmError, ProviderId};

/// Longest provider error text kept in an error message; bodies can be whole HTML pages.
const ERROR_DETAIL_LIMIT: usize = 300;

/// Room beyond the previous request's size in a new request body's buffer: a turn adds a message or two.
const BODY_SLACK: usize = 1024;

/// Server-sent events of one streamed answer, already checked for transport errors and stalls.
pub(crate) type SseEvents = BoxStream<'static, Result<Event, LlmError>>;

/// A request body already serialized by [`Endpoint::encode`].
pub(crate) struct EncodedBody(Vec<u8>);

/// One provider endpoint: the URL to post to, fixed headers, and the timeouts to apply.
#[derive(Debug, Clone)]
pub(crate) struct Endpoint {
    client: reqwest::Client,
    /// Where to post, parsed once here rather than by every request; the text when it does not parse, so each
    /// request still fails with reqwest's own error.
    url: Result<reqwest::Url, String>,
    headers: HeaderMap,
    provider: ProviderId,
    request_timeout: Duration,
    /// Size of the last request body, so the next one is serialized into a buffer that seldom has to grow: a
    /// conversation's request changes little from one call to the next, and growing a 10 KB body from nothing
    /// copied it about seven times.
    last_body_bytes: std::sync::Arc<std::sync::atomic::AtomicUsize>,
}

impl Endpoint {
    /// Builds the client once per provider so connections are pooled across turns.
    pub(crate) fn new(
        settings: &ProviderSettings,
        provider: ProviderId,
        url: String,
        headers: HeaderMap,
    ) -> Result<Self, LlmError> {
        // No whole-request timeout on the client: it would also cut long streamed answers.
        // Non-streamed calls set one per request; streams time out per chunk instead.
        let client = reqwest::Client::builder()
            .connect_timeout(settings.connect_timeout)
            .build()
            .map_err(|source| LlmError::ClientSetup { provider: provider.clone(), source })?;
        Ok(Endpoint {
            client,
            url: reqwest::Url::parse(&url).map_err(|_| url),
            headers,
            provider,
            request_timeout: settings.request_timeout,
            last_body_bytes: Default::default(),
        })
    }

    pub(crate) fn provider(&self) -> &ProviderId {
        &self.provider
    }

    /// Posts `body` and decodes the JSON answer, all within the request timeout.
    pub(crate) async fn post_json<T: DeserializeOwned>(&self, body: EncodedBody) -> Result<T, LlmError> {
        let response = self
            .request(body, false)
            .timeout(self.request_timeout)
            .send()
            .await
            .map_err(|error| LlmError::from_send(&self.provider, self.request_timeout, error))?;
        let response = self.check_status(response).await?;
        let bytes =
            response.bytes().await.map_err(|error| LlmError::from_send(&self.provider, self.request_timeout, error))?;
        serde_json::from_slice(&bytes).map_err(|error| LlmError::MalformedResponse {
            provider: self.provider.clone(),
            detail: format!("response body is not the expected json ({error})"),
        })
    }

    /// Posts `body` and returns its server-sent events. The headers must arrive within the
    /// request timeout, and then each chunk within the same timeout, so a stalled stream ends
    /// in [`LlmError::Timeout`] rather than hanging the conversation.
    pub(crate) async fn post_sse(&self, body: EncodedBody) -> Result<SseEvents, LlmError> {
        let request = self.request(body, true);
        let start = async {
            let response = request
                .send()
                .await
                .map_err(|error| LlmError::from_send(&self.provider, self.request_timeout, error))?;
            self.check_status(response).await
        };
        let response = tokio::time::timeout(self.request_timeout, start).await.map_err(|_elapsed| self.timeout())??;
        let content_type =
            response.headers().get(CONTENT_TYPE).and_then(|value| value.to_str().ok()).unwrap_or_default();
        // A server that ignores `stream: true` answers with plain JSON; say so instead of
        // reporting an empty stream as a dropped connection.
        if !content_type.starts_with("text/event-stream") {
            return Err(LlmError::MalformedResponse {
                provider: self.provider.clone(),
                detail: format!("expected an event stream, got content type {content_type:?}"),
            });
        }
        let events = response.bytes_stream().eventsource();
        let provider = self.provider.clone();
        let idle_timeout = self.request_timeout;
        let events = stream::unfold(Some(events), move |state| {
            let provider = provider.clone();
            async move {
                let mut events = state?;
                match tokio::time::timeout(idle_timeout, events.next()).await {
                    Err(_elapsed) => Some((Err(LlmError::Timeout { provider, after: idle_timeout }), None)),
                    Ok(None) => None,
                    Ok(Some(Ok(event))) => Some((Ok(event), Some(events))),
                    Ok(Some(Err(error))) => Some((Err(sse_error(provider, error)), None)),
                }
            }
        });
        Ok(events.boxed())
    }

    /// `body` as JSON, ready for [`Endpoint::post_json`] or [`Endpoint::post_sse`]. Serialized here rather than by
    /// reqwest so the prompt size, which dominates cost and latency, can be logged for every call, and as a step of its
    /// own so the request structure (an entry for every message of the conversation) is dropped before the exchange is
    /// awaited: held across it, it was 1.2 MB of heap with 256 turns waiting on the model.
    pub(crate) fn encode(&self, body: &impl Serialize) -> Result<EncodedBody, LlmError> {
        use std::sync::atomic::Ordering;
        let mut encoded = Vec::with_capacity(self.last_body_bytes.load(Ordering::Relaxed) + BODY_SLACK);
        serde_json::to_writer(&mut encoded, body)
            .map_err(|source| LlmError::EncodeRequest { provider: self.provider.clone(), source })?;
        self.last_body_bytes.store(encoded.len(), Ordering::Relaxed);
        Ok(EncodedBody(encoded))
    }

    /// The POST with its JSON body.
    fn request(&self, body: EncodedBody, stream: bool) -> reqwest::RequestBuilder {
        tracing::debug!(provider = %self.provider, prompt_bytes = body.0.len(), stream, "sending model request");
        let post = match &self.url {
            Ok(url) => self.client.post(url.clone()),
            Err(text) => self.client.post(text),
        };
        post.headers(self.headers.clone()).header(CONTENT_TYPE, "application/json").body(body.0)
    }

    fn timeout(&self) -> LlmError {
        LlmError::Timeout { provider: self.provider.clone(), after: self.request_timeout }
    }

    /// Passes 2xx responses through and turns the rest into the matching [`LlmError`].
    async fn check_status(&self, response: Response) -> Result<Response, LlmError> {
        let status = response.status();
        if status.is_success() {
            return Ok(response);
        }
        let provider = self.provider.clone();
        if status == StatusCode::TOO_MANY_REQUESTS {
            let retry_after = retry_after(response.headers(), SystemTime::now());
            return Err(LlmError::RateLimited { provider, retry_after });
        }
        // The body is only context for the message; failing to read it must not hide the status.
        let body = response.text().await.unwrap_or_default();
        let detail = error_detail(&body);
        let status = status.as_u16();
        Err(match status {
            401 | 403 => LlmError::Unauthorized { provider, status },
            500.. => LlmError::ServerError { provider, status, detail },
            _ => LlmError::Rejected { provider, status, detail },
        })
    }
}

fn sse_error(provider: ProviderId, error: EventStreamError<reqwest::Error>) -> LlmError {
    match error {
        // Streams carry no reqwest timeout (stalls are caught above), so any transport error
        // here is the connection breaking.
        EventStreamError::Transport(_) => LlmError::StreamDropped { provider },
        EventStreamError::Utf8(error) => {
            LlmError::MalformedResponse { provider, detail: format!("event stream is not utf-8 ({error})") }
        }
        EventStreamError::Parser(error) => LlmError::MalformedResponse {
            provider,
            detail: format!("event stream is not valid server-sent events ({error})"),
        },
    }
}

/// The wait a 429 asks for. OpenAI sends `retry-after-ms` (precise) next to the standard
/// `Retry-After`, which is either whole seconds or an HTTP date.
pub(crate) fn retry_after(headers: &HeaderMap, now: SystemTime) -> Option<Duration> {
    let header = |name: &str| headers.get(name).and_then(|value| value.to_str().ok());
    let millis = header("retry-after-ms").and_then(|value| value.trim().parse::<f64>().ok());
    if let Some(millis) = millis.filter(|millis| millis.is_finite() && *millis >= 0.0) {
        return Some(Duration::from_secs_f64(millis / 1000.0));
    }
    let value = header(RETRY_AFTER.as_str())?.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let date = httpdate::parse_http_date(value).ok()?;
    Some(date.duration_since(now).unwrap_or(Duration::ZERO))
}

/// A short, single-line reason from an error body: the JSON `error.message` both providers use,
/// or the start of the raw text.
fn error_detail(body: &str) -> String {
    let message = serde_json::from_str::<serde_json::Value>(body)
        .ok()
        .and_then(|json| json.pointer("/error/message").and_then(|message| message.as_str()).map(str::to_owned))
        .unwrap_or_else(|| body.trim().to_owned());
    let single_line = message.split_whitespace().collect::<Vec<_>>().join(" ");
    if single_line.is_empty() {
        return "no details given".to_owned();
    }
    match single_line.char_indices().nth(ERROR_DETAIL_LIMIT) {
        Some((cut, _)) => format!("{}…", &single_line[..cut]),
        None => single_line,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.insert(*name, HeaderValue::from_str(value).expect("valid header value"));
        }
        map
    }

    #[test]
    fn retry_after_prefers_milliseconds_then_seconds_then_dates() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000);
        let both = headers(&[("retry-after-ms", "250"), ("retry-after", "7")]);
        assert_eq!(retry_after(&both, now), Some(Duration::from_millis(250)));
        let seconds = headers(&[("retry-after", "7")]);
        assert_eq!(retry_after(&seconds, now), Some(Duration::from_secs(7)));
        let date = httpdate::fmt_http_date(now + Duration::from_secs(42));
        let dated = headers(&[("retry-after", &date)]);
        assert_eq!(retry_after(&dated, now), Some(Duration::from_secs(42)));
        let garbage = headers(&[("retry-after", "soon")]);
        assert_eq!(retry_after(&garbage, now), None);
    }

    #[test]
    fn error_detail_extracts_the_message_and_truncates() {
        assert_eq!(error_detail(r#"{"error":{"message":"model  not\nfound","type":"x"}}"#), "model not found");
        assert_eq!(error_detail("   "), "no details given");
        let long = "x".repeat(1000);
        assert_eq!(error_detail(&long).chars().count(), ERROR_DETAIL_LIMIT + 1);
    }
}
