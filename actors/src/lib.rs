//! Chitin's message bus: typed actor messages, supervision, bounded admission and the actor tree.
//!
//! Nothing here knows HTTP, SQL or wasmtime; services are reached through [`ports`].

pub mod admission;
pub mod error;
pub mod health;
pub mod message;
pub mod metric_names;
pub mod ports;
pub mod replies;
pub mod shells;
pub mod slot;
pub mod span;
pub mod supervision;
pub mod tree;

pub use admission::{AdmissionGate, OverloadPolicy, Ticket};
pub use error::BusError;
pub use health::{ActorState, HealthNode, HealthProbe, SelfReport};
pub use message::{ChannelKind, ConversationId, Inbound};
pub use replies::{FinalReply, ReplyEvent, ReplyHub, ReplySubscription, ReplyUsage};
pub use slot::ChildSlot;
pub use tree::{ActorTree, TreeServices, TreeSettings};
