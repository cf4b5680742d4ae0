//! Deciding what one Slack event asks of the channel: a text to record, content to decline, or nothing.

use slack_morphism::prelude::{SlackEventCallbackBody, SlackMessageOrigin, SlackPushEventCallback};

/// A person's message addressed to the bot, with the bot's mention removed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SlackText {
    /// `channel` for a DM outside threads, `channel/thread_ts` otherwise; replies go where this points.
    pub conversation: String,
    /// The message's `ts`: unique within its channel, so the dedup key together with the conversation.
    pub ts: String,
    pub user: String,
    pub text: String,
}

/// What the channel does with one event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SlackAction {
    Text(SlackText),
    /// Files or other content without text: the agent reads text only, so the sender gets a polite note.
    Unsupported {
        conversation: String,
        user: String,
    },
    /// Not for us: bot messages, edits, joins, channel chatter (mentions arrive as `app_mention`).
    Ignore(&'static str),
}

/// Classifies one event callback. DMs (`message` in an `im`) and mentions (`app_mention`) are addressed to the
/// bot; a mention in a channel is answered in a thread under it.
pub fn classify(callback: &SlackPushEventCallback) -> SlackAction {
    match &callback.event {
        SlackEventCallbackBody::AppMention(mention) => {
            let thread = mention.origin.thread_ts.as_ref().unwrap_or(&mention.origin.ts);
            let conversation = format!("{}/{}", mention.channel.0, thread.0);
            let text = strip_leading_mention(mention.content.text.as_deref().unwrap_or_default());
            text_or_unsupported(
                conversation,
                &mention.origin,
                mention.user.0.clone(),
                text,
                has_files(&mention.content),
            )
        }
        SlackEventCallbackBody::Message(message) => {
            if message.subtype.is_some() && !matches!(message.subtype, Some(ref kind) if is_file_share(kind)) {
                return SlackAction::Ignore("message subtype (edit, join, bot…)");
            }
            if message.sender.bot_id.is_some() {
                return SlackAction::Ignore("sent by a bot");
            }
            let is_dm = message.origin.channel_type.as_ref().is_some_and(|kind| kind.0 == "im");
            if !is_dm {
                return SlackAction::Ignore("channel message without a mention");
            }
            let (Some(channel), Some(user)) = (&message.origin.channel, &message.sender.user) else {
                return SlackAction::Ignore("message without channel or user");
            };
            let conversation = match &message.origin.thread_ts {
                Some(thread) => format!("{}/{}", channel.0, thread.0),
                None => channel.0.clone(),
            };
            let content = message.content.as_ref();
            let text = content.and_then(|content| content.text.clone()).unwrap_or_default();
            let files = content.is_some_and(has_files);
            text_or_unsupported(conversation, &message.origin, user.0.clone(), text.trim().to_string(), files)
        }
        _ => SlackAction::Ignore("event type not handled"),
    }
}

fn text_or_unsupported(
    conversation: String,
    origin: &SlackMessageOrigin,
    user: String,
    text: String,
    has_files: bool,
) -> SlackAction {
    if !text.is_empty() {
        SlackAction::Text(SlackText { conversation, ts: origin.ts.0.clone(), user, text })
    } else if has_files {
        SlackAction::Unsupported { conversation, user }
    } else {
        SlackAction::Ignore("empty message")
    }
}

fn has_files(content: &slack_morphism::prelude::SlackMessageContent) -> bool {
    content.files.as_ref().is_some_and(|files| !files.is_empty())
}

fn is_file_share(kind: &slack_morphism::prelude::SlackMessageEventType) -> bool {
    matches!(kind, slack_morphism::prelude::SlackMessageEventType::FileShare)
}

/// `<@U123> what time is it` → `what time is it`.
fn strip_leading_mention(text: &str) -> String {
    let trimmed = text.trim_start();
    match trimmed.strip_prefix("<@").and_then(|rest| rest.split_once('>')) {
        Some((_, rest)) => rest.trim().to_string(),
        None => trimmed.trim_end().to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn callback(event: serde_json::Value) -> SlackPushEventCallback {
        serde_json::from_value(serde_json::json!({
            "team_id": "T1", "api_app_id": "A1", "event_id": "Ev1", "event_time": 1_700_000_000, "event": event,
        }))
        .expect("valid callback")
    }

    #[test]
    fn a_dm_is_its_own_conversation() {
        let action = classify(&callback(serde_json::json!({"type": "message", "channel": "D1", "channel_type": "im",
            "user": "U1", "text": "hello", "ts": "1.0001"})));
        let expected =
            SlackText { conversation: "D1".into(), ts: "1.0001".into(), user: "U1".into(), text: "hello".into() };
        assert_eq!(action, SlackAction::Text(expected));
    }

    #[test]
    fn a_mention_starts_a_thread_and_loses_the_mention() {
        let action = classify(&callback(serde_json::json!({"type": "app_mention", "channel": "C1", "user": "U1",
            "text": "<@UBOT> status?", "ts": "5.5"})));
        let expected =
            SlackText { conversation: "C1/5.5".into(), ts: "5.5".into(), user: "U1".into(), text: "status?".into() };
        assert_eq!(action, SlackAction::Text(expected));
        let in_thread = classify(&callback(serde_json::json!({"type": "app_mention", "channel": "C1", "user": "U1",
            "text": "<@UBOT> and now?", "ts": "6.6", "thread_ts": "5.5"})));
        assert!(matches!(in_thread, SlackAction::Text(SlackText { ref conversation, .. }) if conversation == "C1/5.5"));
    }

    #[test]
    fn bots_channel_chatter_and_files_are_not_texts() {
        let bot = classify(&callback(serde_json::json!({"type": "message", "channel": "D1", "channel_type": "im",
            "bot_id": "B1", "text": "echo", "ts": "1.0"})));
        assert_eq!(bot, SlackAction::Ignore("sent by a bot"));
        let chatter = classify(&callback(serde_json::json!({"type": "message", "channel": "C1",
            "channel_type": "channel", "user": "U1", "text": "lunch?", "ts": "1.0"})));
        assert_eq!(chatter, SlackAction::Ignore("channel message without a mention"));
        let file = classify(&callback(serde_json::json!({"type": "message", "subtype": "file_share", "channel": "D1",
            "channel_type": "im", "user": "U1", "text": "", "ts": "1.0", "files": [{"id": "F1"}]})));
        assert_eq!(file, SlackAction::Unsupported { conversation: "D1".into(), user: "U1".into() });
    }
}
