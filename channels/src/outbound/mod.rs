//! Outbound delivery shared by the chat channels: splitting long replies, rate limits, notices, the outbox loop.

pub mod delivery;
pub mod notice;
pub mod rate;
pub mod split;

pub use delivery::{DeliveryOptions, Platform, SendError, run_delivery};
pub use notice::NoticeThrottle;
pub use rate::{RateLimiter, RateLimits};
pub use split::split_message;
