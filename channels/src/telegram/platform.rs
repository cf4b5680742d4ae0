//! Sending replies through the Bot API: rendering, splitting, reply threading and the typing indicator.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chitin_actors::ports::BoxFuture;
use teloxide::payloads::{EditMessageTextSetters, SendMessageSetters};
use teloxide::prelude::Requester;
use teloxide::types::{ChatAction, ChatId, MessageId, ParseMode, ReplyParameters};
use teloxide::{ApiError, Bot, RequestError};
use tokio::time::Instant;
use tracing::debug;

use crate::outbound::{Platform, SendError, split_message};
use crate::telegram::drafts::{DraftKey, DraftStep, Drafts};
use crate::telegram::markdown;

/// Telegram refuses messages longer than this many UTF-16 units.
pub const MESSAGE_LIMIT: usize = 4096;

/// Stop showing "typing…" for a chat after this long even if no reply came (the turn may have failed).
const TYPING_GIVE_UP: Duration = Duration::from_secs(120);

/// Chats whose sender waits for an answer, with when they started waiting.
#[derive(Clone, Default)]
pub struct TypingChats {
    chats: Arc<Mutex<HashMap<i64, Instant>>>,
}

impl TypingChats {
    pub fn start(&self, chat_id: i64) {
        self.with(|chats| {
            chats.entry(chat_id).or_insert_with(Instant::now);
        });
    }

    pub fn stop(&self, chat_id: i64) {
        self.with(|chats| {
            chats.remove(&chat_id);
        });
    }

    /// Chats that still wait, forgetting those that waited too long.
    pub fn waiting(&self) -> Vec<i64> {
        self.with(|chats| {
            chats.retain(|_, since| since.elapsed() < TYPING_GIVE_UP);
            chats.keys().copied().collect()
        })
    }

    fn with<T>(&self, f: impl FnOnce(&mut HashMap<i64, Instant>) -> T) -> T {
        match self.chats.lock() {
            Ok(mut guard) => f(&mut guard),
            Err(poisoned) => f(&mut poisoned.into_inner()),
        }
    }
}

/// The Bot API seen as an outbox [`Platform`].
pub struct TelegramPlatform {
    pub bot: Bot,
    pub typing: TypingChats,
    pub drafts: Drafts,
}

impl TelegramPlatform {
    /// Sends or edits the draft answering `key`; returns the draft message's id when Telegram accepted it.
    pub async fn show_draft(&self, key: DraftKey, step: &DraftStep) -> Option<i32> {
        let (chat_id, reply_to) = key;
        let (text, message_id) = match step {
            DraftStep::Send(text) => (text, None),
            DraftStep::Edit { message_id, text } => (text, Some(*message_id)),
        };
        let rendered = split_message(&markdown::render(text), MESSAGE_LIMIT).into_iter().next()?;
        let outcome = match message_id {
            None => {
                // Threaded like the reply that will take the draft over.
                let thread = ReplyParameters::new(MessageId(reply_to)).allow_sending_without_reply();
                let request = self.bot.send_message(ChatId(chat_id), rendered).parse_mode(ParseMode::MarkdownV2);
                request.reply_parameters(thread).await
            }
            Some(id) => {
                self.bot
                    .edit_message_text(ChatId(chat_id), MessageId(id), rendered)
                    .parse_mode(ParseMode::MarkdownV2)
                    .await
            }
        };
        match outcome {
            Ok(message) => Some(message.id.0),
            Err(error) => {
                debug!(%error, chat = chat_id, "draft not shown");
                None
            }
        }
    }

    /// Deletes a draft that arrived after the final reply had already been sent as a new message.
    pub async fn delete_orphan_draft(&self, chat_id: i64, message_id: i32) {
        if let Err(error) = self.bot.delete_message(ChatId(chat_id), MessageId(message_id)).await {
            debug!(%error, chat = chat_id, "orphaned draft not deleted");
        }
    }

    /// Shows "typing…" in `chat_id` for about five seconds (Telegram's own duration).
    pub async fn send_typing(&self, chat_id: i64) {
        if let Err(error) = self.bot.send_chat_action(ChatId(chat_id), ChatAction::Typing).await {
            debug!(%error, chat = chat_id, "typing indicator not shown");
        }
    }
}

impl Platform for TelegramPlatform {
    fn render(&self, body: &str) -> Vec<String> {
        split_message(&markdown::render(body), MESSAGE_LIMIT)
    }

    fn is_group(&self, external_conversation_id: &str) -> bool {
        // Group and supergroup ids are negative; users' private chats are positive.
        external_conversation_id.starts_with('-')
    }

    fn send_part<'a>(
        &'a self,
        external_conversation_id: &'a str,
        text: &'a str,
        reply_to_platform_message_id: Option<&'a str>,
    ) -> BoxFuture<'a, Result<String, SendError>> {
        Box::pin(async move {
            let chat_id = external_conversation_id.parse::<i64>().map_err(|_| SendError::Refused {
                reason: format!("{external_conversation_id:?} is not a Telegram chat id"),
            })?;
            let reply_to = reply_to_platform_message_id.and_then(super::updates::message_id_in_chat);
            if let Some(draft) = reply_to.and_then(|reply_to| self.drafts.finish((chat_id, reply_to), Instant::now())) {
                // The first part takes over the draft the user has been watching; later parts are new messages.
                let edit = self.bot.edit_message_text(ChatId(chat_id), MessageId(draft), text);
                let edited = edit.parse_mode(ParseMode::MarkdownV2).await.map_err(send_error)?;
                return Ok(super::updates::platform_message_id(chat_id, edited.id.0));
            }
            let mut request = self.bot.send_message(ChatId(chat_id), text).parse_mode(ParseMode::MarkdownV2);
            if let Some(message_id) = reply_to {
                request =
                    request.reply_parameters(ReplyParameters::new(MessageId(message_id)).allow_sending_without_reply());
            }
            let sent = request.await.map_err(send_error)?;
            Ok(super::updates::platform_message_id(chat_id, sent.id.0))
        })
    }

    fn reply_delivered(&self, external_conversation_id: &str) {
        if let Ok(chat_id) = external_conversation_id.parse::<i64>() {
            self.typing.stop(chat_id);
        }
    }
}

/// Maps teloxide's error onto what the outbox loop decides on. teloxide already strips the token from URLs.
pub fn send_error(error: RequestError) -> SendError {
    match error {
        RequestError::RetryAfter(seconds) => SendError::RateLimited { retry_after: seconds.duration() },
        RequestError::Api(ApiError::InvalidToken) => SendError::Unauthorized,
        RequestError::Api(api) => SendError::Refused { reason: api.to_string() },
        RequestError::MigrateToChatId(chat) => SendError::Refused { reason: format!("the group moved to chat {chat}") },
        other => SendError::Unreachable { reason: other.to_string() },
    }
}
