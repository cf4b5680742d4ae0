//! Client for the Anthropic Messages API (`POST {base_url}/v1/messages`).

use eventsource_stream::Event;
use futures::FutureExt;
use futures::future::BoxFuture;
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};

use super::anthropic_wire::{
    BlockDelta, MessagesRequest, MessagesResponse, RequestBlock, ResponseBlock, StreamPayload, WireMessage, WireRole,
    WireTool,
};
use super::assembly::AnswerAssembler;
use super::config::ProviderSettings;
use super::error::{LlmError, ProviderId};
use super::provider::{LlmProvider, header_value};
use super::streaming::{self, ChatStream, Progress, SseDecoder};
use super::types::{ChatMessage, ChatRequest, ChatResponse, FinishReason, StreamEvent, ToolCall, ToolCallId, Usage};

/// The API version this client speaks; Anthropic pins behaviour to it.
const ANTHROPIC_VERSION: &str = "2023-06-01";

/// Anthropic requires `max_tokens`; used when the request leaves it open.
const DEFAULT_MAX_TOKENS: u32 = 4096;

/// Talks to Anthropic's Messages API.
#[derive(Debug, Clone)]
pub struct AnthropicProvider {
    endpoint: super::transport::Endpoint,
    model: String,
}

impl AnthropicProvider {
    /// Builds the client; the key, if any, must already be resolved from `secret:NAME`.
    pub fn new(settings: &ProviderSettings) -> Result<Self, LlmError> {
        let provider = settings.provider_id();
        let mut headers = HeaderMap::new();
        headers.insert(HeaderName::from_static("anthropic-version"), HeaderValue::from_static(ANTHROPIC_VERSION));
        if let Some(api_key) = &settings.api_key {
            let key = header_value(&provider, api_key, str::to_owned)?;
            headers.insert(HeaderName::from_static("x-api-key"), key);
        }
        let url = format!("{}/v1/messages", settings.base_url);
        let endpoint = super::transport::Endpoint::new(settings, provider, url, headers)?;
        Ok(AnthropicProvider { endpoint, model: settings.model.clone() })
    }

    async fn complete_inner(&self, request: &ChatRequest) -> Result<ChatResponse, LlmError> {
        let body = self.endpoint.encode(&to_wire(&self.model, request, false))?;
        let response: MessagesResponse = self.endpoint.post_json(body).await?;
        from_wire(self.endpoint.provider(), response)
    }

    async fn stream_inner(&self, request: &ChatRequest) -> Result<ChatStream, LlmError> {
        let body = self.endpoint.encode(&to_wire(&self.model, request, true))?;
        let events = self.endpoint.post_sse(body).await?;
        let provider = self.endpoint.provider().clone();
        Ok(streaming::decode(events, EventDecoder::new(provider)))
    }
}

impl LlmProvider for AnthropicProvider {
    fn id(&self) -> &ProviderId {
        self.endpoint.provider()
    }

    fn complete<'a>(&'a self, request: &'a ChatRequest) -> BoxFuture<'a, Result<ChatResponse, LlmError>> {
        self.complete_inner(request).boxed()
    }

    fn stream<'a>(&'a self, request: &'a ChatRequest) -> BoxFuture<'a, Result<ChatStream, LlmError>> {
        self.stream_inner(request).boxed()
    }
}

/// The request body. Tool results travel as `user` turns, and consecutive turns of one role are
/// merged, so the results of parallel tool calls arrive together as the API expects.
fn to_wire<'a>(model: &'a str, request: &'a ChatRequest, stream: bool) -> MessagesRequest<'a> {
    let mut messages: Vec<WireMessage<'a>> = Vec::new();
    for message in &request.messages {
        let (role, blocks) = match message {
            ChatMessage::User { content } => (WireRole::User, vec![RequestBlock::Text { text: content }]),
            ChatMessage::Assistant { content, tool_calls } => {
                // The API rejects empty text blocks, which tool-only turns would produce.
                let text = (!content.is_empty()).then_some(RequestBlock::Text { text: content });
                let calls = tool_calls.iter().map(|call| RequestBlock::ToolUse {
                    id: &call.id.0,
                    name: &call.name,
                    input: &call.arguments,
                });
                (WireRole::Assistant, text.into_iter().chain(calls).collect())
            }
            ChatMessage::ToolResult { call_id, content, is_error } => (
                WireRole::User,
                vec![RequestBlock::ToolResult { tool_use_id: &call_id.0, content, is_error: *is_error }],
            ),
        };
        match messages.last_mut() {
            Some(previous) if previous.role == role => previous.content.extend(blocks),
            _ => messages.push(WireMessage { role, content: blocks }),
        }
    }
    MessagesRequest {
        model,
        max_tokens: request.max_tokens.unwrap_or(DEFAULT_MAX_TOKENS),
        system: request.system.as_deref(),
        messages,
        tools: request
            .tools
            .iter()
            .map(|tool| WireTool { name: &tool.name, description: &tool.description, input_schema: &tool.parameters })
            .collect(),
        temperature: request.temperature,
        stream,
    }
}

