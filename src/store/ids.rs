//! Row ids as newtypes, so a job id can never be passed where a message id is meant.

use std::fmt;

use serde::Serialize;

macro_rules! row_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
        #[serde(transparent)]
        pub struct $name(pub i64);

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }
    };
}

row_id!(
    /// One conversation: a (channel, external conversation id) pair.
    ConversationId
);
row_id!(
    /// One stored message, inbound or outbound.
    MessageId
);
row_id!(
    /// One reply owed to a platform.
    OutboxId
);
row_id!(
    /// One persisted job.
    JobId
);
row_id!(
    /// One routine definition.
    RoutineId
);
row_id!(
    /// One firing of a routine.
    RoutineRunId
);
row_id!(
    /// One memory document (a file path in the workspace).
    DocumentId
);
row_id!(
    /// One searchable chunk of a memory document.
    ChunkId
);
row_id!(
    /// One audit log entry.
    AuditId
);
