//! Builds one complete answer out of streamed fragments: text, tool-call argument pieces, usage.

use std::collections::BTreeMap;

use super::error::{LlmError, ProviderId};
use super::types::{ChatResponse, FinishReason, ToolCall, ToolCallId, Usage};

/// A tool call whose arguments are still arriving.
#[derive(Debug, Default)]
struct PartialToolCall {
    id: String,
    name: String,
    arguments: String,
}

/// Collects the pieces of a streamed answer. Tool calls are keyed by the provider's index
/// (OpenAI `tool_calls[].index`, Anthropic content-block index) because fragments of parallel
/// calls may interleave and only the first fragment carries the id and name.
#[derive(Debug)]
pub(crate) struct AnswerAssembler {
    provider: ProviderId,
    text: String,
    open_calls: BTreeMap<u32, PartialToolCall>,
    finished_calls: Vec<ToolCall>,
    usage: Usage,
    finish: Option<FinishReason>,
}

impl AnswerAssembler {
    pub(crate) fn new(provider: ProviderId) -> Self {
        AnswerAssembler {
            provider,
            text: String::new(),
            open_calls: BTreeMap::new(),
            finished_calls: Vec::new(),
            usage: Usage::default(),
            finish: None,
        }
    }

    pub(crate) fn push_text(&mut self, text: &str) {
        self.text.push_str(text);
    }

    /// Adds a fragment of the call at `index`; `id` and `name` are kept from whichever
    /// fragment has them.
    pub(crate) fn push_tool_fragment(
        &mut self,
        index: u32,
        id: Option<&str>,
        name: Option<&str>,
        arguments: Option<&str>,
    ) {
        let call = self.open_calls.entry(index).or_default();
        if let Some(id) = id.filter(|id| !id.is_empty()) {
            call.id = id.to_owned();
        }
        if let Some(name) = name.filter(|name| !name.is_empty()) {
            call.name.push_str(name);
        }
        if let Some(arguments) = arguments {
            call.arguments.push_str(arguments);
        }
    }

    /// Closes the call at `index` and returns it complete, if one was open there.
    pub(crate) fn finish_tool_call(&mut self, index: u32) -> Result<Option<ToolCall>, LlmError> {
        let Some(partial) = self.open_calls.remove(&index) else {
            return Ok(None);
        };
        let call = self.complete(partial)?;
        self.finished_calls.push(call.clone());
        Ok(Some(call))
    }

    /// Closes every open call, in index order.
    pub(crate) fn finish_all_tool_calls(&mut self) -> Result<Vec<ToolCall>, LlmError> {
        let indexes: Vec<u32> = self.open_calls.keys().copied().collect();
        let mut calls = Vec::with_capacity(indexes.len());
        for index in indexes {
            calls.extend(self.finish_tool_call(index)?);
        }
        Ok(calls)
    }

    /// Providers report input and output tokens in different events; each report overrides
    /// only the counts it carries.
    pub(crate) fn set_usage(&mut self, input_tokens: Option<u64>, output_tokens: Option<u64>) {
        if let Some(input_tokens) = input_tokens {
            self.usage.input_tokens = input_tokens;
        }
        if let Some(output_tokens) = output_tokens {
            self.usage.output_tokens = output_tokens;
        }
    }

    pub(crate) fn set_finish(&mut self, finish: FinishReason) {
        self.finish = Some(finish);
    }

    pub(crate) fn has_finished(&self) -> bool {
        self.finish.is_some()
    }

    /// The complete answer. Fails if the provider never said it was done, because a stream
    /// that just stops may have lost the end of the answer.
    pub(crate) fn into_response(mut self) -> Result<ChatResponse, LlmError> {
        let Some(finish) = self.finish.take() else {
            return Err(LlmError::StreamDropped { provider: self.provider });
        };
        // Calls still open are closed here; they land in `finished_calls` like the others.
        self.finish_all_tool_calls()?;
        Ok(ChatResponse { text: self.text, tool_calls: self.finished_calls, usage: self.usage, finish })
    }

    fn complete(&self, partial: PartialToolCall) -> Result<ToolCall, LlmError> {
        parse_tool_call(&self.provider, partial.id, partial.name, &partial.arguments)
    }
}

/// A tool call with its JSON-encoded arguments parsed; no arguments at all means `{}`.
pub(crate) fn parse_tool_call(
    provider: &ProviderId,
    id: String,
    name: String,
    arguments: &str,
) -> Result<ToolCall, LlmError> {
    if id.is_empty() || name.is_empty() {
        return Err(LlmError::MalformedResponse {
            provider: provider.clone(),
            detail: "a tool call is missing its id or name".to_owned(),
        });
    }
    let arguments = if arguments.trim().is_empty() {
        serde_json::Value::Object(serde_json::Map::new())
    } else {
        serde_json::from_str(arguments).map_err(|error| LlmError::MalformedResponse {
            provider: provider.clone(),
            detail: format!("arguments of tool call {name} are not valid json ({error})"),
        })?
    };
    Ok(ToolCall { id: ToolCallId(id), name, arguments })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn assembler() -> AnswerAssembler {
        AnswerAssembler::new(ProviderId("test".to_owned()))
    }

    #[test]
    fn interleaved_fragments_of_two_calls_assemble_by_index() {
        let mut answer = assembler();
        answer.push_tool_fragment(1, Some("call_b"), Some("read"), Some("{\"pa"));
        answer.push_tool_fragment(0, Some("call_a"), Some("search"), None);
        answer.push_tool_fragment(0, None, None, Some("{\"q\":"));
        answer.push_tool_fragment(1, None, None, Some("th\":\"/x\"}"));
        answer.push_tool_fragment(0, None, None, Some("\"cats\"}"));
        answer.set_finish(FinishReason::ToolCalls);
        let response = answer.into_response().expect("complete answer");
        let calls: Vec<_> = response
            .tool_calls
            .iter()
            .map(|call| (call.id.0.as_str(), call.name.as_str(), call.arguments.clone()))
            .collect();
        assert_eq!(calls, vec![("call_a", "search", json!({"q": "cats"})), ("call_b", "read", json!({"path": "/x"})),]);
    }

    #[test]
    fn broken_arguments_and_missing_finish_are_errors() {
        let mut answer = assembler();
        answer.push_tool_fragment(0, Some("c"), Some("t"), Some("{\"q\":"));
        assert!(matches!(answer.finish_tool_call(0), Err(LlmError::MalformedResponse { .. })));
        let mut unfinished = assembler();
        unfinished.push_text("half an ans");
        assert!(matches!(unfinished.into_response(), Err(LlmError::StreamDropped { .. })));
    }
}
