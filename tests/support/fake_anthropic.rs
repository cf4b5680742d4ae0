//! A fake Anthropic Messages server, written from the public wire format by hand (not with
//! Chitin's own wire types, so a mistake there cannot hide itself).

use serde_json::{Value, json};

use super::fake_llm::{Answer, Dialect, FakeLlmServer, pieces};

pub async fn start() -> FakeLlmServer {
    FakeLlmServer::start(Dialect {
        path: "/v1/messages",
        base_path: "",
        answer_json,
        answer_events,
        partial_events,
        error_json,
    })
    .await
}

fn stop_reason(answer: &Answer) -> &'static str {
    if answer.tool_calls.is_empty() { "end_turn" } else { "tool_use" }
}

fn input(arguments: &str) -> Value {
    serde_json::from_str(arguments).expect("scripted tool arguments are json")
}

fn answer_json(answer: &Answer, request: &Value) -> Value {
    let model = model(request);
    let mut content = Vec::new();
    if !answer.text.is_empty() {
        content.push(json!({"type": "text", "text": answer.text}));
    }
    for call in &answer.tool_calls {
        content.push(json!({"type": "tool_use", "id": call.id, "name": call.name, "input": input(&call.arguments)}));
    }
    json!({
        "id": "msg_fake",
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": content,
        "stop_reason": stop_reason(answer),
        "stop_sequence": null,
        "usage": {"input_tokens": answer.input_tokens, "output_tokens": answer.output_tokens},
    })
}

fn event(name: &str, data: Value) -> String {
    format!("event: {name}\ndata: {data}\n\n")
}

fn start_events(model: &str, input_tokens: u64) -> Vec<String> {
    vec![
        event(
            "message_start",
            json!({"type": "message_start", "message": {
                "id": "msg_fake", "type": "message", "role": "assistant", "model": model,
                "content": [], "stop_reason": null, "stop_sequence": null,
                "usage": {"input_tokens": input_tokens, "output_tokens": 1},
            }}),
        ),
        event("ping", json!({"type": "ping"})),
    ]
}

fn text_block(index: usize, text: &str, delta_chars: usize) -> Vec<String> {
    let mut events = vec![event(
        "content_block_start",
        json!({"type": "content_block_start", "index": index, "content_block": {"type": "text", "text": ""}}),
    )];
    events.extend(pieces(text, delta_chars).into_iter().map(|piece| {
        event(
            "content_block_delta",
            json!({"type": "content_block_delta", "index": index, "delta": {"type": "text_delta", "text": piece}}),
        )
    }));
    events
}

fn block_stop(index: usize) -> String {
    event("content_block_stop", json!({"type": "content_block_stop", "index": index}))
}

fn answer_events(answer: &Answer, request: &Value) -> Vec<String> {
    let model = model(request);
    let mut events = start_events(model, answer.input_tokens);
    let mut index = 0;
    if !answer.text.is_empty() {
        events.extend(text_block(index, &answer.text, answer.delta_chars));
        events.push(block_stop(index));
        index += 1;
    }
    for call in &answer.tool_calls {
        events.push(event(
            "content_block_start",
            json!({"type": "content_block_start", "index": index,
                   "content_block": {"type": "tool_use", "id": call.id, "name": call.name, "input": {}}}),
        ));
        for piece in pieces(&call.arguments, answer.delta_chars) {
            events.push(event(
                "content_block_delta",
                json!({"type": "content_block_delta", "index": index,
                       "delta": {"type": "input_json_delta", "partial_json": piece}}),
            ));
        }
        events.push(block_stop(index));
        index += 1;
    }
    events.push(event(
        "message_delta",
        json!({"type": "message_delta", "delta": {"stop_reason": stop_reason(answer), "stop_sequence": null},
               "usage": {"output_tokens": answer.output_tokens}}),
    ));
    events.push(event("message_stop", json!({"type": "message_stop"})));
    events
}

fn partial_events(text: &str, request: &Value) -> Vec<String> {
    let model = model(request);
    let mut events = start_events(model, 5);
    events.extend(text_block(0, text, 4));
    events
}

fn model(request: &Value) -> &str {
    request["model"].as_str().unwrap_or("fake-model")
}

fn error_json(status: u16) -> Value {
    let (kind, message) = match status {
        401 => ("authentication_error", "invalid x-api-key"),
        429 => ("rate_limit_error", "Number of requests has exceeded your rate limit"),
        529 => ("overloaded_error", "Overloaded"),
        400..=499 => ("invalid_request_error", "The request is invalid"),
        _ => ("api_error", "Internal server error"),
    };
    json!({"type": "error", "error": {"type": kind, "message": message}})
}
