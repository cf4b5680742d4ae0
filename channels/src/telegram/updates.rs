//! Deciding what one Telegram update asks of the channel: a text to record, content to decline, or nothing.

use teloxide::types::{Message, MessageKind, Update, UpdateKind};

/// A text message from a person, with the bot's mention already removed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TextMessage {
    pub chat_id: i64,
    pub message_id: i32,
    pub user_id: u64,
    pub is_private: bool,
    pub text: String,
}

/// What the channel does with one update.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UpdateAction {
    Text(TextMessage),
    /// A sticker, photo, file, voice note…: the agent reads text only, so the sender gets a polite note.
    Unsupported {
        chat_id: i64,
        message_id: i32,
        user_id: u64,
        is_private: bool,
    },
    /// Not for us: edits, service messages, bots, group chatter without a mention.
    Ignore(&'static str),
}

/// Classifies `update`. In groups with `mention_required`, only messages that mention `@bot_username` or reply
/// to the bot count; the mention is stripped from the text the agent sees.
pub fn classify(update: &Update, bot_username: &str, mention_required: bool) -> UpdateAction {
    let UpdateKind::Message(message) = &update.kind else {
        return UpdateAction::Ignore("not a new message");
    };
    let Some(sender) = message.from.as_ref() else {
        return UpdateAction::Ignore("no sender (channel post)");
    };
    if sender.is_bot {
        return UpdateAction::Ignore("sent by a bot");
    }
    if !matches!(message.kind, MessageKind::Common(_)) {
        return UpdateAction::Ignore("service message");
    }
    let is_private = message.chat.is_private();
    let addressed = is_private || !mention_required || mentions(message, bot_username) || replies_to_bot(message);
    if !addressed {
        return UpdateAction::Ignore("group message without a mention");
    }
    let (chat_id, message_id, user_id) = (message.chat.id.0, message.id.0, sender.id.0);
    match message.text() {
        Some(text) => {
            let text = strip_mention(text, bot_username);
            if text.is_empty() {
                return UpdateAction::Ignore("only a mention");
            }
            UpdateAction::Text(TextMessage { chat_id, message_id, user_id, is_private, text })
        }
        None => UpdateAction::Unsupported { chat_id, message_id, user_id, is_private },
    }
}

fn mentions(message: &Message, bot_username: &str) -> bool {
    let handle = format!("@{bot_username}").to_lowercase();
    let text = message.text().or_else(|| message.caption()).unwrap_or_default();
    !bot_username.is_empty() && text.to_lowercase().contains(&handle)
}

fn replies_to_bot(message: &Message) -> bool {
    message.reply_to_message().and_then(|original| original.from.as_ref()).is_some_and(|author| author.is_bot)
}

/// Removes `@bot_username` (any case) and the whitespace it leaves behind.
fn strip_mention(text: &str, bot_username: &str) -> String {
    if bot_username.is_empty() {
        return text.trim().to_string();
    }
    let handle = format!("@{bot_username}").to_lowercase();
    let lower = text.to_lowercase();
    match lower.find(&handle) {
        // Lowercasing can change byte lengths for some scripts; only cut when the positions still line up.
        Some(start) if lower.len() == text.len() => format!("{} {}", &text[..start], &text[start + handle.len()..])
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" "),
        _ => text.trim().to_string(),
    }
}

/// A message's platform id: Telegram numbers messages per chat, so message 57 exists in every chat, and the
/// chat is part of the id (`<chat_id>:<message_id>`) wherever it must be unique per channel (inbound dedup, the
/// delivered reply's id).
pub fn platform_message_id(chat_id: i64, message_id: i32) -> String {
    format!("{chat_id}:{message_id}")
}

/// The message's number inside its chat, from a platform id made by [`platform_message_id`] (or a bare number).
pub fn message_id_in_chat(platform_message_id: &str) -> Option<i32> {
    platform_message_id.rsplit(':').next()?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn update(chat_type: &str, chat_id: i64, extra: serde_json::Value) -> Update {
        let mut message = serde_json::json!({
            "message_id": 7, "date": 1_700_000_000,
            "chat": {"id": chat_id, "type": chat_type, "title": "g", "first_name": "Ann"},
            "from": {"id": 42, "is_bot": false, "first_name": "Ann"},
        });
        if let (Some(message), Some(extra)) = (message.as_object_mut(), extra.as_object()) {
            message.extend(extra.clone());
        }
        // teloxide parses updates from text only (from a `Value` every update becomes `UpdateKind::Error`).
        let text = serde_json::json!({"update_id": 1, "message": message}).to_string();
        serde_json::from_str(&text).expect("valid update")
    }

    #[test]
    fn private_text_is_taken_as_is() {
        let action = classify(&update("private", 42, serde_json::json!({"text": "hi there"})), "chitin_bot", true);
        let expected =
            TextMessage { chat_id: 42, message_id: 7, user_id: 42, is_private: true, text: "hi there".into() };
        assert_eq!(action, UpdateAction::Text(expected));
    }

    #[test]
    fn groups_need_a_mention_which_is_stripped() {
        let quiet = classify(&update("group", -5, serde_json::json!({"text": "lunch?"})), "chitin_bot", true);
        assert_eq!(quiet, UpdateAction::Ignore("group message without a mention"));
        let asked =
            classify(&update("group", -5, serde_json::json!({"text": "@Chitin_Bot what time?"})), "chitin_bot", true);
        let UpdateAction::Text(message) = asked else { panic!("expected text, got {asked:?}") };
        assert_eq!(message.text, "what time?");
        assert!(!message.is_private);
        let open = classify(&update("group", -5, serde_json::json!({"text": "lunch?"})), "chitin_bot", false);
        assert!(matches!(open, UpdateAction::Text(_)), "{open:?}");
    }

    #[test]
    fn stickers_and_files_are_unsupported() {
        let sticker = serde_json::json!({"sticker": {"file_id": "f", "file_unique_id": "u", "type": "regular",
            "width": 512, "height": 512, "is_animated": false, "is_video": false}});
        let action = classify(&update("private", 42, sticker), "chitin_bot", true);
        assert_eq!(action, UpdateAction::Unsupported { chat_id: 42, message_id: 7, user_id: 42, is_private: true });
        let document =
            serde_json::json!({"document": {"file_id": "f", "file_unique_id": "u", "file_size": 99_000_000}});
        let action = classify(&update("private", 42, document), "chitin_bot", true);
        assert!(matches!(action, UpdateAction::Unsupported { .. }), "{action:?}");
    }

    #[test]
    fn message_ids_are_unique_per_chat_and_read_back() {
        assert_ne!(platform_message_id(5, 57), platform_message_id(6, 57), "the same number in two chats");
        assert_eq!(platform_message_id(-100123, 57), "-100123:57");
        assert_eq!(message_id_in_chat("-100123:57"), Some(57));
        assert_eq!(message_id_in_chat("57"), Some(57), "an id stored before chats were part of it");
        assert_eq!(message_id_in_chat("5:x"), None);
    }
}
