//! Context compaction: when history outgrows the budget, older turns become one summary the model keeps.

use tracing::{info, warn};

use crate::agent::AgentSettings;
use crate::agent::prompt::{self, PromptHistory};
use crate::llm::{ChatMessage, ChatRequest, LlmProvider};
use crate::store::{ConversationId, Direction, MessageStatus, NewMessage, Role, Store};

/// Recent messages always kept verbatim.
const KEEP_RECENT: usize = 6;

const INSTRUCTIONS: &str = "You compress a conversation between a user and their assistant into a note the \
     assistant will read instead of the old messages. Keep every fact the user stated about themselves or the \
     world, every decision, every commitment and every open task, with names, numbers and dates exactly. Drop \
     greetings and chatter. Write plain sentences, at most 300 words.";

/// Summarises older messages when the prompt (`system`, history, tools) would exceed `context_tokens`; returns the
/// new history, or `None` when no compaction was needed or it failed (the turn then goes on with what it has).
pub async fn compact_if_needed(
    llm: &dyn LlmProvider,
    store: &Store,
    conversation_id: ConversationId,
    history: &PromptHistory,
    settings: &AgentSettings,
    system: &str,
    tools_bytes: usize,
) -> Option<PromptHistory> {
    let messages = history.messages.iter().map(|(_, message)| message);
    let tokens = prompt::estimate_tokens(system) + prompt::request_bytes("", messages, tools_bytes) / 4;
    if tokens <= settings.context_tokens || history.messages.len() <= KEEP_RECENT {
        return None;
    }
    let split = history.messages.len() - KEEP_RECENT;
    let (older, recent) = history.messages.split_at(split);
    let through = older.last().map(|(id, _)| *id)?;

    let mut text = String::new();
    if let Some(summary) = &history.summary {
        text.push_str(&format!("Earlier summary:\n{summary}\n\n"));
    }
    for (_, message) in older {
        match message {
            ChatMessage::User { content } => text.push_str(&format!("User: {content}\n")),
            ChatMessage::Assistant { content, .. } => text.push_str(&format!("Assistant: {content}\n")),
            ChatMessage::ToolResult { .. } => {}
        }
    }
    let request = ChatRequest {
        system: Some(INSTRUCTIONS.to_string()),
        messages: vec![ChatMessage::user(text)],
        tools: Default::default(),
        max_tokens: Some(1024),
        temperature: Some(0.0),
    };
    let summary = match llm.complete(&request).await {
        Ok(response) if !response.text.trim().is_empty() => response.text,
        Ok(_) => {
            warn!("compaction returned an empty summary; keeping full history");
            return None;
        }
        Err(error) => {
            warn!(%error, "compaction failed; keeping full history");
            return None;
        }
    };
    let body = prompt::format_summary(through, &summary);
    let note = NewMessage {
        role: Role::System,
        direction: Direction::Outbound,
        status: MessageStatus::Processed,
        sender: None,
        body: &body,
    };
    if let Err(error) = store.conversations().append(conversation_id, &note).await {
        warn!(%error, "could not store the summary; using it for this turn only");
    }
    info!(summarised = older.len(), kept = recent.len(), tokens_before = tokens, "history compacted");
    Some(PromptHistory { summary: Some(summary), messages: recent.to_vec() })
}
