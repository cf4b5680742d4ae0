//! Memory figures: search latency (p50/p95) at 10k and 100k chunks on SQLite and PostgreSQL for
//! vector-only, full-text-only and hybrid search; indexing chunks/s without and with local
//! embedding; local embedding sentences/s; chunking bytes/s.
//!
//! Run with `cargo bench --bench memory`. PostgreSQL runs when `DATABASE_URL` is set, in a schema
//! of its own that is dropped afterwards. The local-model figures need the MiniLM files
//! (`CHITIN_MODEL_DIR`, or `target/models/all-MiniLM-L6-v2`); without them they are skipped.
//! `CHITIN_BENCH_CHUNKS=2000,10000` measures other corpus sizes (a quick check in a debug build);
//! `CHITIN_BENCH_BACKENDS=sqlite` or `=postgres` runs the search figures of one backend only.
//! `CHITIN_BENCH_KEEP_SCHEMA=1` leaves the PostgreSQL schema in place, to study its queries in psql.
//!
//! The search corpus is synthetic. Documents are generated with a seeded generator from a word
//! list (150 common English words and 6,000 made-up words, drawn with Zipf frequencies as in
//! natural text) into Markdown sections of varied length; each chunk gets a synthetic unit
//! vector derived from its text. Embedding 100k chunks with the real model would take hours on a
//! 2-core machine (about 4 chunks/s of ~100 words were measured), and neither the store's vector search nor its full-text
//! search cost depends on where a vector or a word came from. So:
//! - "indexing excluding embedding" is the real indexing path (chunking, hashing, reuse lookup, the
//!   store's transaction, full-text and vector index upkeep) with an embedder that costs
//!   microseconds; on PostgreSQL the chunks are committed and searchable at that point, with their
//!   vectors queued for the HNSW graph;
//! - "vector index catch-up" (PostgreSQL) is the background work that moves the queued vectors
//!   into the graph (a rebuild when many are queued); the search figures are taken after it;
//! - "indexing including local embedding" indexes a smaller set with MiniLM;
//! - hybrid latency uses a synthetic query vector; with the local model add its single-query
//!   embedding latency, printed separately.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use chitin::crypto::MasterKey;
use chitin::memory::embed::{EmbedFuture, Embedder, Embedding, LocalModelConfig, MiniLmEmbedder};
use chitin::memory::rank::{SearchFilter, SearchQuery};
use chitin::memory::{ChunkingConfig, IndexOutcome, MemoryConfig, MemoryService, chunk_markdown};
use chitin::store::{DatabaseConfig, Store};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use sqlx::Connection;

const DIMS: usize = 384;
/// Queries timed per mode and size (after a warm-up of a tenth as many).
const QUERIES: usize = 200;
/// Each ranking list is asked for as many chunks as hybrid search asks of it (`candidates_per_list`).
const LIST_DEPTH: usize = 50;
/// Documents indexed with the local model.
const LOCAL_DOCUMENTS: usize = 40;

const COMMON_WORDS: [&str; 150] = [
    "time",
    "year",
    "people",
    "way",
    "day",
    "man",
    "thing",
    "woman",
    "life",
    "child",
    "world",
    "school",
    "state",
    "family",
    "student",
    "group",
    "country",
    "problem",
    "hand",
    "part",
    "place",
    "case",
    "week",
    "company",
    "system",
    "program",
    "question",
    "work",
    "government",
    "number",
    "night",
    "point",
    "home",
    "water",
    "room",
    "mother",
    "area",
    "money",
    "story",
    "fact",
    "month",
    "lot",
    "right",
    "study",
    "book",
    "eye",
    "job",
    "word",
    "business",
    "issue",
    "side",
    "kind",
    "head",
    "house",
    "service",
    "friend",
    "father",
    "power",
    "hour",
    "game",
    "line",
    "end",
    "member",
    "law",
    "car",
    "city",
    "community",
    "name",
    "president",
    "team",
    "minute",
    "idea",
    "kid",
    "body",
    "information",
    "back",
    "parent",
    "face",
    "others",
    "level",
    "office",
    "door",
    "health",
    "person",
    "art",
    "war",
    "history",
    "party",
    "result",
    "change",
    "morning",
    "reason",
    "research",
    "girl",
    "guy",
    "moment",
    "air",
    "teacher",
    "force",
    "education",
    "deploy",
    "server",
    "backup",
    "invoice",
    "meeting",
    "travel",
    "hotel",
    "flight",
    "doctor",
    "recipe",
    "garden",
    "budget",
    "contract",
    "password",
    "account",
    "report",
    "release",
    "database",
    "network",
    "kernel",
    "printer",
    "boiler",
    "insurance",
    "tax",
    "rent",
    "salary",
    "train",
    "ticket",
    "passport",
    "visa",
    "dentist",
    "birthday",
    "gift",
    "holiday",
    "weekend",
    "project",
    "deadline",
    "review",
    "bug",
    "error",
    "timeout",
    "license",
    "upgrade",
    "laptop",
    "phone",
    "email",
    "calendar",
    "note",
    "plan",
    "list",
];

