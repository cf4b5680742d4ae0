//! Operating Chitin: `/readyz` (storage and channels ready) and `/metrics` (Prometheus text) on the gateway.

use axum::Router;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use serde_json::{Value, json};

use crate::support::chitin::{TestChitin, eventually};
use crate::support::fake_llm::{Answer, Reply};
use crate::support::fake_openai;

async fn get(chitin: &TestChitin, path: &str) -> (u16, String) {
    let response = chitin.client.get(chitin.url(path)).send().await.expect("request");
    (response.status().as_u16(), response.text().await.expect("body"))
}

/// The value of one sample line (`name{labels} value`) in a Prometheus text page.
fn sample(page: &str, series: &str) -> Option<f64> {
    page.lines().find_map(|line| line.strip_prefix(series)?.strip_prefix(' ')?.trim().parse().ok())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readyz_and_metrics_describe_a_working_service() {
    let fake = fake_openai::start().await;
    fake.push(Reply::Answer(Answer::text("hello there").usage(123, 45)));
    let chitin = TestChitin::start(Some(&fake.base_url()), &[]).await;

    let (status, body) = get(&chitin, "/readyz").await;
    assert_eq!(status, 200, "{body}");
    let readiness: Value = serde_json::from_str(&body).expect("json");
    assert_eq!(readiness["ready"], json!(true), "{readiness}");
    let checks = readiness["checks"].as_array().expect("checks");
    assert!(checks.iter().any(|check| check["name"] == "storage" && check["state"] == "running"), "{readiness}");
    assert!(checks.iter().any(|check| check["name"] == "channels"), "{readiness}");

    assert_eq!(chitin.chat("ops-1", "hi").await, "hello there");

    let page = eventually("the turn in /metrics", || async {
        let (status, page) = get(&chitin, "/metrics").await;
        assert_eq!(status, 200, "{page}");
        sample(&page, "chitin_messages_sent_total{channel=\"api\"}").map(|_| page)
    })
    .await;
    assert_eq!(sample(&page, "chitin_messages_received_total{channel=\"api\"}"), Some(1.0), "{page}");
    assert_eq!(sample(&page, "chitin_messages_sent_total{channel=\"api\"}"), Some(1.0), "{page}");
    assert_eq!(sample(&page, "chitin_llm_tokens_total{kind=\"input\"}"), Some(123.0), "{page}");
    assert_eq!(sample(&page, "chitin_llm_tokens_total{kind=\"output\"}"), Some(45.0), "{page}");
    assert_eq!(sample(&page, "chitin_turn_duration_seconds_count{outcome=\"answered\"}"), Some(1.0), "{page}");
    assert!(page.contains("# TYPE chitin_turn_duration_seconds histogram"), "{page}");
    assert_eq!(sample(&page, "chitin_actor_up{actor=\"chitin/channels\"}"), Some(1.0), "{page}");
    assert_eq!(sample(&page, "chitin_actor_restarts_total{actor=\"chitin/sessions\"}"), Some(0.0), "{page}");
    assert_eq!(sample(&page, "chitin_jobs{state=\"queued\"}"), Some(0.0), "{page}");
    assert!(sample(&page, "chitin_queue_depth{queue=\"outbox\"}").is_some(), "{page}");
    assert_eq!(sample(&page, "chitin_queue_depth{queue=\"unanswered\"}"), Some(0.0), "{page}");
    chitin.stop().await;
}

/// A Bot API that rejects every call as a revoked token does.
async fn revoked_telegram() -> (String, tokio::task::JoinHandle<()>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let app = Router::new().fallback(|| async {
        (StatusCode::UNAUTHORIZED, axum::Json(json!({"ok": false, "error_code": 401, "description": "Unauthorized"})))
            .into_response()
    });
    let task = tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (format!("http://{addr}"), task)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revoked_bot_token_makes_readyz_fail_while_other_channels_keep_working() {
    let fake = fake_openai::start().await;
    fake.push(Reply::Answer(Answer::text("still here")));
    let (telegram_url, telegram) = revoked_telegram().await;
    let chitin = TestChitin::start(
        Some(&fake.base_url()),
        &[
            ("CHITIN_CHANNELS__TELEGRAM__ENABLED", "true"),
            ("CHITIN_CHANNELS__TELEGRAM__BOT_TOKEN", "123456:revoked-token"),
            ("CHITIN_CHANNELS__TELEGRAM__API_URL", &telegram_url),
        ],
    )
    .await;

    let readiness: Value = eventually("readyz to report telegram", || async {
        let (status, body) = get(&chitin, "/readyz").await;
        (status == 503).then(|| serde_json::from_str(&body).expect("json"))
    })
    .await;
    assert_eq!(readiness["ready"], json!(false), "{readiness}");
    let telegram_check = readiness["checks"]
        .as_array()
        .expect("checks")
        .iter()
        .find(|check| check["name"] == "channels/telegram")
        .cloned()
        .expect("a telegram check");
    assert_ne!(telegram_check["state"], "running", "{readiness}");
    assert!(!readiness.to_string().contains("revoked-token"), "no credentials in /readyz: {readiness}");

    assert_eq!(chitin.chat("ops-2", "are you there?").await, "still here", "the API channel is unaffected");
    chitin.stop().await;
    telegram.abort();
}
