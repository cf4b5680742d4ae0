//! Names of the metrics the actors record through the `metrics` facade; the service exports them.

/// Wall-clock time of one turn as its session actor saw it, by outcome (`answered` / `failed`).
pub const TURN_SECONDS: &str = "chitin_turn_duration_seconds";
/// Turns that ended with a reply filed for the conversation, by channel.
pub const MESSAGES_SENT: &str = "chitin_messages_sent_total";