/// Short function words between content words, so sentences read like prose.
const GLUE: [&str; 12] = ["the", "a", "of", "to", "and", "in", "on", "for", "with", "after", "before", "at"];

/// Words and their Zipf sampling table.
struct Vocabulary {
    words: Vec<String>,
    cumulative: Vec<f64>,
}

impl Vocabulary {
    fn new(rng: &mut StdRng) -> Vocabulary {
        const ONSETS: [&str; 16] = ["b", "d", "f", "g", "k", "l", "m", "n", "p", "r", "s", "t", "v", "z", "br", "st"];
        const VOWELS: [&str; 6] = ["a", "e", "i", "o", "u", "ei"];
        const CODAS: [&str; 6] = ["", "n", "r", "s", "x", "nd"];
        let mut words: Vec<String> = COMMON_WORDS.iter().map(|word| word.to_string()).collect();
        let mut seen: std::collections::HashSet<String> = words.iter().cloned().collect();
        while words.len() < 6_150 {
            let syllables = rng.random_range(2..=4);
            let mut word = String::new();
            for _ in 0..syllables {
                word.push_str(ONSETS[rng.random_range(0..ONSETS.len())]);
                word.push_str(VOWELS[rng.random_range(0..VOWELS.len())]);
            }
            word.push_str(CODAS[rng.random_range(0..CODAS.len())]);
            if seen.insert(word.clone()) {
                words.push(word);
            }
        }
        let mut total = 0.0;
        let cumulative = (1..=words.len())
            .map(|rank| {
                total += 1.0 / rank as f64;
                total
            })
            .collect();
        Vocabulary { words, cumulative }
    }

    fn word(&self, rng: &mut StdRng) -> &str {
        let target = rng.random::<f64>() * self.cumulative[self.cumulative.len() - 1];
        let index = self.cumulative.partition_point(|sum| *sum < target).min(self.words.len() - 1);
        &self.words[index]
    }

    /// A word from the middle of the frequency range, the kind a person searches for.
    fn query_word(&self, rng: &mut StdRng) -> &str {
        &self.words[rng.random_range(20..2_000)]
    }

    fn sentence(&self, rng: &mut StdRng, lengths: std::ops::RangeInclusive<usize>) -> String {
        let words = rng.random_range(lengths);
        let mut sentence = String::new();
        for position in 0..words {
            if position > 0 {
                sentence.push(' ');
                if rng.random_bool(0.3) {
                    sentence.push_str(GLUE[rng.random_range(0..GLUE.len())]);
                    sentence.push(' ');
                }
            }
            sentence.push_str(self.word(rng));
        }
        let mut characters = sentence.chars();
        let capitalised: String =
            characters.next().map(|first| first.to_uppercase().chain(characters).collect()).unwrap_or_default();
        capitalised + "."
    }

    /// A note of 6 to 14 sections, each a heading and one or two paragraphs: about one chunk a section.
    fn document(&self, rng: &mut StdRng, number: usize) -> String {
        let mut text = format!("# {} {number}\n\n", self.sentence(rng, 3..=3).trim_end_matches('.'));
        for _ in 0..rng.random_range(6..=14) {
            text.push_str(&format!("## {}\n\n", self.sentence(rng, 2..=4).trim_end_matches('.')));
            for _ in 0..rng.random_range(1..=2) {
                let sentences: Vec<String> = (0..rng.random_range(2..=5)).map(|_| self.sentence(rng, 6..=16)).collect();
                text.push_str(&sentences.join(" "));
                text.push_str("\n\n");
            }
        }
        text
    }
}

