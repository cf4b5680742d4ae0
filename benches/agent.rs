//! Turn overhead of the whole agent path: N conversations at once, each sending 200 requests through
//! `POST /v1/chat/completions` to an in-process Chitin whose model is a fake that answers at once.
//!
//! Run with `cargo bench --bench agent`. Prints p50/p95/p99 per-turn latency (HTTP in, store, session actor,
//! model call, reply filed, HTTP out), throughput, and the process's peak RSS — which includes the fake model
//! and the load-generating clients, so Chitin's own share is lower.

use std::sync::Arc;
use std::time::{Duration, Instant};

use chitin::config::{ConfigSources, load};
use chitin::service::{Service, ServiceEnv};

#[allow(dead_code)]
#[path = "../tests/support/fake_llm.rs"]
mod fake_llm;
#[allow(dead_code)]
#[path = "../tests/support/fake_openai.rs"]
mod fake_openai;

use fake_llm::{Answer, Reply};

const REQUESTS_PER_CONVERSATION: usize = 200;
const TOKEN: &str = "bench-token";

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

fn peak_rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))
        .and_then(|value| value.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

async fn round(addr: std::net::SocketAddr, conversations: usize) {
    let client = reqwest::Client::builder().pool_max_idle_per_host(conversations).build().expect("client");
    let started = Instant::now();
    let tasks: Vec<_> = (0..conversations)
        .map(|n| {
            let client = client.clone();
            tokio::spawn(async move {
                let mut samples = Vec::with_capacity(REQUESTS_PER_CONVERSATION);
                for i in 0..REQUESTS_PER_CONVERSATION {
                    let body = serde_json::json!({
                        "model": "chitin",
                        "user": format!("bench-{conversations}-{n}"),
                        "messages": [{"role": "user", "content": format!("message {i}")}],
                    });
                    let sent = Instant::now();
                    let response = client
                        .post(format!("http://{addr}/v1/chat/completions"))
                        .bearer_auth(TOKEN)
                        .json(&body)
                        .send()
                        .await
                        .expect("request");
                    assert!(response.status().is_success(), "status {}", response.status());
                    let _ = response.bytes().await.expect("body");
                    samples.push(sent.elapsed());
                }
                samples
            })
        })
        .collect();
    let mut samples = Vec::new();
    for task in tasks {
        samples.extend(task.await.expect("conversation"));
    }
    let elapsed = started.elapsed();
    samples.sort();
    println!(
        "N={conversations:>3}: p50 {:>9.2?}  p95 {:>9.2?}  p99 {:>9.2?}  {:>7.0} turns/s  peak RSS {} MiB",
        percentile(&samples, 0.50),
        percentile(&samples, 0.95),
        percentile(&samples, 0.99),
        samples.len() as f64 / elapsed.as_secs_f64(),
        peak_rss_kib() / 1024
    );
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("runtime");
    runtime.block_on(async {
        let fake = fake_openai::start().await;
        let dir = tempfile::tempdir().expect("tempdir");
        let env = vec![
            ("CHITIN_DATA_DIR".to_string(), dir.path().join("data").display().to_string()),
            ("CHITIN_GATEWAY__BIND".into(), "127.0.0.1:0".into()),
            ("CHITIN_GATEWAY__TOKEN".into(), TOKEN.into()),
            ("CHITIN_LLM__BASE_URL".into(), fake.base_url()),
            ("CHITIN_LLM__API_KEY".into(), "sk-bench".into()),
            ("CHITIN_LLM__MODEL".into(), "bench-model".into()),
            ("CHITIN_AGENT__QUEUE_CAPACITY".into(), "1024".into()),
        ];
        let config = load(&ConfigSources { explicit_file: None, default_file: None, env }).expect("config");
        let service = Service::start(&config, &ServiceEnv::default()).await.expect("chitin starts");
        let addr = service.gateway_addr();
        let fake = Arc::new(fake);
        for conversations in [1, 8, 32, 256] {
            for _ in 0..conversations * REQUESTS_PER_CONVERSATION {
                fake.push(Reply::Answer(Answer::text("ok")));
            }
            round(addr, conversations).await;
        }
        service.shutdown(Duration::from_secs(10)).await.expect("shutdown");
    });
}
