//! The Anthropic Messages client: requests on the wire, answers and streamed events back.

use chitin::llm::{
    AnthropicProvider, ChatMessage, FinishReason, LlmProvider, ProviderKind, StreamEvent, ToolCall, ToolCallId, Usage,
};
use serde_json::json;

use super::{drain, settings, text_of, weather_request};
use crate::support::fake_anthropic;
use crate::support::fake_llm::{Answer, Reply};

#[tokio::test]
async fn complete_sends_messages_format_with_key_and_version_headers() {
    let fake = fake_anthropic::start().await;
    fake.push(Reply::Answer(Answer::text("Sunny.").usage(50, 3)));
    let provider = AnthropicProvider::new(&settings(ProviderKind::Anthropic, &fake.base_url())).unwrap();

    let response = provider.complete(&weather_request()).await.unwrap();

    assert_eq!(response.text, "Sunny.");
    assert_eq!(response.finish, FinishReason::Stop);
    assert_eq!(response.usage, Usage { input_tokens: 50, output_tokens: 3 });
    let sent = &fake.requests()[0];
    assert_eq!(sent.path, "/v1/messages");
    assert_eq!(sent.headers["x-api-key"], "sk-test-key");
    assert_eq!(sent.headers["anthropic-version"], "2023-06-01");
    assert!(sent.headers.get("authorization").is_none());
    assert_eq!(sent.body["system"], "You are Chitin.");
    assert_eq!(sent.body["max_tokens"], 4096, "required by the API, so defaulted");
    assert_eq!(
        sent.body["messages"],
        json!([{"role": "user", "content": [{"type": "text", "text": "What's the weather in Lyon?"}]}])
    );
    assert_eq!(sent.body["tools"][0]["name"], "get_weather");
    assert_eq!(sent.body["tools"][0]["input_schema"]["type"], "object");
}

#[tokio::test]
async fn stream_yields_text_and_combines_usage_from_start_and_delta_events() {
    let fake = fake_anthropic::start().await;
    fake.push(Reply::Answer(Answer::text("Grey skies over Lyon.").usage(77, 12).delta_chars(3)));
    let provider = AnthropicProvider::new(&settings(ProviderKind::Anthropic, &fake.base_url())).unwrap();

    let (events, error) = drain(provider.stream(&weather_request()).await.unwrap()).await;

    assert!(error.is_none(), "unexpected error: {error:?}");
    assert_eq!(text_of(&events), "Grey skies over Lyon.");
    let usage = Usage { input_tokens: 77, output_tokens: 12 };
    assert!(events.contains(&StreamEvent::Usage(usage)));
    let Some(StreamEvent::Done(done)) = events.last() else {
        panic!("no Done event: {events:?}");
    };
    assert_eq!(done.usage, usage);
    assert_eq!(done.finish, FinishReason::Stop);
    assert_eq!(fake.requests()[0].body["stream"], true);
}

#[tokio::test]
async fn streamed_tool_use_input_is_reassembled_for_parallel_calls() {
    let fake = fake_anthropic::start().await;
    fake.push(Reply::Answer(
        Answer::text("Checking both.")
            .tool_call("toolu_1", "get_weather", r#"{"city": "Zürich"}"#)
            .tool_call("toolu_2", "get_weather", r#"{"city": "Oslo", "days": [1, 2]}"#)
            .delta_chars(2)
            .frame_bytes(5),
    ));
    let provider = AnthropicProvider::new(&settings(ProviderKind::Anthropic, &fake.base_url())).unwrap();

    let (events, error) = drain(provider.stream(&weather_request()).await.unwrap()).await;

    assert!(error.is_none(), "unexpected error: {error:?}");
    let Some(StreamEvent::Done(done)) = events.last() else {
        panic!("no Done event: {events:?}");
    };
    assert_eq!(done.text, "Checking both.");
    assert_eq!(done.finish, FinishReason::ToolCalls);
    assert_eq!(
        done.tool_calls,
        vec![
            ToolCall {
                id: ToolCallId("toolu_1".to_owned()),
                name: "get_weather".to_owned(),
                arguments: json!({"city": "Zürich"}),
            },
            ToolCall {
                id: ToolCallId("toolu_2".to_owned()),
                name: "get_weather".to_owned(),
                arguments: json!({"city": "Oslo", "days": [1, 2]}),
            },
        ]
    );
    let streamed = events.iter().filter(|e| matches!(e, StreamEvent::ToolCall(_))).count();
    assert_eq!(streamed, 2);
}

#[tokio::test]
async fn parallel_tool_results_are_merged_into_one_user_turn() {
    let fake = fake_anthropic::start().await;
    fake.push(Reply::Answer(Answer::text("Both sunny.")));
    let provider = AnthropicProvider::new(&settings(ProviderKind::Anthropic, &fake.base_url())).unwrap();
    let mut request = weather_request();
    let call = |id: &str, city: &str| ToolCall {
        id: ToolCallId(id.to_owned()),
        name: "get_weather".to_owned(),
        arguments: json!({"city": city}),
    };
    request.messages.push(ChatMessage::Assistant {
        content: String::new(),
        tool_calls: vec![call("toolu_a", "Lyon"), call("toolu_b", "Nice")],
    });
    for (id, content, is_error) in [("toolu_a", "sunny", false), ("toolu_b", "no data", true)] {
        request.messages.push(ChatMessage::ToolResult {
            call_id: ToolCallId(id.to_owned()),
            content: content.to_owned(),
            is_error,
        });
    }

    let response = provider.complete(&request).await.unwrap();

    assert_eq!(response.text, "Both sunny.");
    let messages = &fake.requests()[0].body["messages"];
    assert_eq!(messages.as_array().unwrap().len(), 3);
    assert_eq!(
        messages[1],
        json!({"role": "assistant", "content": [
            {"type": "tool_use", "id": "toolu_a", "name": "get_weather", "input": {"city": "Lyon"}},
            {"type": "tool_use", "id": "toolu_b", "name": "get_weather", "input": {"city": "Nice"}},
        ]})
    );
    assert_eq!(
        messages[2],
        json!({"role": "user", "content": [
            {"type": "tool_result", "tool_use_id": "toolu_a", "content": "sunny"},
            {"type": "tool_result", "tool_use_id": "toolu_b", "content": "no data", "is_error": true},
        ]})
    );
}
