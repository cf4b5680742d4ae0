//! The `channels.slack` config section.

use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Deserializer, Serialize};

use crate::outbound::RateLimits;

/// Slack's Web API; tests point `api_url` at a fake.
pub const DEFAULT_API_URL: &str = "https://slack.com/api";

/// How Slack's events reach Chitin.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SlackMode {
    /// Slack POSTs events to the gateway at `/slack/events` (needs a public URL and `signing_secret`).
    Events,
    /// Chitin opens a WebSocket to Slack (needs `app_token`; works behind NAT).
    Socket,
}

#[derive(Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct SlackConfig {
    /// Start the Slack channel.
    pub enabled: bool,
    /// `events` (HTTP push to the gateway) or `socket` (Socket Mode WebSocket).
    pub mode: SlackMode,
    /// Bot token (`xoxb-…`): a literal or `secret:NAME`, resolved by the caller; never printed.
    #[serde(serialize_with = "crate::redact::credential_string")]
    pub bot_token: String,
    /// App-level token (`xapp-…`) for Socket Mode: a literal or `secret:NAME`, resolved by the caller.
    #[serde(serialize_with = "crate::redact::credential_string")]
    pub app_token: String,
    /// Signing secret that authenticates Events API requests: a literal or `secret:NAME`, resolved by the caller.
    #[serde(serialize_with = "crate::redact::credential_string")]
    pub signing_secret: String,
    /// Base URL of the Web API (methods are `POST {api_url}/{method}`).
    pub api_url: String,
    /// Slack user ids (`U…`) allowed to talk to Chitin; anyone else is offered a pairing code. Also accepts a
    /// comma-separated string, as it arrives from an environment variable.
    #[serde(deserialize_with = "user_ids")]
    pub allowed_users: Vec<String>,
    /// Largest Events API request body accepted; real events are a few KiB, so anything near this is refused.
    pub max_body_bytes: usize,
    /// Outbound limits; Slack allows about one message per second per channel.
    pub rate_limits: RateLimits,
    /// First delay after a failed Web API call, in milliseconds; doubles per failure in a row.
    pub retry_initial_ms: u64,
    /// Longest delay between retries, in milliseconds.
    pub retry_max_ms: u64,
    /// Seconds to wait before reconnecting a Socket Mode connection that could not be opened (at least 1).
    pub socket_reconnect_secs: u64,
}

impl Default for SlackConfig {
    fn default() -> Self {
        Self {
            enabled: false,
            mode: SlackMode::Events,
            bot_token: String::new(),
            app_token: String::new(),
            signing_secret: String::new(),
            api_url: DEFAULT_API_URL.into(),
            allowed_users: Vec::new(),
            max_body_bytes: 512 * 1024,
            rate_limits: RateLimits { global_per_second: 20.0, per_chat_per_second: 1.0, per_group_per_minute: 0.0 },
            retry_initial_ms: 1_000,
            retry_max_ms: 60_000,
            socket_reconnect_secs: 5,
        }
    }
}

impl SlackConfig {
    pub fn retry_initial(&self) -> Duration {
        Duration::from_millis(self.retry_initial_ms)
    }

    pub fn retry_max(&self) -> Duration {
        Duration::from_millis(self.retry_max_ms.max(self.retry_initial_ms))
    }
}

impl fmt::Debug for SlackConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SlackConfig")
            .field("enabled", &self.enabled)
            .field("mode", &self.mode)
            .field("bot_token", &"<redacted>")
            .field("app_token", &"<redacted>")
            .field("signing_secret", &"<redacted>")
            .field("api_url", &self.api_url)
            .field("allowed_users", &self.allowed_users)
            .field("max_body_bytes", &self.max_body_bytes)
            .finish_non_exhaustive()
    }
}

/// Accepts `["U1", "U2"]` (TOML) as well as `"U1,U2"` (environment variable).
fn user_ids<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Raw {
        List(Vec<String>),
        Text(String),
    }
    let ids = match Raw::deserialize(deserializer)? {
        Raw::List(ids) => ids,
        Raw::Text(text) => text.split(',').map(|part| part.trim().to_string()).collect(),
    };
    Ok(ids.into_iter().filter(|id| !id.is_empty()).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_mode_and_comma_separated_users_and_hides_secrets() {
        let config: SlackConfig = serde_json::from_str(
            r#"{"mode": "socket", "allowed_users": "U1, U2", "signing_secret": "s3cr3t", "app_token": "xapp-1"}"#,
        )
        .expect("valid section");
        assert_eq!(config.mode, SlackMode::Socket);
        assert_eq!(config.allowed_users, vec!["U1".to_string(), "U2".to_string()]);
        let printed = format!("{config:?}");
        assert!(!printed.contains("s3cr3t") && !printed.contains("xapp-1"), "{printed}");
        let error = serde_json::from_str::<SlackConfig>(r#"{"mode": "webhook"}"#).expect_err("unknown mode");
        assert!(error.to_string().contains("webhook"), "{error}");
        let error = serde_json::from_str::<SlackConfig>(r#"{"signing_secrets": "x"}"#).expect_err("typo");
        assert!(error.to_string().contains("signing_secrets"), "{error}");
    }
}
