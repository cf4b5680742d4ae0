//! The Telegram channel: long-polls the Bot API, records and forwards text messages, and delivers the outbox.

mod actor;
mod config;
mod draft_relay;
pub mod drafts;
pub mod markdown;
mod platform;
mod poller;
pub mod updates;

use chitin_actors::ChildSlot;
use chitin_actors::supervision::ChildSpec;

pub use actor::{Handled, TelegramArgs, TelegramChannel, TelegramMsg};
pub use config::{DEFAULT_API_URL, TelegramConfig};
pub use platform::MESSAGE_LIMIT;

use crate::ports::ChannelPorts;

/// Why the Telegram channel could not start.
#[derive(Debug, thiserror::Error)]
pub enum TelegramError {
    #[error("channels.telegram.bot_token is empty; set it to the token from @BotFather (or secret:NAME)")]
    MissingToken,
    #[error("channels.telegram.api_url {url:?} is not a valid URL")]
    InvalidApiUrl {
        url: String,
        #[source]
        source: url::ParseError,
    },
}

/// The channel supervisor's spec for the Telegram actor: each (re)start gets the config and ports afresh.
pub fn child_spec(config: TelegramConfig, ports: ChannelPorts, slot: ChildSlot<TelegramMsg>) -> ChildSpec {
    ChildSpec::new("telegram", slot, move || {
        (TelegramChannel, TelegramArgs { config: config.clone(), ports: ports.clone() })
    })
}
