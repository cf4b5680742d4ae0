//! The `[llm]` config section: which model providers to call, in which order, and how patiently.

use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// Which wire protocol a provider speaks; a closed set, so unknown names are config errors.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ProviderKind {
    /// OpenAI Chat Completions, also spoken by most self-hosted servers (vLLM, llama.cpp, Ollama).
    #[default]
    OpenAi,
    /// Anthropic Messages.
    Anthropic,
}

impl ProviderKind {
    /// Where the provider's public API lives when `base_url` is not set.
    pub fn default_base_url(self) -> &'static str {
        match self {
            ProviderKind::OpenAi => "https://api.openai.com/v1",
            ProviderKind::Anthropic => "https://api.anthropic.com",
        }
    }

    /// A model that exists on the provider's public API, so a config with only a key still works.
    pub fn default_model(self) -> &'static str {
        match self {
            ProviderKind::OpenAi => "gpt-4o-mini",
            ProviderKind::Anthropic => "claude-sonnet-4-5",
        }
    }
}

impl fmt::Display for ProviderKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ProviderKind::OpenAi => "openai",
            ProviderKind::Anthropic => "anthropic",
        })
    }
}

/// An API key as written in config: a literal or `secret:NAME`; it never prints (see [`SecretValue`]).
pub type ApiKey = crate::config::SecretValue;

/// The `llm` section: the primary provider inline, then the chain of fallbacks.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct LlmConfig {
    /// Wire protocol of the primary provider: `openai` (default) or `anthropic`.
    pub provider: ProviderKind,
    /// API root; OpenAI-style URLs include `/v1`. Defaults to the provider's public API, and is how
    /// self-hosted servers (and the test fakes) are reached.
    pub base_url: Option<String>,
    /// A literal key or `secret:NAME`; resolved by the secrets service before the client is built.
    pub api_key: Option<ApiKey>,
    /// Model name sent with every request; defaults per provider.
    pub model: Option<String>,
    /// Longest wait for a whole non-streamed answer, and for each chunk of a streamed one, so a
    /// hung provider turns into an error instead of a stuck conversation.
    pub request_timeout_secs: u64,
    /// Longest wait for the TCP/TLS connection; kept short so a down provider fails over quickly.
    pub connect_timeout_secs: u64,
    /// Retries per provider after the first attempt, for errors that may pass (5xx, 429, timeouts).
    pub max_retries: u32,
    /// How long a provider that just failed is skipped before it is tried again.
    pub cooldown_secs: u64,
    /// Providers tried in order when the primary is failing or rate-limited.
    pub fallbacks: Vec<ProviderConfig>,
}

impl Default for LlmConfig {
    fn default() -> Self {
        LlmConfig {
            provider: ProviderKind::OpenAi,
            base_url: None,
            api_key: None,
            model: None,
            request_timeout_secs: 120,
            connect_timeout_secs: 10,
            max_retries: 2,
            cooldown_secs: 60,
            fallbacks: Vec::new(),
        }
    }
}

/// One fallback provider; timeouts left out are taken from the primary.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct ProviderConfig {
    /// Wire protocol: `openai` (default) or `anthropic`.
    pub provider: ProviderKind,
    /// API root, as for the primary.
    pub base_url: Option<String>,
    /// A literal key or `secret:NAME`.
    pub api_key: Option<ApiKey>,
    /// Model name; defaults per provider.
    pub model: Option<String>,
    /// Overrides `llm.request_timeout_secs` for this provider (a slower local model, say).
    pub request_timeout_secs: Option<u64>,
    /// Overrides `llm.connect_timeout_secs` for this provider.
    pub connect_timeout_secs: Option<u64>,
}

/// Everything one provider client needs, with defaults applied and the key already resolved.
#[derive(Debug, Clone)]
pub struct ProviderSettings {
    /// Wire protocol.
    pub kind: ProviderKind,
    /// API root without a trailing slash.
    pub base_url: String,
    /// Sent as a bearer token (OpenAI) or `x-api-key` (Anthropic); local servers often need none.
    pub api_key: Option<ApiKey>,
    /// Model name.
    pub model: String,
    /// See [`LlmConfig::request_timeout_secs`].
    pub request_timeout: Duration,
    /// See [`LlmConfig::connect_timeout_secs`].
    pub connect_timeout: Duration,
}

impl LlmConfig {
    /// The primary followed by the fallbacks, in the order the chain tries them.
    pub fn provider_settings(&self) -> Vec<ProviderSettings> {
        let primary = ProviderConfig {
            provider: self.provider,
            base_url: self.base_url.clone(),
            api_key: self.api_key.clone(),
            model: self.model.clone(),
            request_timeout_secs: None,
            connect_timeout_secs: None,
        };
        std::iter::once(&primary).chain(&self.fallbacks).map(|provider| self.settings_for(provider)).collect()
    }

    fn settings_for(&self, provider: &ProviderConfig) -> ProviderSettings {
        let kind = provider.provider;
        let base_url = provider.base_url.as_deref().unwrap_or(kind.default_base_url()).trim_end_matches('/').to_owned();
        ProviderSettings {
            kind,
            base_url,
            api_key: provider.api_key.clone(),
            model: provider.model.clone().unwrap_or_else(|| kind.default_model().to_owned()),
            request_timeout: Duration::from_secs(provider.request_timeout_secs.unwrap_or(self.request_timeout_secs)),
            connect_timeout: Duration::from_secs(provider.connect_timeout_secs.unwrap_or(self.connect_timeout_secs)),
        }
    }
}
