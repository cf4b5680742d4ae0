//! Client for OpenAI-compatible Chat Completions (`POST {base_url}/chat/completions`).

use std::borrow::Cow;

use eventsource_stream::Event;
use futures::FutureExt;
use futures::future::BoxFuture;
use reqwest::header::{AUTHORIZATION, HeaderMap};

use super::assembly::{AnswerAssembler, parse_tool_call};
use super::config::ProviderSettings;
use super::error::{LlmError, ProviderId};
use super::openai_wire::{
    ChatCompletion, ChatCompletionChunk, ChatCompletionRequest, STREAM_DONE, StreamOptions, WireContent,
    WireFunctionCall, WireFunctionDef, WireMessage, WireRole, WireTool, WireToolCall,
};
use super::provider::{LlmProvider, header_value};
use super::streaming::{self, ChatStream, Progress, SseDecoder};
use super::types::{ChatMessage, ChatRequest, ChatResponse, FinishReason, StreamEvent};

/// Talks to OpenAI or any server that speaks its Chat Completions API.
#[derive(Debug, Clone)]
pub struct OpenAiProvider {
    endpoint: super::transport::Endpoint,
    model: String,
}

impl OpenAiProvider {
    /// Builds the client; the key, if any, must already be resolved from `secret:NAME`.
    pub fn new(settings: &ProviderSettings) -> Result<Self, LlmError> {
        let provider = settings.provider_id();
        let mut headers = HeaderMap::new();
        if let Some(api_key) = &settings.api_key {
            let bearer = header_value(&provider, api_key, |key| format!("Bearer {key}"))?;
            headers.insert(AUTHORIZATION, bearer);
        }
        let url = format!("{}/chat/completions", settings.base_url);
        let endpoint = super::transport::Endpoint::new(settings, provider, url, headers)?;
        Ok(OpenAiProvider { endpoint, model: settings.model.clone() })
    }

    async fn complete_inner(&self, request: &ChatRequest) -> Result<ChatResponse, LlmError> {
        let body = self.endpoint.encode(&to_wire(&self.model, request, false))?;
        let completion: ChatCompletion = self.endpoint.post_json(body).await?;
        from_wire(self.endpoint.provider(), completion)
    }

    async fn stream_inner(&self, request: &ChatRequest) -> Result<ChatStream, LlmError> {
        let body = self.endpoint.encode(&to_wire(&self.model, request, true))?;
        let events = self.endpoint.post_sse(body).await?;
        let provider = self.endpoint.provider().clone();
        Ok(streaming::decode(events, ChunkDecoder::new(provider)))
    }
}

