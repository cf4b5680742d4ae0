//! The webhook and the OpenAI-compatible API on the gateway: authentication, limits, bad input, idempotency, streaming.

use chitin_channels::gateway::auth::{SIGNATURE_HEADER, sign};
use serde_json::{Value, json};

use crate::support::chitin::{TOKEN, TestChitin, eventually};
use crate::support::fake_llm::{Answer, Reply};
use crate::support::fake_openai;

async fn post_webhook(chitin: &TestChitin, body: &[u8], auth: Option<(&str, String)>) -> (u16, Value) {
    let mut request =
        chitin.client.post(chitin.url("/webhook")).header("content-type", "application/json").body(body.to_vec());
    if let Some((name, value)) = auth {
        request = request.header(name, value);
    }
    let response = request.send().await.expect("request");
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

fn bearer() -> Option<(&'static str, String)> {
    Some(("authorization", format!("Bearer {TOKEN}")))
}

#[tokio::test]
async fn webhook_rejects_bad_credentials_sizes_and_bodies_with_clear_errors() {
    let fake = fake_openai::start().await;
    let chitin = TestChitin::start(Some(&fake.base_url()), &[]).await;
    let body = json!({"message_id": "m1", "conversation": "c1", "text": "hi"}).to_string();

    let (status, error) = post_webhook(&chitin, body.as_bytes(), None).await;
    assert_eq!(status, 401, "{error}");
    let (status, _) = post_webhook(&chitin, body.as_bytes(), Some(("authorization", "Bearer wrong".into()))).await;
    assert_eq!(status, 401);
    let (status, _) =
        post_webhook(&chitin, body.as_bytes(), Some((SIGNATURE_HEADER, sign("not-the-key", body.as_bytes())))).await;
    assert_eq!(status, 401, "bad signature");

    let huge = json!({"message_id": "m2", "conversation": "c1", "text": "x".repeat(65 * 1024)}).to_string();
    let (status, error) = post_webhook(&chitin, huge.as_bytes(), bearer()).await;
    assert_eq!(status, 413);
    assert!(error["error"].as_str().expect("message").contains("64 KiB"), "names the limit: {error}");

    let (status, error) = post_webhook(&chitin, br#"{"message_id": "m3", "conversation": "c1"}"#, bearer()).await;
    assert_eq!(status, 400);
    assert!(error["error"].as_str().expect("message").contains("text"), "names the missing field: {error}");
    let (status, error) =
        post_webhook(&chitin, br#"{"message_id": "m4", "conversation": "c1", "text": 5}"#, bearer()).await;
    assert_eq!(status, 400);
    assert!(error["error"].as_str().expect("message").contains("text:"), "names the mistyped field: {error}");
    let (status, error) =
        post_webhook(&chitin, br#"{"message_id": "m5", "conversation": "c1", "text": "  "}"#, bearer()).await;
    assert_eq!(status, 400);
    assert!(error["error"].as_str().expect("message").contains("text must not be empty"), "{error}");
    let (status, error) = post_webhook(&chitin, b"{not json", bearer()).await;
    assert_eq!(status, 400, "{error}");
    assert!(fake.requests().is_empty(), "nothing bad reached the model");
    chitin.stop().await;
}

#[tokio::test]
async fn a_signed_webhook_is_accepted_and_a_repeated_id_gives_one_reply() {
    let fake = fake_openai::start().await;
    fake.push(Reply::Answer(Answer::text("Hello from Chitin.")));
    let chitin = TestChitin::start(Some(&fake.base_url()), &[]).await;
    let body = json!({"message_id": "order-7", "conversation": "shop", "text": "hello"}).to_string();

    let (status, first) =
        post_webhook(&chitin, body.as_bytes(), Some((SIGNATURE_HEADER, sign(TOKEN, body.as_bytes())))).await;
    assert_eq!(status, 202, "{first}");
    let (status, second) = post_webhook(&chitin, body.as_bytes(), bearer()).await;
    assert_eq!(status, 202);
    assert_eq!(first["message_id"], second["message_id"], "same idempotency key, same message id");
    assert_eq!(second["duplicate"], true);

    let id = first["message_id"].as_str().expect("id").to_string();
    let reply: Value = eventually("the reply", || async {
        let response =
            chitin.client.get(chitin.url(&format!("/webhook/replies/{id}"))).bearer_auth(TOKEN).send().await.ok()?;
        let body: Value = response.json().await.ok()?;
        (body["status"] == "answered").then_some(body)
    })
    .await;
    assert_eq!(reply["reply"], "Hello from Chitin.");
    assert_eq!(fake.requests().len(), 1, "one turn for two deliveries");
    // An id that is no webhook message is not "pending" forever.
    let unknown_id = id.parse::<i64>().expect("numeric id") + 1_000;
    let unknown =
        chitin.client.get(chitin.url(&format!("/webhook/replies/{unknown_id}"))).bearer_auth(TOKEN).send().await;
    let unknown = unknown.expect("request");
    assert_eq!(unknown.status(), 404);
    let unauthorised = chitin.client.get(chitin.url(&format!("/webhook/replies/{id}"))).send().await.expect("request");
    assert_eq!(unauthorised.status(), 401);
    chitin.stop().await;
}

#[tokio::test]
async fn the_openai_api_streams_chunks_and_done_and_lists_the_model() {
    let fake = fake_openai::start().await;
    fake.push(Reply::Answer(Answer::text("Streaming works fine.").delta_chars(3)));
    let chitin = TestChitin::start(Some(&fake.base_url()), &[]).await;

    let response = chitin
        .client
        .post(chitin.url("/v1/chat/completions"))
        .bearer_auth(TOKEN)
        .header("x-chitin-conversation", "sse")
        .json(&json!({"model": "chitin", "stream": true, "messages": [{"role": "user", "content": "stream please"}]}))
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), 200);
    assert!(response.headers()["content-type"].to_str().expect("type").starts_with("text/event-stream"));
    let body = response.text().await.expect("body");
    let data: Vec<&str> = body.lines().filter_map(|line| line.strip_prefix("data: ")).collect();
    assert_eq!(data.last(), Some(&"[DONE]"), "{body}");
    let chunks: Vec<Value> =
        data[..data.len() - 1].iter().map(|d| serde_json::from_str(d).expect("chunk json")).collect();
    assert!(chunks.iter().all(|c| c["object"] == "chat.completion.chunk" && c["id"] == chunks[0]["id"]));
    assert_eq!(chunks[0]["choices"][0]["delta"]["role"], "assistant");
    assert_eq!(chunks.last().expect("last")["choices"][0]["finish_reason"], "stop");
    let text: String = chunks.iter().filter_map(|c| c["choices"][0]["delta"]["content"].as_str()).collect();
    assert_eq!(text, "Streaming works fine.");
    assert!(chunks.len() > 4, "the answer arrives in several deltas, not one piece");

    let models: Value = chitin
        .client
        .get(chitin.url("/v1/models"))
        .bearer_auth(TOKEN)
        .send()
        .await
        .expect("models")
        .json()
        .await
        .expect("json");
    assert_eq!(models["object"], "list");
    assert_eq!(models["data"][0]["id"], "chitin");
    let model = chitin.client.get(chitin.url("/v1/models/chitin")).bearer_auth(TOKEN).send().await.expect("model");
    let model: Value = model.json().await.expect("json");
    assert_eq!((&model["id"], &model["object"]), (&json!("chitin"), &json!("model")), "{model}");
    let unknown = chitin.client.get(chitin.url("/v1/models/gpt-4o")).bearer_auth(TOKEN).send().await.expect("model");
    assert_eq!(unknown.status(), 404);
    let unknown: Value = unknown.json().await.expect("json");
    assert_eq!(unknown["error"]["param"], "model", "{unknown}");
    // Errors come in OpenAI's shape, which the SDKs turn into their exceptions.
    let refused = chitin.client.get(chitin.url("/v1/models")).send().await.expect("request");
    assert_eq!(refused.status(), 401);
    let refused: Value = refused.json().await.expect("error json");
    assert_eq!(refused["error"]["type"], "invalid_request_error", "{refused}");
    assert_eq!(refused["error"]["code"], "invalid_api_key", "{refused}");
    assert!(refused["error"]["message"].as_str().is_some_and(|message| message.contains("token")), "{refused}");
    let bad = chitin
        .client
        .post(chitin.url("/v1/chat/completions"))
        .bearer_auth(TOKEN)
        .json(&json!({"messages": "nope"}))
        .send()
        .await
        .expect("request");
    assert_eq!(bad.status(), 400);
    let bad: Value = bad.json().await.expect("error json");
    assert_eq!(bad["error"]["type"], "invalid_request_error", "{bad}");
    assert_eq!(bad["error"]["param"], "messages", "{bad}");
    assert!(bad["error"]["message"].as_str().is_some_and(|message| message.contains("array")), "{bad}");
    chitin.stop().await;
}

#[tokio::test]
async fn messages_stored_before_a_crash_are_answered_once_after_restart() {
    let fake = fake_openai::start().await;
    fake.push(Reply::Answer(Answer::text("Answered after the restart.")));
    let dir = tempfile::tempdir().expect("tempdir");
    {
        // A crash between storing and answering: the message is in the store, nobody answered it.
        let config = crate::support::chitin::config(&dir, None, &[]);
        let data_dir = config.data_dir.clone().expect("data dir");
        std::fs::create_dir_all(&data_dir).expect("mkdir");
        let key = chitin::crypto::MasterKey::load(None, &data_dir).expect("key");
        let store = chitin::store::Store::connect(&config.database, &data_dir, &key).await.expect("store");
        let message = chitin::store::InboundMessage {
            channel: "webhook",
            external_conversation_id: "crashy",
            platform_message_id: "before-crash",
            sender: Some("tester"),
            body: "are you there?",
        };
        store.inbound().record_inbound(&message).await.expect("recorded");
        store.close().await;
    }
    let chitin = TestChitin::start_in(dir, Some(&fake.base_url()), &[]).await;
    let body = json!({"message_id": "before-crash", "conversation": "crashy", "text": "are you there?"}).to_string();
    let (status, accepted) = post_webhook(&chitin, body.as_bytes(), bearer()).await;
    assert_eq!(
        (status, accepted["duplicate"].clone()),
        (202, Value::Bool(true)),
        "the platform's redelivery is recognised"
    );
    let id = accepted["message_id"].as_str().expect("id").to_string();
    let reply: Value = eventually("the resumed answer", || async {
        let response =
            chitin.client.get(chitin.url(&format!("/webhook/replies/{id}"))).bearer_auth(TOKEN).send().await.ok()?;
        let body: Value = response.json().await.ok()?;
        (body["status"] == "answered").then_some(body)
    })
    .await;
    assert_eq!(reply["reply"], "Answered after the restart.");
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    assert_eq!(fake.requests().len(), 1, "answered once, not twice");
    chitin.stop().await;
}

#[tokio::test]
async fn webhook_replies_are_pushed_signed_to_the_callback_url() {
    use std::sync::{Arc, Mutex};
    type Received = Arc<Mutex<Vec<(Option<String>, String)>>>;
    let received: Received = Arc::default();
    let app = axum::Router::new()
        .route(
            "/hook",
            axum::routing::post(
                |axum::extract::State(received): axum::extract::State<Received>,
                 headers: axum::http::HeaderMap,
                 body: String| async move {
                    let signature = headers.get(SIGNATURE_HEADER).and_then(|v| v.to_str().ok()).map(str::to_string);
                    received.lock().expect("lock").push((signature, body));
                    "ok"
                },
            ),
        )
        .with_state(Arc::clone(&received));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let hook = format!("http://{}/hook", listener.local_addr().expect("addr"));
    tokio::spawn(async move { axum::serve(listener, app).await });

    let fake = fake_openai::start().await;
    fake.push(Reply::Answer(Answer::text("Pushed to you.")));
    let chitin = TestChitin::start(
        Some(&fake.base_url()),
        &[("CHITIN_CHANNELS__WEBHOOK__CALLBACK_URL", &hook), ("CHITIN_CHANNELS__WEBHOOK__CALLBACK_SECRET", "cb-key")],
    )
    .await;
    let body = json!({"message_id": "order-9", "conversation": "push", "text": "hello"}).to_string();
    let (status, _) = post_webhook(&chitin, body.as_bytes(), bearer()).await;
    assert_eq!(status, 202);
    let (signature, payload) = eventually("the callback", || {
        let received = Arc::clone(&received);
        async move { received.lock().expect("lock").first().cloned() }
    })
    .await;
    let pushed: Value = serde_json::from_str(&payload).expect("json");
    assert_eq!(pushed["message_id"], "order-9");
    assert_eq!(pushed["conversation"], "push");
    assert_eq!(pushed["reply"], "Pushed to you.");
    assert_eq!(signature, Some(sign("cb-key", payload.as_bytes())), "the callback is signed");
    chitin.stop().await;
}

#[tokio::test]
async fn token_usage_is_stored_per_turn_and_reported_by_the_openai_api_and_the_export() {
    let fake = fake_openai::start().await;
    // Turn 1 takes two model calls (a tool step, then the answer): its usage is their sum.
    fake.push(Reply::Answer(Answer::text("").tool_call("call_1", "echo", r#"{"text":"ping"}"#).usage(100, 5)));
    fake.push(Reply::Answer(Answer::text("The echo said ping.").usage(130, 9)));
    fake.push(Reply::Answer(Answer::text("Streamed with usage.").usage(41, 3)));
    let chitin = TestChitin::start(Some(&fake.base_url()), &[]).await;

    let plain: Value = chitin
        .client
        .post(chitin.url("/v1/chat/completions"))
        .bearer_auth(TOKEN)
        .json(&json!({"model": "chitin", "user": "usage", "messages": [{"role": "user", "content": "echo ping"}]}))
        .send()
        .await
        .expect("request")
        .json()
        .await
        .expect("json");
    assert_eq!(plain["choices"][0]["message"]["content"], "The echo said ping.");
    assert_eq!(plain["usage"], json!({"prompt_tokens": 230, "completion_tokens": 14, "total_tokens": 244}));

    let body = chitin
        .client
        .post(chitin.url("/v1/chat/completions"))
        .bearer_auth(TOKEN)
        .json(&json!({
            "model": "chitin", "user": "usage", "stream": true, "stream_options": {"include_usage": true},
            "messages": [{"role": "user", "content": "again"}],
        }))
        .send()
        .await
        .expect("request")
        .text()
        .await
        .expect("body");
    let data: Vec<&str> = body.lines().filter_map(|line| line.strip_prefix("data: ")).collect();
    assert_eq!(data.last(), Some(&"[DONE]"), "{body}");
    let last: Value = serde_json::from_str(data[data.len() - 2]).expect("usage chunk");
    assert_eq!(last["choices"], json!([]), "the usage chunk carries no choices: {body}");
    assert_eq!(last["usage"], json!({"prompt_tokens": 41, "completion_tokens": 3, "total_tokens": 44}));
    let dir = chitin.stop().await;

    // The figures are stored with each reply, so the export carries them too.
    let config = crate::support::chitin::config(&dir, None, &[]);
    let data_dir = config.data_dir.clone().expect("data dir");
    let key = chitin::crypto::MasterKey::load(None, &data_dir).expect("key");
    let store = chitin::store::Store::connect(&config.database, &data_dir, &key).await.expect("store");
    let mut exported = Vec::new();
    store.export_conversations(&mut exported).await.expect("export");
    store.close().await;
    let line: Value = serde_json::from_slice(exported.split(|b| *b == b'\n').next().expect("a line")).expect("json");
    let usages: Vec<Value> = line["messages"]
        .as_array()
        .expect("messages")
        .iter()
        .filter(|message| message["role"] == "assistant")
        .map(|message| message["usage"].clone())
        .collect();
    assert_eq!(
        usages,
        vec![json!({"input_tokens": 230, "output_tokens": 14}), json!({"input_tokens": 41, "output_tokens": 3})]
    );
}
