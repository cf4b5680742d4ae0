//! Follows one turn's streamed text on the reply hub and hands it to the channel as a draft once the answer is
//! slow to finish, so a long answer grows in front of the user instead of arriving all at once.

use std::time::Duration;

use chitin_actors::{ReplyEvent, ReplySubscription};
use ractor::ActorRef;
use tokio::sync::broadcast::error::RecvError;
use tokio::time::Instant;
use tracing::debug;

use crate::telegram::TelegramMsg;

/// A turn still streaming after this long is given up on: its reply still arrives through the outbox.
const GIVE_UP_AFTER: Duration = Duration::from_secs(600);

/// The message a turn answers: where its draft goes and which hub events belong to it.
#[derive(Debug, Clone, Copy)]
pub struct DraftTurn {
    pub chat_id: i64,
    /// Telegram's id of the user's message; the draft and the reply thread to it.
    pub reply_to: i32,
    /// The store's id of that message, which the hub's events name.
    pub record_id: i64,
}

/// Forwards the answer so far to `channel` from the moment `show_after` has passed since the message was
/// accepted; quicker answers arrive as one message with no draft. Ends with the turn.
pub async fn relay_drafts(
    channel: ActorRef<TelegramMsg>,
    mut events: ReplySubscription,
    turn: DraftTurn,
    show_after: Duration,
) {
    let accepted = Instant::now();
    let give_up = accepted + GIVE_UP_AFTER;
    let mut text = String::new();
    loop {
        let event = match tokio::time::timeout_at(give_up, events.recv()).await {
            Ok(Ok(event)) => event,
            // A draft with missing pieces would mislead; the final reply still replaces whatever was shown.
            Ok(Err(RecvError::Lagged(missed))) => {
                debug!(missed, chat = turn.chat_id, "draft relay fell behind; no more draft edits for this turn");
                return;
            }
            Ok(Err(RecvError::Closed)) | Err(_) => return,
        };
        match event {
            ReplyEvent::Delta { in_reply_to, text: piece } if in_reply_to == turn.record_id => {
                text.push_str(&piece);
                if accepted.elapsed() < show_after || text.trim().is_empty() {
                    continue;
                }
                let draft = TelegramMsg::Draft { chat_id: turn.chat_id, reply_to: turn.reply_to, text: text.clone() };
                if channel.cast(draft).is_err() {
                    return;
                }
            }
            ReplyEvent::Final(reply) if reply.in_reply_to == turn.record_id => return,
            _ => {}
        }
    }
}