/// Unit vectors derived from the text (a seeded generator per text), at the cost of a hash.
struct SyntheticEmbedder;

fn synthetic_vector(text: &str) -> Embedding {
    let seed = text
        .bytes()
        .fold(0xcbf2_9ce4_8422_2325u64, |hash, byte| (hash ^ u64::from(byte)).wrapping_mul(0x100_0000_01b3));
    let mut rng = StdRng::seed_from_u64(seed);
    let mut vector: Vec<f32> = (0..DIMS).map(|_| rng.random::<f32>() - 0.5).collect();
    let norm = vector.iter().map(|value| value * value).sum::<f32>().sqrt();
    vector.iter_mut().for_each(|value| *value /= norm);
    vector
}

impl Embedder for SyntheticEmbedder {
    fn model_id(&self) -> &str {
        "bench/synthetic"
    }
    fn dims(&self) -> usize {
        DIMS
    }
    fn embed<'a>(&'a self, texts: &'a [String]) -> EmbedFuture<'a> {
        let vectors = texts.iter().map(|text| synthetic_vector(text)).collect();
        Box::pin(async move { Ok(vectors) })
    }
}

/// An open store plus how to clean it up.
struct BenchStore {
    name: &'static str,
    store: Store,
    postgres_schema: Option<(String, String)>,
}

async fn sqlite_store(data_dir: &Path) -> BenchStore {
    std::fs::create_dir_all(data_dir).expect("data dir");
    let key = MasterKey::from_bytes([9; 32]);
    let config = DatabaseConfig { max_connections: 8, ..DatabaseConfig::default() };
    let store = Store::connect(&config, data_dir, &key).await.expect("open sqlite");
    BenchStore { name: "sqlite", store, postgres_schema: None }
}

async fn postgres_store(data_dir: &Path, label: &str) -> Option<BenchStore> {
    let base_url = std::env::var("DATABASE_URL").ok().filter(|url| !url.is_empty())?;
    std::fs::create_dir_all(data_dir).expect("data dir");
    let schema = format!("bench_memory_{label}_{}", std::process::id());
    let mut connection = sqlx::PgConnection::connect(&base_url).await.expect("connect postgres");
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!("DROP SCHEMA IF EXISTS {schema} CASCADE; CREATE SCHEMA {schema}")))
        .execute(&mut connection)
        .await
        .expect("create bench schema");
    let separator = if base_url.contains('?') { '&' } else { '?' };
    let url = format!("{base_url}{separator}options=-c%20search_path%3D{schema}%2Cpublic");
    let config = DatabaseConfig { url: Some(url.into()), max_connections: 8, ..DatabaseConfig::default() };
    let store = Store::connect(&config, data_dir, &MasterKey::from_bytes([9; 32])).await.expect("open postgres");
    Some(BenchStore { name: "postgres", store, postgres_schema: Some((base_url, schema)) })
}

impl BenchStore {
    async fn close(self) {
        self.store.close().await;
        if let Some((_, schema)) = &self.postgres_schema
            && std::env::var_os("CHITIN_BENCH_KEEP_SCHEMA").is_some()
        {
            println!("  kept PostgreSQL schema {schema} (CHITIN_BENCH_KEEP_SCHEMA)");
            return;
        }
        if let Some((base_url, schema)) = self.postgres_schema {
            let mut connection = sqlx::PgConnection::connect(&base_url).await.expect("connect postgres");
            sqlx::raw_sql(sqlx::AssertSqlSafe(format!("DROP SCHEMA {schema} CASCADE")))
                .execute(&mut connection)
                .await
                .expect("drop bench schema");
        }
    }
}

