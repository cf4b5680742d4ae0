//! OpenAI Chat Completions wire format, both directions, so the gateway can serve it too.
//!
//! Fields follow the public API reference. Optional fields are skipped when empty, so requests stay
//! small and servers that reject unknown or null fields (some self-hosted ones do) accept them.
//! Deserialization is lenient (`default` everywhere it is safe) because "OpenAI-compatible"
//! servers differ in which fields they bother to send.
//!
//! Text and schemas in the request types are `Cow`s: a request borrows the conversation and the tool
//! list it is built from instead of copying them (all 200 messages and every schema, on every turn);
//! what is read from a server is owned (`'static`).

use std::borrow::Cow;

use serde::{Deserialize, Serialize};

/// `POST {base_url}/chat/completions` body.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ChatCompletionRequest<'a> {
    pub model: Cow<'a, str>,
    pub messages: Vec<WireMessage<'a>>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tools: Vec<WireTool<'a>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_tokens: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub temperature: Option<f32>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub stream: bool,
    /// Asks for a final chunk carrying `usage`; without it streamed answers report no tokens.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stream_options: Option<StreamOptions>,
}

/// `stream_options` of a request.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StreamOptions {
    pub include_usage: bool,
}

/// Who wrote a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum WireRole {
    System,
    /// Newer models' name for `system`; accepted when serving, never sent.
    Developer,
    User,
    Assistant,
    Tool,
}

/// One entry of `messages` (requests) or the `message` of a choice (responses).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WireMessage<'a> {
    pub role: WireRole,
    /// `null` for assistant messages that only call tools.
    #[serde(default)]
    pub content: Option<WireContent<'a>>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tool_calls: Vec<WireToolCall<'a>>,
    /// Set on `tool` messages: which call this answers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_call_id: Option<Cow<'a, str>>,
}

/// Message content: a plain string, or the list-of-parts form some clients send.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum WireContent<'a> {
    Text(Cow<'a, str>),
    Parts(Vec<WireContentPart>),
}

impl WireContent<'_> {
    /// The text of all text parts, joined; non-text parts (images) are dropped.
    pub fn to_text(&self) -> String {
        match self {
            WireContent::Text(text) => text.to_string(),
            WireContent::Parts(parts) => {
                parts.iter().filter_map(|part| part.text.as_deref()).collect::<Vec<_>>().join("")
            }
        }
    }
}

/// One part of a list-form content (`{"type":"text","text":".."}`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WireContentPart {
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
}

/// A complete tool call in a request history or a non-streamed response.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WireToolCall<'a> {
    pub id: Cow<'a, str>,
    /// Always `"function"`.
    #[serde(rename = "type", default = "function_kind")]
    pub kind: Cow<'a, str>,
    pub function: WireFunctionCall<'a>,
}

/// The function part of a tool call; `arguments` is a JSON document encoded as a string.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WireFunctionCall<'a> {
    pub name: Cow<'a, str>,
    #[serde(default)]
    pub arguments: String,
}

/// An entry of `tools`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WireTool<'a> {
    /// Always `"function"`.
    #[serde(rename = "type", default = "function_kind")]
    pub kind: Cow<'a, str>,
    pub function: WireFunctionDef<'a>,
}

/// A function tool's name, description and JSON Schema.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WireFunctionDef<'a> {
    pub name: Cow<'a, str>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<Cow<'a, str>>,
    #[serde(default = "empty_object")]
    pub parameters: Cow<'a, serde_json::Value>,
}

/// Non-streamed response body.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChatCompletion {
    #[serde(default)]
    pub id: String,
    /// Always `"chat.completion"`.
    #[serde(default)]
    pub object: String,
    #[serde(default)]
    pub created: u64,
    #[serde(default)]
    pub model: String,
    pub choices: Vec<WireChoice>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub usage: Option<WireUsage>,
}

/// One choice of a non-streamed response; Chitin only ever asks for one.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WireChoice {
    #[serde(default)]
    pub index: u32,
    pub message: WireMessage<'static>,
    #[serde(default)]
    pub finish_reason: Option<String>,
}

/// Token counts as OpenAI names them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct WireUsage {
    #[serde(default)]
    pub prompt_tokens: u64,
    #[serde(default)]
    pub completion_tokens: u64,
    #[serde(default)]
    pub total_tokens: u64,
}

/// One `data:` payload of a streamed response.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChatCompletionChunk {
    #[serde(default)]
    pub id: String,
    /// Always `"chat.completion.chunk"`.
    #[serde(default)]
    pub object: String,
    #[serde(default)]
    pub created: u64,
    #[serde(default)]
    pub model: String,
    /// Empty in the final usage-only chunk.
    #[serde(default)]
    pub choices: Vec<WireChunkChoice>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub usage: Option<WireUsage>,
    /// Set instead of `choices` when the server fails after the stream has started.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<WireErrorDetail>,
}

/// One choice of a chunk.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WireChunkChoice {
    #[serde(default)]
    pub index: u32,
    #[serde(default)]
    pub delta: WireDelta,
    #[serde(default)]
    pub finish_reason: Option<String>,
}

/// What a chunk adds to the answer.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct WireDelta {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<WireRole>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tool_calls: Vec<WireToolCallDelta>,
}

/// A fragment of a streamed tool call. The first fragment of a call carries `id` and the
/// function name; later ones, matched by `index`, carry pieces of `arguments`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WireToolCallDelta {
    pub index: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub function: Option<WireFunctionDelta>,
}

/// The function part of a tool-call fragment.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct WireFunctionDelta {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub arguments: Option<String>,
}

/// Error body of a non-2xx response: `{"error": {"message": ..}}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WireErrorBody {
    pub error: WireErrorDetail,
}

/// The inside of [`WireErrorBody`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WireErrorDetail {
    pub message: String,
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
}

/// The `data:` line that ends a streamed response.
pub const STREAM_DONE: &str = "[DONE]";

fn function_kind() -> Cow<'static, str> {
    Cow::Borrowed("function")
}

fn empty_object() -> Cow<'static, serde_json::Value> {
    Cow::Owned(serde_json::Value::Object(serde_json::Map::new()))
}
