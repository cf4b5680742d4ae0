//! LLM providers against the fake OpenAI and Anthropic servers, over real HTTP on 127.0.0.1.

mod anthropic;
mod config;
mod failover;
mod failures;
mod openai;

use std::time::Duration;

use chitin::llm::{
    ApiKey, ChatMessage, ChatRequest, ChatStream, LlmError, ProviderKind, ProviderSettings, RetryPolicy, StreamEvent,
    ToolSpec,
};
use futures::StreamExt;
use serde_json::json;

/// Settings for one provider at `base_url`, with timeouts short enough for tests.
fn settings(kind: ProviderKind, base_url: &str) -> ProviderSettings {
    ProviderSettings {
        kind,
        base_url: base_url.to_owned(),
        api_key: Some(ApiKey::new("sk-test-key")),
        model: "test-model".to_owned(),
        request_timeout: Duration::from_secs(5),
        connect_timeout: Duration::from_secs(2),
    }
}

/// Real retry logic with delays small enough that only `Retry-After` makes a visible gap.
fn fast_policy(max_retries: u32) -> RetryPolicy {
    RetryPolicy {
        max_retries,
        base_delay: Duration::from_millis(10),
        max_delay: Duration::from_millis(40),
        max_retry_after: Duration::from_secs(5),
    }
}

fn weather_request() -> ChatRequest {
    ChatRequest {
        system: Some("You are Chitin.".to_owned()),
        messages: vec![ChatMessage::user("What's the weather in Lyon?")],
        tools: vec![ToolSpec {
            name: "get_weather".to_owned(),
            description: "Current weather for a city".to_owned(),
            parameters: json!({"type": "object", "properties": {"city": {"type": "string"}}}),
        }]
        .into(),
        max_tokens: None,
        temperature: Some(0.2),
    }
}

/// Every event of a stream, and the error that ended it, if any; bounded so a hang fails.
async fn drain(stream: ChatStream) -> (Vec<StreamEvent>, Option<LlmError>) {
    let collect = async move {
        let mut events = Vec::new();
        let mut stream = stream;
        while let Some(item) = stream.next().await {
            match item {
                Ok(event) => events.push(event),
                Err(error) => return (events, Some(error)),
            }
        }
        (events, None)
    };
    tokio::time::timeout(Duration::from_secs(20), collect).await.expect("stream ended within 20s")
}

fn text_of(events: &[StreamEvent]) -> String {
    events
        .iter()
        .filter_map(|event| match event {
            StreamEvent::TextDelta(text) => Some(text.as_str()),
            _ => None,
        })
        .collect()
}
