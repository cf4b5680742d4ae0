//! What Chitin adds on top of the model: per-call overhead against a fake that answers at once,
//! and how fast streamed answers are parsed.
//!
//! Run with `cargo bench --bench llm`. Besides criterion's figures it prints p50/p99 of a plain
//! loop of calls, because the agent cares about the typical call, not the mean.

use std::time::{Duration, Instant};

use chitin::llm::{ChatMessage, ChatRequest, LlmProvider, OpenAiProvider, ProviderKind, ProviderSettings, StreamEvent};
use criterion::{Criterion, Throughput};
use futures::StreamExt;

// The bench reuses the integration tests' fake LLM; only its two files are compiled in.
#[allow(dead_code)]
#[path = "../tests/support/fake_llm.rs"]
mod fake_llm;
#[allow(dead_code)]
#[path = "../tests/support/fake_openai.rs"]
mod fake_openai;

use fake_llm::{Answer, Reply};

/// Calls in the percentile loop.
const PERCENTILE_CALLS: usize = 500;
/// Characters of the long streamed answer, sent 16 per event, in 16 KiB network frames so the
/// figure is the client's parsing rather than the fake's per-write overhead.
const STREAMED_CHARS: usize = 64 * 1024;
const DELTA_CHARS: usize = 16;

fn settings(base_url: String) -> ProviderSettings {
    ProviderSettings {
        kind: ProviderKind::OpenAi,
        base_url,
        api_key: None,
        model: "bench-model".to_owned(),
        request_timeout: Duration::from_secs(30),
        connect_timeout: Duration::from_secs(5),
    }
}

fn request() -> ChatRequest {
    ChatRequest {
        system: Some("You are Chitin.".to_owned()),
        messages: vec![ChatMessage::user("hello")],
        ..ChatRequest::default()
    }
}

fn main() {
    let runtime = tokio::runtime::Runtime::new().expect("tokio runtime");
    let fake = runtime.block_on(fake_openai::start());
    let provider = OpenAiProvider::new(&settings(fake.base_url())).expect("provider");
    let request = request();
    let mut criterion = Criterion::default().configure_from_args();

    criterion.bench_function("openai complete against an instant fake", |bencher| {
        bencher.iter(|| {
            fake.push(Reply::Answer(Answer::text("hi")));
            runtime.block_on(provider.complete(&request)).expect("completion")
        })
    });

    let long_text = "streamed ".repeat(STREAMED_CHARS / 9);
    let events = long_text.chars().count().div_ceil(DELTA_CHARS) as u64;
    let mut group = criterion.benchmark_group("openai stream parsing");
    group.throughput(Throughput::Elements(events));
    group.sample_size(20);
    group.bench_function("text events", |bencher| {
        bencher.iter(|| {
            fake.push(Reply::Answer(Answer::text(&long_text).delta_chars(DELTA_CHARS).frame_bytes(16 * 1024)));
            runtime.block_on(async {
                let mut stream = provider.stream(&request).await.expect("stream");
                let mut done = false;
                while let Some(event) = stream.next().await {
                    done |= matches!(event.expect("event"), StreamEvent::Done(_));
                }
                assert!(done, "stream finished without Done");
            })
        })
    });
    // Baseline: the same response read as raw bytes, without SSE or JSON parsing. The gap
    // between the two is what Chitin's stream decoding costs.
    let client = reqwest::Client::new();
    let url = format!("{}/chat/completions", fake.base_url());
    let body = serde_json::json!({"model": "bench-model", "stream": true, "messages": []});
    group.bench_function("raw bytes baseline", |bencher| {
        bencher.iter(|| {
            fake.push(Reply::Answer(Answer::text(&long_text).delta_chars(DELTA_CHARS).frame_bytes(16 * 1024)));
            runtime.block_on(async {
                let response = client.post(&url).json(&body).send().await.expect("send");
                response.bytes().await.expect("body").len()
            })
        })
    });
    group.finish();

    let mut samples: Vec<Duration> = (0..PERCENTILE_CALLS)
        .map(|_| {
            fake.push(Reply::Answer(Answer::text("hi")));
            let started = Instant::now();
            runtime.block_on(provider.complete(&request)).expect("completion");
            started.elapsed()
        })
        .collect();
    samples.sort();
    let percentile = |p: usize| samples[(samples.len() * p / 100).min(samples.len() - 1)];
    println!(
        "openai complete over loopback, {PERCENTILE_CALLS} calls: p50 {:?}, p99 {:?}",
        percentile(50),
        percentile(99)
    );

    criterion.final_summary();
}
