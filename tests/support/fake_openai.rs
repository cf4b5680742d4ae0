//! A fake OpenAI Chat Completions server, written from the public wire format by hand (not with
//! Chitin's own wire types, so a mistake there cannot hide itself).

use serde_json::{Value, json};

use super::fake_llm::{Answer, Dialect, FakeLlmServer, pieces};

pub async fn start() -> FakeLlmServer {
    FakeLlmServer::start(Dialect {
        path: "/v1/chat/completions",
        base_path: "/v1",
        answer_json,
        answer_events,
        partial_events,
        error_json,
    })
    .await
}

fn finish_reason(answer: &Answer) -> &'static str {
    if answer.tool_calls.is_empty() { "stop" } else { "tool_calls" }
}

fn usage(answer: &Answer) -> Value {
    json!({
        "prompt_tokens": answer.input_tokens,
        "completion_tokens": answer.output_tokens,
        "total_tokens": answer.input_tokens + answer.output_tokens,
    })
}

fn answer_json(answer: &Answer, request: &Value) -> Value {
    let model = model(request);
    let tool_calls: Vec<Value> = answer
        .tool_calls
        .iter()
        .map(|call| {
            json!({
                "id": call.id,
                "type": "function",
                "function": {"name": call.name, "arguments": call.arguments},
            })
        })
        .collect();
    let mut message = json!({
        "role": "assistant",
        "content": if answer.text.is_empty() { Value::Null } else { json!(answer.text) },
        "refusal": null,
    });
    if !tool_calls.is_empty() {
        message["tool_calls"] = json!(tool_calls);
    }
    json!({
        "id": "chatcmpl-fake",
        "object": "chat.completion",
        "created": 1_700_000_000,
        "model": model,
        "choices": [{"index": 0, "message": message, "logprobs": null, "finish_reason": finish_reason(answer)}],
        "usage": usage(answer),
        "system_fingerprint": "fp_fake",
    })
}

fn chunk(model: &str, choices: Value, usage: Value) -> String {
    let chunk = json!({
        "id": "chatcmpl-fake",
        "object": "chat.completion.chunk",
        "created": 1_700_000_000,
        "model": model,
        "system_fingerprint": "fp_fake",
        "choices": choices,
        "usage": usage,
    });
    format!("data: {chunk}\n\n")
}

fn delta(model: &str, delta: Value) -> String {
    chunk(model, json!([{"index": 0, "delta": delta, "logprobs": null, "finish_reason": null}]), Value::Null)
}

fn text_events(text: &str, delta_chars: usize, model: &str) -> Vec<String> {
    let mut events = vec![delta(model, json!({"role": "assistant", "content": "", "refusal": null}))];
    events.extend(pieces(text, delta_chars).into_iter().map(|piece| delta(model, json!({"content": piece}))));
    events
}

fn answer_events(answer: &Answer, request: &Value) -> Vec<String> {
    let model = model(request);
    let mut events = text_events(&answer.text, answer.delta_chars, model);
    for (index, call) in answer.tool_calls.iter().enumerate() {
        events.push(delta(
            model,
            json!({"tool_calls": [{
                "index": index, "id": call.id, "type": "function",
                "function": {"name": call.name, "arguments": ""},
            }]}),
        ));
        for piece in pieces(&call.arguments, answer.delta_chars) {
            events.push(delta(model, json!({"tool_calls": [{"index": index, "function": {"arguments": piece}}]})));
        }
    }
    events.push(chunk(
        model,
        json!([{"index": 0, "delta": {}, "logprobs": null, "finish_reason": finish_reason(answer)}]),
        Value::Null,
    ));
    // Like OpenAI, token counts are only streamed to clients that ask for them.
    if request["stream_options"]["include_usage"] == json!(true) {
        events.push(chunk(model, json!([]), usage(answer)));
    }
    events.push("data: [DONE]\n\n".to_owned());
    events
}

fn partial_events(text: &str, request: &Value) -> Vec<String> {
    let model = model(request);
    text_events(text, 4, model)
}

fn model(request: &Value) -> &str {
    request["model"].as_str().unwrap_or("fake-model")
}

fn error_json(status: u16) -> Value {
    let (kind, message) = match status {
        401 => ("invalid_request_error", "Incorrect API key provided"),
        429 => ("rate_limit_exceeded", "Rate limit reached for requests"),
        400..=499 => ("invalid_request_error", "The request is invalid"),
        _ => ("server_error", "The server had an error while processing your request"),
    };
    json!({"error": {"message": message, "type": kind, "param": null, "code": null}})
}