/// Brings the bench schema to the state a server settles into after a bulk load, before search
/// latency is measured: autovacuum would vacuum and analyse the freshly written tables (setting
/// hint bits and visibility, which every first read otherwise does, dirtying pages), and the
/// checkpointer would write the load's dirty pages out. Without it the searches share the two
/// cores with that write-back. The test server runs with autovacuum off, so the bench does both.
async fn settle_postgres(base_url: &str, schema: &str) {
    let started = Instant::now();
    let mut connection = sqlx::PgConnection::connect(base_url).await.expect("connect postgres");
    let tables = ["memory_documents", "memory_chunks", "memory_chunk_terms", "memory_chunk_ann", "memory_ann_pending"]
        .map(|table| format!("{schema}.{table}"))
        .join(", ");
    // Two statements, not one string: several in one message run as one transaction, and VACUUM refuses that.
    for statement in [format!("VACUUM (ANALYZE) {tables}"), "CHECKPOINT".to_string()] {
        if let Err(error) = sqlx::raw_sql(sqlx::AssertSqlSafe(statement.clone())).execute(&mut connection).await {
            // CHECKPOINT needs a superuser or pg_checkpoint: measure anyway, and say so.
            println!("  postgres: `{statement}` failed ({error}); the search figures below are taken unsettled");
        }
    }
    connection.close().await.expect("close");
    println!(
        "  postgres search figures below follow VACUUM (ANALYZE) and CHECKPOINT, as autovacuum and the checkpointer would settle a bulk load ({:.1} s)",
        started.elapsed().as_secs_f64()
    );
}

async fn service(store: &Store, embedder: Arc<dyn Embedder>, workspace: PathBuf) -> MemoryService {
    let memory = MemoryService::new(store.memory(), Some(embedder), &MemoryConfig::default(), workspace);
    memory.sync_vectors(&mut |_| {}).await.expect("sync vectors");
    memory
}

/// Indexes generated documents until the store holds `target` chunks; returns (chunks, elapsed).
async fn index_until(
    memory: &MemoryService,
    vocabulary: &Vocabulary,
    rng: &mut StdRng,
    next_document: &mut usize,
    stored: &mut usize,
    target: usize,
) -> (usize, Duration) {
    let started = Instant::now();
    let mut indexed = 0;
    while *stored < target {
        let text = vocabulary.document(rng, *next_document);
        let path = format!("notes/{:03}/{}.md", *next_document % 500, *next_document);
        *next_document += 1;
        if let IndexOutcome::Indexed { chunks, .. } = memory.index_text(&path, "workspace", &text).await.expect("index")
        {
            indexed += chunks;
            *stored += chunks;
        }
    }
    (indexed, started.elapsed())
}

/// The 1- and 5-minute load averages, printed with every figure: the machine is shared, and a
/// figure taken while other work runs is inflated by it.
fn load() -> String {
    let averages = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    let mut fields = averages.split_whitespace();
    match (fields.next(), fields.next()) {
        (Some(one), Some(five)) => format!("load {one}/{five}"),
        _ => "load unknown".to_string(),
    }
}

struct Latencies(Vec<Duration>);

impl Latencies {
    fn percentile(&self, fraction: f64) -> f64 {
        let mut sorted = self.0.clone();
        sorted.sort();
        let index = ((sorted.len() as f64 - 1.0) * fraction).round() as usize;
        sorted[index].as_secs_f64() * 1000.0
    }
}

impl std::fmt::Display for Latencies {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(formatter, "p50 {:7.2} ms  p95 {:7.2} ms", self.percentile(0.5), self.percentile(0.95))
    }
}

async fn time_queries<F, Fut>(queries: &[String], mut run: F) -> Latencies
where
    F: FnMut(String) -> Fut,
    Fut: std::future::Future<Output = usize>,
{
    for query in queries.iter().take(QUERIES / 10) {
        run(query.clone()).await;
    }
    let mut latencies = Vec::with_capacity(queries.len());
    for query in queries {
        let started = Instant::now();
        std::hint::black_box(run(query.clone()).await);
        latencies.push(started.elapsed());
    }
    Latencies(latencies)
}

