//! The one trait every model provider implements, and building a provider from its settings.

use std::sync::Arc;

use futures::future::BoxFuture;
use reqwest::header::HeaderValue;

use super::anthropic::AnthropicProvider;
use super::config::{ApiKey, ProviderKind, ProviderSettings};
use super::error::{LlmError, ProviderId};
use super::openai::OpenAiProvider;
use super::streaming::ChatStream;
use super::types::{ChatRequest, ChatResponse};

/// A chat model behind some wire protocol. Object-safe (boxed futures), because the agent holds
/// an `Arc<dyn LlmProvider>` and does not care whether that is one client or a failover chain.
pub trait LlmProvider: Send + Sync {
    /// Which provider this is, for logs and errors.
    fn id(&self) -> &ProviderId;

    /// One request, one whole answer.
    fn complete<'a>(&'a self, request: &'a ChatRequest) -> BoxFuture<'a, Result<ChatResponse, LlmError>>;

    /// One request, answered as a stream. The outer `Result` covers getting the stream started
    /// (where retries and failover still apply); errors inside the stream end it.
    fn stream<'a>(&'a self, request: &'a ChatRequest) -> BoxFuture<'a, Result<ChatStream, LlmError>>;
}

impl ProviderSettings {
    /// `kind/model@host`: enough to tell two configured providers apart, and free of secrets
    /// (a base URL may carry credentials in its userinfo, so only host and port are kept).
    pub fn provider_id(&self) -> ProviderId {
        let host = reqwest::Url::parse(&self.base_url)
            .ok()
            .and_then(|url| {
                let host = url.host_str()?.to_owned();
                Some(match url.port() {
                    Some(port) => format!("{host}:{port}"),
                    None => host,
                })
            })
            .unwrap_or_else(|| "invalid-url".to_owned());
        ProviderId(format!("{}/{}@{host}", self.kind, self.model))
    }
}

/// Builds the client for one provider.
pub fn build_provider(settings: &ProviderSettings) -> Result<Arc<dyn LlmProvider>, LlmError> {
    Ok(match settings.kind {
        ProviderKind::OpenAi => Arc::new(OpenAiProvider::new(settings)?),
        ProviderKind::Anthropic => Arc::new(AnthropicProvider::new(settings)?),
    })
}

/// The header carrying the key, marked sensitive so it never shows in debug output.
pub(crate) fn header_value(
    provider: &ProviderId,
    api_key: &ApiKey,
    format: impl FnOnce(&str) -> String,
) -> Result<HeaderValue, LlmError> {
    if let Some(name) = api_key.secret_name() {
        return Err(LlmError::UnresolvedSecret { provider: provider.clone(), name: name.to_owned() });
    }
    let mut value = HeaderValue::from_str(&format(api_key.expose()))
        .map_err(|_invalid| LlmError::InvalidApiKey { provider: provider.clone() })?;
    value.set_sensitive(true);
    Ok(value)
}
