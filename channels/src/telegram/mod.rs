//! The Telegram channel: long-polls the Bot API, records and forwards text messages, and delivers the outbox.

mod actor;
mod config;
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

use crate::ports::{ChannelPorts, DraftSink};

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
/// `slot` is shared with [`TelegramDrafts`], which reaches whichever actor is current.
pub fn child_spec(config: TelegramConfig, ports: ChannelPorts, slot: ChildSlot<TelegramMsg>) -> ChildSpec {
    ChildSpec::new("telegram", slot, move || {
        (TelegramChannel, TelegramArgs { config: config.clone(), ports: ports.clone() })
    })
}

/// The [`DraftSink`] of the Telegram channel: hands partial answers to the current channel actor.
#[derive(Clone)]
pub struct TelegramDrafts {
    channel: ChildSlot<TelegramMsg>,
}

impl TelegramDrafts {
    pub fn new(channel: ChildSlot<TelegramMsg>) -> Self {
        Self { channel }
    }
}

impl DraftSink for TelegramDrafts {
    fn draft(&self, external_conversation_id: &str, reply_to_platform_message_id: &str, text_so_far: &str) {
        let (Ok(chat_id), Some(reply_to)) =
            (external_conversation_id.parse::<i64>(), updates::message_id_in_chat(reply_to_platform_message_id))
        else {
            tracing::debug!(conversation = external_conversation_id, "draft for a non-telegram id ignored");
            return;
        };
        if let Some(channel) = self.channel.get() {
            // Drafts are best effort: a channel that is down misses one, the final reply still comes.
            let _ = channel.cast(TelegramMsg::Draft { chat_id, reply_to, text: text_so_far.to_string() });
        }
    }
}
