//! Provider-neutral chat types: what the agent sends to a model and what comes back.

use std::fmt;

use serde::{Deserialize, Serialize};

/// One model call: everything the provider sees, so the prompt size can be measured here.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ChatRequest {
    /// Instructions kept apart from the turns, because Anthropic takes them in a separate field.
    pub system: Option<String>,
    /// The conversation so far, oldest first.
    pub messages: Vec<ChatMessage>,
    /// Tools the model may call in this turn; only the ones relevant to it, to keep prompts small. Shared, because
    /// every request of every turn sends the same list.
    pub tools: std::sync::Arc<[ToolSpec]>,
    /// Upper bound on the answer; Anthropic requires one, so a default is sent when unset.
    pub max_tokens: Option<u32>,
    /// Sampling temperature; the provider's default when unset.
    pub temperature: Option<f32>,
}

/// One turn of the conversation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "role", rename_all = "snake_case")]
pub enum ChatMessage {
    /// What the user said.
    User {
        /// The user's text.
        content: String,
    },
    /// What the model said earlier, including the tools it asked for, so the next call sees them.
    Assistant {
        /// Visible text; often empty when the model only calls tools.
        content: String,
        /// Calls the model made in this turn; each needs a matching [`ChatMessage::ToolResult`].
        tool_calls: Vec<ToolCall>,
    },
    /// The outcome of one tool call, answered by id so parallel calls can't be confused.
    ToolResult {
        /// The id the model gave the call.
        call_id: ToolCallId,
        /// The tool's output (already wrapped by the safety layer).
        content: String,
        /// Whether the tool failed; Anthropic tells the model so explicitly.
        is_error: bool,
    },
}

impl ChatMessage {
    /// A user turn.
    pub fn user(content: impl Into<String>) -> Self {
        ChatMessage::User { content: content.into() }
    }

    /// A plain assistant turn without tool calls.
    pub fn assistant(content: impl Into<String>) -> Self {
        ChatMessage::Assistant { content: content.into(), tool_calls: Vec::new() }
    }
}

/// A tool as advertised to the model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ToolSpec {
    /// Name the model uses to call it.
    pub name: String,
    /// What it does, for the model to decide when to call it.
    pub description: String,
    /// JSON Schema of the arguments object.
    pub parameters: serde_json::Value,
}

/// The id a provider gives a tool call; the tool result must carry it back.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ToolCallId(pub String);

impl fmt::Display for ToolCallId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A complete tool call: streamed argument fragments are only ever exposed once assembled.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ToolCall {
    /// Provider-given id.
    pub id: ToolCallId,
    /// Which tool.
    pub name: String,
    /// Parsed arguments (an object, `{}` when the model sent none).
    pub arguments: serde_json::Value,
}

/// Tokens billed for one call; the agent adds these up per turn.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Usage {
    /// Prompt tokens.
    pub input_tokens: u64,
    /// Generated tokens.
    pub output_tokens: u64,
}

/// Why the model stopped.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FinishReason {
    /// Natural end of the answer.
    Stop,
    /// Hit `max_tokens`; the answer is cut.
    Length,
    /// The model wants tool results before going on.
    ToolCalls,
    /// The provider withheld the answer.
    ContentFilter,
    /// A reason this client does not know, kept verbatim for the logs.
    Other(String),
}

/// A finished answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChatResponse {
    /// All visible text, concatenated.
    pub text: String,
    /// Complete tool calls, in the order the model made them.
    pub tool_calls: Vec<ToolCall>,
    /// Tokens billed; zero when the provider did not report them.
    pub usage: Usage,
    /// Why the model stopped.
    pub finish: FinishReason,
}

/// What a streamed answer yields, ending with exactly one [`StreamEvent::Done`].
#[derive(Debug, Clone, PartialEq)]
pub enum StreamEvent {
    /// More visible text, to show the user as it arrives.
    TextDelta(String),
    /// A tool call whose arguments have fully arrived.
    ToolCall(ToolCall),
    /// Token counts, once the provider reports them.
    Usage(Usage),
    /// The whole answer, assembled; the last event.
    Done(ChatResponse),
}
