//! The Slack channel: takes events from the Events API or Socket Mode, records and forwards text messages, and
//! delivers the outbox through the Web API.

mod actor;
mod config;
pub mod event;
mod events_api;
pub mod mrkdwn;
mod platform;
mod socket_mode;

use chitin_actors::ChildSlot;
use chitin_actors::supervision::ChildSpec;

pub use actor::{SlackArgs, SlackChannel, SlackMsg};
pub use config::{DEFAULT_API_URL, SlackConfig, SlackMode};
pub use events_api::events_router;
pub use platform::MESSAGE_LIMIT;

use crate::ports::ChannelPorts;

/// Why the Slack channel could not start or take an event.
#[derive(Debug, thiserror::Error)]
pub enum SlackError {
    #[error("channels.slack.{key} is empty; it is required in {mode} mode")]
    MissingSetting { key: &'static str, mode: &'static str },
    #[error("cannot build the Slack Web API client for channels.slack.api_url")]
    Client(#[source] std::io::Error),
    #[error("slack socket mode could not start: {reason}")]
    SocketMode { reason: String },
    #[error("the slack channel is not running")]
    ChannelDown,
}

/// The channel supervisor's spec for the Slack actor. `slot` is shared with [`events_router`], which hands
/// Events API requests to whichever actor is current.
pub fn child_spec(config: SlackConfig, ports: ChannelPorts, slot: ChildSlot<SlackMsg>) -> ChildSpec {
    ChildSpec::new("slack", slot, move || (SlackChannel, SlackArgs { config: config.clone(), ports: ports.clone() }))
}