fn from_wire(provider: &ProviderId, response: MessagesResponse) -> Result<ChatResponse, LlmError> {
    let mut text = String::new();
    let mut tool_calls = Vec::new();
    for block in response.content {
        match block {
            ResponseBlock::Text { text: part } => text.push_str(&part),
            ResponseBlock::ToolUse { id, name, input } => {
                if id.is_empty() || name.is_empty() {
                    return Err(LlmError::MalformedResponse {
                        provider: provider.clone(),
                        detail: "a tool_use block is missing its id or name".to_owned(),
                    });
                }
                tool_calls.push(ToolCall { id: ToolCallId(id), name, arguments: input });
            }
            ResponseBlock::Unused => {}
        }
    }
    Ok(ChatResponse {
        text,
        tool_calls,
        usage: Usage {
            input_tokens: response.usage.input_tokens.unwrap_or(0),
            output_tokens: response.usage.output_tokens.unwrap_or(0),
        },
        finish: stop_reason(response.stop_reason.as_deref()),
    })
}

fn stop_reason(reason: Option<&str>) -> FinishReason {
    match reason {
        Some("end_turn" | "stop_sequence") | None => FinishReason::Stop,
        Some("max_tokens") => FinishReason::Length,
        Some("tool_use") => FinishReason::ToolCalls,
        Some("refusal") => FinishReason::ContentFilter,
        Some(other) => FinishReason::Other(other.to_owned()),
    }
}

/// Reads Messages stream events until `message_stop`. Each tool call is its own content block,
/// complete at its `content_block_stop`.
struct EventDecoder {
    provider: ProviderId,
    answer: AnswerAssembler,
}

impl EventDecoder {
    fn new(provider: ProviderId) -> Self {
        EventDecoder { answer: AnswerAssembler::new(provider.clone()), provider }
    }
}

impl SseDecoder for EventDecoder {
    fn on_event(&mut self, event: &Event, out: &mut Vec<StreamEvent>) -> Result<Progress, LlmError> {
        if event.data.trim().is_empty() {
            return Ok(Progress::More);
        }
        let payload: StreamPayload =
            serde_json::from_str(&event.data).map_err(|error| LlmError::MalformedResponse {
                provider: self.provider.clone(),
                detail: format!("stream event {:?} is not the expected json ({error})", event.event),
            })?;
        match payload {
            StreamPayload::MessageStart { message } => {
                self.answer.set_usage(message.usage.input_tokens, message.usage.output_tokens)
            }
            StreamPayload::ContentBlockStart { index, content_block: ResponseBlock::ToolUse { id, name, .. } } => {
                self.answer.push_tool_fragment(index, Some(&id), Some(&name), None)
            }
            StreamPayload::ContentBlockStart { content_block: ResponseBlock::Text { text }, .. }
                if !text.is_empty() =>
            {
                self.answer.push_text(&text);
                out.push(StreamEvent::TextDelta(text));
            }
            StreamPayload::ContentBlockStart { .. } => {}
            StreamPayload::ContentBlockDelta { index, delta } => match delta {
                BlockDelta::TextDelta { text } => {
                    self.answer.push_text(&text);
                    out.push(StreamEvent::TextDelta(text));
                }
                BlockDelta::InputJsonDelta { partial_json } => {
                    self.answer.push_tool_fragment(index, None, None, Some(&partial_json));
                }
                BlockDelta::Unused => {}
            },
            StreamPayload::ContentBlockStop { index } => {
                if let Some(call) = self.answer.finish_tool_call(index)? {
                    out.push(StreamEvent::ToolCall(call));
                }
            }
            StreamPayload::MessageDelta { delta, usage } => {
                self.answer.set_usage(usage.input_tokens, usage.output_tokens);
                if let Some(reason) = delta.stop_reason.as_deref() {
                    self.answer.set_finish(stop_reason(Some(reason)));
                }
            }
            StreamPayload::MessageStop => {
                if !self.answer.has_finished() {
                    self.answer.set_finish(FinishReason::Stop);
                }
                return Ok(Progress::Complete);
            }
            StreamPayload::Error { error } => {
                return Err(LlmError::StreamErrorEvent {
                    provider: self.provider.clone(),
                    retryable: matches!(error.kind.as_str(), "overloaded_error" | "api_error"),
                    detail: format!("{}: {}", error.kind, error.message),
                });
            }
            StreamPayload::Ignored => {}
        }
        Ok(Progress::More)
    }

    fn into_response(self) -> Result<ChatResponse, LlmError> {
        self.answer.into_response()
    }
}
