//! The tracing span every actor opens around each message it handles.

use ractor::ActorId;
use tracing::Span;

/// `actor{kind=…, id=…}`: lets a log line be traced to the actor (and, for sessions, the conversation) that wrote it.
pub fn actor_span(kind: &'static str, id: ActorId) -> Span {
    tracing::info_span!("actor", kind, id = %id)
}