async fn measure_search(memory: &MemoryService, queries: &[String], chunks: usize, backend: &str) {
    let filter = &SearchFilter::default();
    let store = memory.store();
    let started = Instant::now();
    let first = store.rank_vector(&synthetic_vector("warm up"), filter, LIST_DEPTH).await.expect("vector");
    std::hint::black_box(first);
    println!(
        "  {backend:8} {chunks:>7} chunks  first vector search (SQLite: loads the in-process copy unless it is current): {:.0} ms",
        started.elapsed().as_secs_f64() * 1000.0
    );
    let vector = time_queries(queries, |query| async move {
        store.rank_vector(&synthetic_vector(&query), filter, LIST_DEPTH).await.expect("vector").len()
    })
    .await;
    let fts = time_queries(queries, |query| async move {
        let query = SearchQuery::parse(&query, 2048).expect("query");
        store.rank_text(&query, filter, LIST_DEPTH).await.expect("fts").len()
    })
    .await;
    let hybrid =
        time_queries(queries, |query| async move { memory.search(&query, 10, filter).await.expect("hybrid").len() })
            .await;
    let load = load();
    println!("  {backend:8} {chunks:>7} chunks  vector-only  {vector}  ({load})");
    println!("  {backend:8} {chunks:>7} chunks  fts-only     {fts}  ({load})");
    println!("  {backend:8} {chunks:>7} chunks  hybrid       {hybrid}  ({load})");
}

fn scales() -> Vec<usize> {
    std::env::var("CHITIN_BENCH_CHUNKS")
        .ok()
        .map(|list| list.split(',').filter_map(|size| size.trim().parse().ok()).collect())
        .filter(|sizes: &Vec<usize>| !sizes.is_empty())
        .unwrap_or_else(|| vec![10_000, 100_000])
}

async fn search_and_indexing(backend: BenchStore, workspace: PathBuf) {
    let mut rng = StdRng::seed_from_u64(8);
    let vocabulary = Vocabulary::new(&mut rng);
    let queries: Vec<String> = (0..QUERIES)
        .map(|_| {
            let words: Vec<&str> = (0..rng.random_range(2..=4)).map(|_| vocabulary.query_word(&mut rng)).collect();
            words.join(" ")
        })
        .collect();
    let memory = service(&backend.store, Arc::new(SyntheticEmbedder), workspace).await;
    let (mut next_document, mut stored) = (0, 0);
    for target in scales() {
        let from = stored;
        let (chunks, elapsed) =
            index_until(&memory, &vocabulary, &mut rng, &mut next_document, &mut stored, target).await;
        println!(
            "  {:8} indexing excluding embedding, {from} -> {stored} chunks: {:.0} chunks/s ({chunks} chunks in {:.1} s; {})",
            backend.name,
            chunks as f64 / elapsed.as_secs_f64(),
            elapsed.as_secs_f64(),
            load()
        );
        if let Some((base_url, schema)) = &backend.postgres_schema {
            catch_up_vector_index(&memory, from, stored).await;
            settle_postgres(base_url, schema).await;
        }
        measure_search(&memory, &queries, stored, backend.name).await;
    }
    backend.close().await;
}

/// Runs the background vector index catch-up (what the `MemoryVectorIndexer` actor does) until
/// nothing is queued, and prints how long it took. Indexing above committed the chunks and made
/// them searchable through the exactly-scanned queue; this moves them into the HNSW graph.
async fn catch_up_vector_index(memory: &MemoryService, from: usize, stored: usize) {
    let queued = memory.store().count_vector_index_pending().await.expect("count queued vectors");
    let started = Instant::now();
    let (mut absorbed, mut rebuilds, mut batches) = (0u64, 0, 0);
    loop {
        let step = memory.absorb_vector_index().await.expect("absorb vectors");
        absorbed += step.absorbed;
        if step.rebuilt {
            rebuilds += 1;
        } else if step.absorbed > 0 {
            batches += 1;
        }
        if step.pending == 0 {
            break;
        }
        assert!(step.absorbed > 0 || step.rebuilt || step.busy, "vector index catch-up made no progress");
    }
    let elapsed = started.elapsed().as_secs_f64();
    println!(
        "  postgres vector index catch-up, {from} -> {stored} chunks: {:.0} chunks/s ({absorbed} of {queued} queued chunks in {elapsed:.1} s; {} rebuild(s), {batches} batch(es); {})",
        absorbed as f64 / elapsed,
        rebuilds,
        load()
    );
    println!("  postgres search figures below wait for that catch-up (nothing queued)");
}

/// `CHITIN_BENCH_BACKENDS=sqlite` (or `postgres`) runs the search and indexing figures of one
/// backend only; both by default.
fn backend_selected(name: &str) -> bool {
    std::env::var("CHITIN_BENCH_BACKENDS")
        .map(|list| list.split(',').any(|selected| selected.trim() == name))
        .unwrap_or(true)
}

