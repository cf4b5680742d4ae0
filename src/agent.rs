//! The agent behind each session. Until the agent issue lands, every turn fails visibly instead of pretending.

use chitin_actors::ConversationId;
use chitin_actors::Inbound;
use chitin_actors::ports::{BoxFuture, TurnError, TurnRunner};

/// Refuses every turn with a reason that names what is missing.
pub struct NoAgent;

impl TurnRunner for NoAgent {
    fn resume(&self, _conversation: &ConversationId) -> BoxFuture<'_, Result<Vec<Inbound>, TurnError>> {
        Box::pin(async { Ok(Vec::new()) })
    }

    fn run_turn(&self, inbound: Inbound) -> BoxFuture<'_, Result<(), TurnError>> {
        Box::pin(async move {
            Err(TurnError {
                conversation: inbound.conversation,
                reason: "this build of chitin has no agent yet".into(),
            })
        })
    }
}
