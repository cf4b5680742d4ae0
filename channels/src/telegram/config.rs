//! The `channels.telegram` config section.

use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Deserializer, Serialize};

use crate::outbound::RateLimits;

/// The official Bot API; tests point `api_url` at a fake.
pub const DEFAULT_API_URL: &str = "https://api.telegram.org";

#[derive(Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct TelegramConfig {
    /// Start the Telegram channel.
    pub enabled: bool,
    /// The bot token from @BotFather: a literal or `secret:NAME`, resolved by the caller before the channel
    /// starts. Never printed: it is part of every Bot API URL.
    #[serde(serialize_with = "crate::redact::credential_string")]
    pub bot_token: String,
    /// Base URL of the Bot API (requests go to `{api_url}/bot{token}/{method}`).
    pub api_url: String,
    /// Telegram user ids allowed to talk to Chitin; anyone else is offered a pairing code. Also accepts a
    /// comma-separated string, which is how it arrives from an environment variable.
    #[serde(deserialize_with = "user_ids")]
    pub allowed_users: Vec<u64>,
    /// In groups, only react to messages that mention the bot (`@name`) or reply to it, so it does not answer
    /// every message of a busy group.
    pub mention_required_in_groups: bool,
    /// How long one `getUpdates` long poll waits for news, in seconds; shorter means more requests.
    pub poll_timeout_secs: u32,
    /// Outbound limits; the defaults are Telegram's (30/s overall, 1/s per chat, 20/min per group).
    pub rate_limits: RateLimits,
    /// An answer still being written this long after the user's message is shown as a draft message that grows
    /// and is finally replaced by the reply, in milliseconds. Quicker answers arrive as one message.
    pub draft_after_ms: u64,
    /// Least time between two edits of a draft message, in milliseconds (edits count against the rate limits).
    pub draft_edit_interval_ms: u64,
    /// First delay after a failed Bot API call, in milliseconds; doubles per failure in a row.
    pub retry_initial_ms: u64,
    /// Longest delay between retries, in milliseconds, so a fixed token is noticed within this time.
    pub retry_max_ms: u64,
}

impl Default for TelegramConfig {
    fn default() -> Self {
        Self {
            enabled: false,
            bot_token: String::new(),
            api_url: DEFAULT_API_URL.into(),
            allowed_users: Vec::new(),
            mention_required_in_groups: true,
            poll_timeout_secs: 25,
            rate_limits: RateLimits::default(),
            draft_after_ms: 2_000,
            draft_edit_interval_ms: 1_500,
            retry_initial_ms: 1_000,
            retry_max_ms: 60_000,
        }
    }
}

impl TelegramConfig {
    pub fn retry_initial(&self) -> Duration {
        Duration::from_millis(self.retry_initial_ms)
    }

    pub fn retry_max(&self) -> Duration {
        Duration::from_millis(self.retry_max_ms.max(self.retry_initial_ms))
    }
}

impl fmt::Debug for TelegramConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TelegramConfig")
            .field("enabled", &self.enabled)
            .field("bot_token", &"<redacted>")
            .field("api_url", &self.api_url)
            .field("allowed_users", &self.allowed_users)
            .field("mention_required_in_groups", &self.mention_required_in_groups)
            .field("poll_timeout_secs", &self.poll_timeout_secs)
            .field("rate_limits", &self.rate_limits)
            .finish_non_exhaustive()
    }
}

/// Accepts `[1, 2]` (TOML) as well as `"1,2"` (environment variable).
fn user_ids<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<u64>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Raw {
        List(Vec<u64>),
        One(u64),
        Text(String),
    }
    match Raw::deserialize(deserializer)? {
        Raw::List(ids) => Ok(ids),
        Raw::One(id) => Ok(vec![id]),
        Raw::Text(text) => text
            .split(',')
            .map(str::trim)
            .filter(|part| !part.is_empty())
            .map(|part| {
                part.parse::<u64>().map_err(|_| {
                    serde::de::Error::custom(format!("allowed_users: {part:?} is not a Telegram user id (a number)"))
                })
            })
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allowed_users_from_a_list_or_a_comma_separated_string() {
        let from_list: TelegramConfig = serde_json::from_str(r#"{"allowed_users": [1, 22]}"#).expect("list");
        assert_eq!(from_list.allowed_users, vec![1, 22]);
        let from_env: TelegramConfig = serde_json::from_str(r#"{"allowed_users": " 1, 22 ,"}"#).expect("string");
        assert_eq!(from_env.allowed_users, vec![1, 22]);
        let error = serde_json::from_str::<TelegramConfig>(r#"{"allowed_users": "1,bob"}"#).expect_err("bob");
        assert!(error.to_string().contains("\"bob\" is not a Telegram user id"), "{error}");
    }

    #[test]
    fn unknown_keys_are_refused_and_the_token_is_never_printed() {
        let error = serde_json::from_str::<TelegramConfig>(r#"{"bot_tokn": "x"}"#).expect_err("typo");
        assert!(error.to_string().contains("bot_tokn"), "{error}");
        let config: TelegramConfig = serde_json::from_str(r#"{"bot_token": "123:SECRET"}"#).expect("token");
        assert!(!format!("{config:?}").contains("SECRET"));
        assert_eq!(config.api_url, DEFAULT_API_URL);
    }
}