fn model_dir() -> PathBuf {
    std::env::var_os("CHITIN_MODEL_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/models/all-MiniLM-L6-v2"))
}

async fn local_model_figures(embedder: &MiniLmEmbedder, data_dir: &Path) {
    let sentences: Vec<String> = (0..32)
        .map(|number| format!("Reminder {number}: renew the passport and book the Lisbon hotel before the March trip."))
        .collect();
    embedder.embed(&sentences).await.expect("warm up");
    let rounds = 8;
    let started = Instant::now();
    for _ in 0..rounds {
        std::hint::black_box(embedder.embed(&sentences).await.expect("embed"));
    }
    let per_second = (rounds * sentences.len()) as f64 / started.elapsed().as_secs_f64();
    println!(
        "  local embedding (MiniLM, batches of 32 sentences of ~16 words): {per_second:.0} sentences/s ({})",
        load()
    );
    let one = vec!["where did I put the spare key".to_string()];
    let queries: Vec<String> = (0..30).map(|number| format!("query {number}")).collect();
    let latencies = time_queries(&queries, |_| {
        let one = one.clone();
        async move { embedder.embed(&one).await.expect("embed").len() }
    })
    .await;
    println!("  local embedding of one search query: {latencies}");

    let mut rng = StdRng::seed_from_u64(11);
    let vocabulary = Vocabulary::new(&mut rng);
    let documents: Vec<String> = (0..LOCAL_DOCUMENTS).map(|number| vocabulary.document(&mut rng, number)).collect();
    let mut backends = vec![sqlite_store(&data_dir.join("local-sqlite")).await];
    backends.extend(postgres_store(&data_dir.join("local-postgres"), "local").await);
    for backend in backends {
        let memory = service(&backend.store, Arc::new(embedder.clone()), data_dir.join("workspace")).await;
        let started = Instant::now();
        let mut chunks = 0;
        for (number, text) in documents.iter().enumerate() {
            if let IndexOutcome::Indexed { chunks: written, .. } =
                memory.index_text(&format!("local/{number}.md"), "workspace", text).await.expect("index")
            {
                chunks += written;
            }
        }
        let elapsed = started.elapsed().as_secs_f64();
        println!(
            "  {:8} indexing including local embedding: {:.0} chunks/s ({chunks} chunks in {elapsed:.1} s; {})",
            backend.name,
            chunks as f64 / elapsed,
            load()
        );
        backend.close().await;
    }
}

fn chunking_figure(rng: &mut StdRng) {
    let vocabulary = Vocabulary::new(rng);
    let text: String = (0..300).map(|number| vocabulary.document(rng, number)).collect();
    let config = ChunkingConfig::default();
    let started = Instant::now();
    let chunks = chunk_markdown(&text, &config).len();
    let elapsed = started.elapsed().as_secs_f64();
    println!(
        "  chunking: {:.1} MB/s ({} bytes -> {chunks} chunks in {:.0} ms)",
        text.len() as f64 / elapsed / 1e6,
        text.len(),
        elapsed * 1000.0
    );
}

fn main() {
    // `cargo bench` passes `--bench`; `cargo test --benches` passes nothing and only checks this builds.
    if !std::env::args().any(|argument| argument == "--bench") {
        return;
    }
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("runtime");
    let data_dir = tempfile::tempdir().expect("temp dir");
    runtime.block_on(async {
        println!("memory benchmark (search lists {LIST_DEPTH} deep; hybrid returns 10; {QUERIES} queries per figure)");
        chunking_figure(&mut StdRng::seed_from_u64(3));
        match MiniLmEmbedder::load(&model_dir(), &LocalModelConfig::default(), 32) {
            Ok(embedder) => local_model_figures(&embedder, data_dir.path()).await,
            Err(error) => println!("  local model figures skipped: {error}"),
        }
        if backend_selected("sqlite") {
            let backend = sqlite_store(&data_dir.path().join("sqlite")).await;
            search_and_indexing(backend, data_dir.path().join("workspace")).await;
        }
        if backend_selected("postgres") {
            match postgres_store(&data_dir.path().join("postgres"), "search").await {
                Some(backend) => search_and_indexing(backend, data_dir.path().join("workspace")).await,
                None => println!("  postgres skipped: DATABASE_URL is unset"),
            }
        }
    });
}
