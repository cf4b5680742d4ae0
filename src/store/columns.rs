//! Closed sets stored as TEXT columns (directions, roles, states), with their exact spellings.

use serde::Serialize;

use super::StoreError;

macro_rules! text_enum {
    ($(#[$doc:meta])* $name:ident { $($(#[$vdoc:meta])* $variant:ident => $text:literal),+ $(,)? }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
        #[serde(rename_all = "snake_case")]
        pub enum $name { $($(#[$vdoc])* $variant),+ }

        impl $name {
            /// The spelling stored in the database (and checked by its CHECK constraint).
            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }

            pub(crate) fn parse(text: &str, op: &'static str) -> Result<$name, StoreError> {
                match text {
                    $($text => Ok($name::$variant),)+
                    _ => Err(StoreError::UnknownValue { op, column: stringify!($name), value: text.to_owned() }),
                }
            }
        }
    };
}

text_enum!(
    /// Whether a message came from the platform or goes to it.
    Direction { Inbound => "inbound", Outbound => "outbound" }
);
text_enum!(
    /// Who produced a message.
    Role { User => "user", Assistant => "assistant", Tool => "tool", System => "system" }
);
text_enum!(
    /// Where a message is in its life.
    MessageStatus {
        /// Inbound and stored, not yet handled by a session.
        Received => "received",
        /// Inbound and handled (the turn finished).
        Processed => "processed",
        /// Outbound and waiting in the outbox.
        Pending => "pending",
        /// Outbound and accepted by the platform.
        Delivered => "delivered",
        /// Gave up: inbound that could not be handled, or outbound past its attempts.
        Failed => "failed",
    }
);
text_enum!(
    /// Where a job is in its life.
    JobState { Queued => "queued", Running => "running", Succeeded => "succeeded", Failed => "failed", Cancelled => "cancelled" }
);
text_enum!(
    /// What makes a routine fire.
    TriggerKind { Cron => "cron", Event => "event", Webhook => "webhook" }
);
text_enum!(
    /// Where one routine run is.
    RunState { Running => "running", Succeeded => "succeeded", Failed => "failed" }
);
text_enum!(
    /// Whether the user has allowed an installed tool to run.
    Approval { Pending => "pending", Approved => "approved", Revoked => "revoked" }
);
