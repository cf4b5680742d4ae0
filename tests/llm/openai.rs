//! The OpenAI-compatible client: requests on the wire, answers and streams back.

use chitin::llm::{
    ChatMessage, FinishReason, LlmProvider, OpenAiProvider, ProviderKind, StreamEvent, ToolCall, ToolCallId, Usage,
};
use serde_json::json;

use super::{drain, settings, text_of, weather_request};
use crate::support::fake_llm::{Answer, Reply};
use crate::support::fake_openai;

#[tokio::test]
async fn complete_returns_text_and_usage_and_sends_the_prompt_in_openai_format() {
    let fake = fake_openai::start().await;
    fake.push(Reply::Answer(Answer::text("Sunny, 21 °C.").usage(123, 45)));
    let provider = OpenAiProvider::new(&settings(ProviderKind::OpenAi, &fake.base_url())).unwrap();

    let response = provider.complete(&weather_request()).await.unwrap();

    assert_eq!(response.text, "Sunny, 21 °C.");
    assert_eq!(response.finish, FinishReason::Stop);
    assert_eq!(response.usage, Usage { input_tokens: 123, output_tokens: 45 });
    let requests = fake.requests();
    assert_eq!(requests.len(), 1);
    let sent = &requests[0];
    assert_eq!(sent.headers["authorization"], "Bearer sk-test-key");
    assert_eq!(sent.body["model"], "test-model");
    assert_eq!(sent.body["messages"][0], json!({"role": "system", "content": "You are Chitin."}));
    assert_eq!(sent.body["messages"][1], json!({"role": "user", "content": "What's the weather in Lyon?"}));
    assert_eq!(sent.body["tools"][0]["type"], "function");
    assert_eq!(sent.body["tools"][0]["function"]["name"], "get_weather");
    assert_eq!(sent.body["tools"][0]["function"]["parameters"]["type"], "object");
    assert!(sent.body.get("stream").is_none(), "non-streamed calls omit `stream`");
}

#[tokio::test]
async fn stream_yields_text_deltas_then_usage_then_done() {
    let fake = fake_openai::start().await;
    fake.push(Reply::Answer(Answer::text("It is sunny in Lyon today.").usage(30, 9).delta_chars(5)));
    let provider = OpenAiProvider::new(&settings(ProviderKind::OpenAi, &fake.base_url())).unwrap();

    let stream = provider.stream(&weather_request()).await.unwrap();
    let (events, error) = drain(stream).await;

    assert!(error.is_none(), "unexpected error: {error:?}");
    assert_eq!(text_of(&events), "It is sunny in Lyon today.");
    let deltas = events.iter().filter(|e| matches!(e, StreamEvent::TextDelta(_))).count();
    assert!(deltas > 1, "text arrived in {deltas} delta(s)");
    let usage = Usage { input_tokens: 30, output_tokens: 9 };
    assert_eq!(events[events.len() - 2], StreamEvent::Usage(usage));
    let StreamEvent::Done(done) = &events[events.len() - 1] else {
        panic!("last event is not Done: {events:?}");
    };
    assert_eq!(done.text, "It is sunny in Lyon today.");
    assert_eq!(done.usage, usage);
    let body = &fake.requests()[0].body;
    assert_eq!(body["stream"], true);
    assert_eq!(body["stream_options"]["include_usage"], true);
}

#[tokio::test]
async fn streamed_tool_call_arguments_are_reassembled_across_arbitrary_splits() {
    let fake = fake_openai::start().await;
    let arguments = r#"{"city": "Besançon ☕", "units": "metric"}"#;
    let second = r#"{"query": "umbrella"}"#;
    fake.push(Reply::Answer(
        Answer::text("")
            .tool_call("call_1", "get_weather", arguments)
            .tool_call("call_2", "search", second)
            .delta_chars(3)
            .frame_bytes(7),
    ));
    let provider = OpenAiProvider::new(&settings(ProviderKind::OpenAi, &fake.base_url())).unwrap();

    let (events, error) = drain(provider.stream(&weather_request()).await.unwrap()).await;

    assert!(error.is_none(), "unexpected error: {error:?}");
    let expected = vec![
        ToolCall {
            id: ToolCallId("call_1".to_owned()),
            name: "get_weather".to_owned(),
            arguments: json!({"city": "Besançon ☕", "units": "metric"}),
        },
        ToolCall {
            id: ToolCallId("call_2".to_owned()),
            name: "search".to_owned(),
            arguments: json!({"query": "umbrella"}),
        },
    ];
    let streamed: Vec<ToolCall> = events
        .iter()
        .filter_map(|event| match event {
            StreamEvent::ToolCall(call) => Some(call.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(streamed, expected);
    let Some(StreamEvent::Done(done)) = events.last() else {
        panic!("no Done event: {events:?}");
    };
    assert_eq!(done.tool_calls, expected);
    assert_eq!(done.finish, FinishReason::ToolCalls);
}

#[tokio::test]
async fn complete_returns_two_parallel_tool_calls() {
    let fake = fake_openai::start().await;
    fake.push(Reply::Answer(Answer::text("").tool_call("call_a", "get_weather", r#"{"city":"Lyon"}"#).tool_call(
        "call_b",
        "get_weather",
        r#"{"city":"Nice"}"#,
    )));
    let provider = OpenAiProvider::new(&settings(ProviderKind::OpenAi, &fake.base_url())).unwrap();

    let response = provider.complete(&weather_request()).await.unwrap();

    assert_eq!(response.finish, FinishReason::ToolCalls);
    assert_eq!(response.text, "");
    let calls: Vec<(&str, serde_json::Value)> =
        response.tool_calls.iter().map(|call| (call.id.0.as_str(), call.arguments.clone())).collect();
    assert_eq!(calls, vec![("call_a", json!({"city": "Lyon"})), ("call_b", json!({"city": "Nice"}))]);
}

#[tokio::test]
async fn tool_history_is_sent_as_assistant_tool_calls_and_tool_messages() {
    let fake = fake_openai::start().await;
    fake.push(Reply::Answer(Answer::text("Lyon: sunny.")));
    let provider = OpenAiProvider::new(&settings(ProviderKind::OpenAi, &fake.base_url())).unwrap();
    let mut request = weather_request();
    request.messages.push(ChatMessage::Assistant {
        content: String::new(),
        tool_calls: vec![ToolCall {
            id: ToolCallId("call_9".to_owned()),
            name: "get_weather".to_owned(),
            arguments: json!({"city": "Lyon"}),
        }],
    });
    request.messages.push(ChatMessage::ToolResult {
        call_id: ToolCallId("call_9".to_owned()),
        content: "sunny".to_owned(),
        is_error: false,
    });

    provider.complete(&request).await.unwrap();

    let messages = &fake.requests()[0].body["messages"];
    assert_eq!(messages[2]["role"], "assistant");
    assert_eq!(messages[2]["content"], serde_json::Value::Null);
    assert_eq!(messages[2]["tool_calls"][0]["id"], "call_9");
    let arguments = messages[2]["tool_calls"][0]["function"]["arguments"].as_str().unwrap();
    assert_eq!(serde_json::from_str::<serde_json::Value>(arguments).unwrap(), json!({"city": "Lyon"}));
    assert_eq!(messages[3], json!({"role": "tool", "content": "sunny", "tool_call_id": "call_9"}));
}
