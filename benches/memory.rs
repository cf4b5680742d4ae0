//! Memory throughput figures: chunking (bytes/s) and local MiniLM embedding (sentences/s).
//!
//! Run with `cargo bench --bench memory`. The embedding group needs the model files; without
//! them it prints how to fetch them and measures chunking only.

use std::hint::black_box;
use std::path::PathBuf;

use chitin::memory::embed::{LocalModelConfig, MiniLmEmbedder};
use chitin::memory::{ChunkingConfig, chunk_markdown};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};

/// About 1 MB of mixed Markdown: headings, prose, lists, code and some CJK.
fn sample_markdown() -> String {
    let mut text = String::new();
    for section in 0..800 {
        text.push_str(&format!("## Section {section}\n\n"));
        for sentence in 0..12 {
            text.push_str(&format!(
                "Note {section}.{sentence} covers the deploy checklist, the on-call rota and the error E10{sentence} seen on host web-{section}. "
            ));
        }
        text.push_str("\n\n- first item\n- second item with `code`\n\n```sh\ncargo test --all\ncargo clippy -- -D warnings\n```\n\n");
        text.push_str("会议记录：我们讨论了数据库连接超时的问题。下周继续跟进。\n\n");
    }
    text
}

fn chunking(criterion: &mut Criterion) {
    let text = sample_markdown();
    let config = ChunkingConfig::default();
    let chunks = chunk_markdown(&text, &config).len();
    println!("chunking sample: {} bytes -> {chunks} chunks", text.len());
    let mut group = criterion.benchmark_group("chunking");
    group.throughput(Throughput::Bytes(text.len() as u64));
    group.sample_size(10);
    group.bench_function("chunk_markdown_1mb", |bench| bench.iter(|| chunk_markdown(black_box(&text), &config)));
    group.finish();
}

fn local_embedding(criterion: &mut Criterion) {
    let dir = std::env::var_os("CHITIN_MODEL_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/models/all-MiniLM-L6-v2"));
    let embedder = match MiniLmEmbedder::load(&dir, &LocalModelConfig::default(), 32) {
        Ok(embedder) => embedder,
        Err(error) => {
            println!("local embedding bench skipped: {error}");
            return;
        }
    };
    let sentences: Vec<String> = (0..32)
        .map(|number| format!("Reminder {number}: renew the passport and book the Lisbon hotel before the March trip."))
        .collect();
    let mut group = criterion.benchmark_group("local_embedding");
    group.throughput(Throughput::Elements(sentences.len() as u64));
    group.sample_size(10);
    group.bench_function("minilm_batch_32_sentences", |bench| {
        bench.iter(|| embedder.embed_blocking(black_box(&sentences)))
    });
    group.finish();
}

criterion_group!(benches, chunking, local_embedding);
criterion_main!(benches);