impl LlmProvider for OpenAiProvider {
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

/// The request body for `request`, borrowing its text and schemas; `stream` also asks for the usage chunk.
fn to_wire<'a>(model: &'a str, request: &'a ChatRequest, stream: bool) -> ChatCompletionRequest<'a> {
    let system = request.system.iter().map(|system| WireMessage {
        role: WireRole::System,
        content: Some(WireContent::Text(Cow::Borrowed(system))),
        tool_calls: Vec::new(),
        tool_call_id: None,
    });
    let turns = request.messages.iter().map(|message| match message {
        ChatMessage::User { content } => WireMessage {
            role: WireRole::User,
            content: Some(WireContent::Text(Cow::Borrowed(content))),
            tool_calls: Vec::new(),
            tool_call_id: None,
        },
        ChatMessage::Assistant { content, tool_calls } => WireMessage {
            role: WireRole::Assistant,
            // OpenAI wants `null`, not "", next to tool calls.
            content: (!content.is_empty() || tool_calls.is_empty()).then(|| WireContent::Text(Cow::Borrowed(content))),
            tool_calls: tool_calls
                .iter()
                .map(|call| WireToolCall {
                    id: Cow::Borrowed(&call.id.0),
                    kind: Cow::Borrowed("function"),
                    function: WireFunctionCall {
                        name: Cow::Borrowed(&call.name),
                        arguments: call.arguments.to_string(),
                    },
                })
                .collect(),
            tool_call_id: None,
        },
        ChatMessage::ToolResult { call_id, content, is_error } => WireMessage {
            role: WireRole::Tool,
            // The protocol has no error flag; say it in the text so the model does not trust it.
            content: Some(WireContent::Text(if *is_error {
                Cow::Owned(format!("tool error: {content}"))
            } else {
                Cow::Borrowed(content)
            })),
            tool_calls: Vec::new(),
            tool_call_id: Some(Cow::Borrowed(&call_id.0)),
        },
    });
    ChatCompletionRequest {
        model: Cow::Borrowed(model),
        messages: system.chain(turns).collect(),
        tools: request
            .tools
            .iter()
            .map(|tool| WireTool {
                kind: Cow::Borrowed("function"),
                function: WireFunctionDef {
                    name: Cow::Borrowed(&tool.name),
                    description: Some(Cow::Borrowed(&tool.description)),
                    parameters: Cow::Borrowed(&tool.parameters),
                },
            })
            .collect(),
        max_tokens: request.max_tokens,
        temperature: request.temperature,
        stream,
        stream_options: stream.then_some(StreamOptions { include_usage: true }),
    }
}

fn from_wire(provider: &ProviderId, completion: ChatCompletion) -> Result<ChatResponse, LlmError> {
    let Some(choice) = completion.choices.into_iter().next() else {
        return Err(LlmError::MalformedResponse {
            provider: provider.clone(),
            detail: "response has no choices".to_owned(),
        });
    };
    let tool_calls = choice
        .message
        .tool_calls
        .into_iter()
        .map(|call| {
            parse_tool_call(provider, call.id.into_owned(), call.function.name.into_owned(), &call.function.arguments)
        })
        .collect::<Result<Vec<_>, _>>()?;
    let finish = finish_reason(choice.finish_reason.as_deref(), !tool_calls.is_empty());
    let usage = completion.usage.unwrap_or_default();
    Ok(ChatResponse {
        text: choice.message.content.map(|content| content.to_text()).unwrap_or_default(),
        tool_calls,
        usage: super::types::Usage { input_tokens: usage.prompt_tokens, output_tokens: usage.completion_tokens },
        finish,
    })
}

fn finish_reason(reason: Option<&str>, has_tool_calls: bool) -> FinishReason {
    match reason {
        Some("stop") => FinishReason::Stop,
        Some("length") => FinishReason::Length,
        Some("tool_calls" | "function_call") => FinishReason::ToolCalls,
        Some("content_filter") => FinishReason::ContentFilter,
        Some(other) => FinishReason::Other(other.to_owned()),
        None if has_tool_calls => FinishReason::ToolCalls,
        None => FinishReason::Stop,
    }
}

/// Reads `chat.completion.chunk` events until `[DONE]`.
struct ChunkDecoder {
    provider: ProviderId,
    answer: AnswerAssembler,
    saw_tool_calls: bool,
}

impl ChunkDecoder {
    fn new(provider: ProviderId) -> Self {
        ChunkDecoder { answer: AnswerAssembler::new(provider.clone()), provider, saw_tool_calls: false }
    }
}

impl SseDecoder for ChunkDecoder {
    fn on_event(&mut self, event: &Event, out: &mut Vec<StreamEvent>) -> Result<Progress, LlmError> {
        let data = event.data.trim();
        if data == STREAM_DONE {
            if !self.answer.has_finished() {
                self.answer.set_finish(finish_reason(None, self.saw_tool_calls));
            }
            return Ok(Progress::Complete);
        }
        if data.is_empty() {
            return Ok(Progress::More);
        }
        let chunk: ChatCompletionChunk = serde_json::from_str(data).map_err(|error| LlmError::MalformedResponse {
            provider: self.provider.clone(),
            detail: format!("stream chunk is not the expected json ({error})"),
        })?;
        if let Some(error) = chunk.error {
            return Err(LlmError::StreamErrorEvent {
                provider: self.provider.clone(),
                detail: error.message,
                retryable: false,
            });
        }
        if let Some(usage) = chunk.usage {
            self.answer.set_usage(Some(usage.prompt_tokens), Some(usage.completion_tokens));
        }
        // Chitin asks for one choice; others (n > 1 from a misbehaving server) are ignored.
        for choice in chunk.choices.into_iter().filter(|choice| choice.index == 0) {
            if let Some(text) = choice.delta.content.filter(|text| !text.is_empty()) {
                self.answer.push_text(&text);
                out.push(StreamEvent::TextDelta(text));
            }
            for fragment in &choice.delta.tool_calls {
                self.saw_tool_calls = true;
                let function = fragment.function.as_ref();
                self.answer.push_tool_fragment(
                    fragment.index,
                    fragment.id.as_deref(),
                    function.and_then(|function| function.name.as_deref()),
                    function.and_then(|function| function.arguments.as_deref()),
                );
            }
            if let Some(reason) = choice.finish_reason.as_deref() {
                self.answer.set_finish(finish_reason(Some(reason), self.saw_tool_calls));
                let calls = self.answer.finish_all_tool_calls()?;
                out.extend(calls.into_iter().map(StreamEvent::ToolCall));
            }
        }
        Ok(Progress::More)
    }

    fn into_response(self) -> Result<ChatResponse, LlmError> {
        self.answer.into_response()
    }
}
