//! Retrieval quality on the labelled set: full text vs vector vs hybrid, recall@10 and nDCG@10.
//!
//! Full text is a real SQLite FTS5 index ranked by bm25; vector search is brute-force cosine over
//! all-MiniLM-L6-v2 vectors from the local embedder; hybrid fuses both with the production
//! `rank_hybrid` and default settings. Needs the model files (see `scripts/fetch-model.sh`).

use std::collections::{HashMap, HashSet};

use chitin::memory::embed::Embedder;
use chitin::memory::rank::{
    CandidateChunk, ChunkId, HybridInput, RankingConfig, SearchFilter, SearchQuery, SourceName, cosine, rank_hybrid,
};
use chitin::memory::{ChunkingConfig, chunk_markdown};
use chrono::{NaiveDate, Utc};

use crate::support::memory_fts::FtsIndex;
use crate::support::memory_model::local_embedder;
use crate::support::memory_retrieval_set::{Query, documents, queries};

const CUTOFF: usize = 10;

#[derive(Default, Clone, Copy)]
struct Totals {
    recall: f64,
    ndcg: f64,
    count: usize,
}

impl Totals {
    fn add(&mut self, recall: f64, ndcg: f64) {
        self.recall += recall;
        self.ndcg += ndcg;
        self.count += 1;
    }
    fn mean(&self) -> (f64, f64) {
        let count = self.count.max(1) as f64;
        (self.recall / count, self.ndcg / count)
    }
}

/// Fraction of the judged documents found in the top 10.
fn recall_at(ranking: &[usize], query: &Query, doc_ids: &[String]) -> f64 {
    let found = ranking.iter().take(CUTOFF).filter(|doc| query.relevant.contains_key(&doc_ids[**doc])).count();
    found as f64 / query.relevant.len() as f64
}

/// Graded nDCG@10 with gain 2^grade − 1.
fn ndcg_at(ranking: &[usize], query: &Query, doc_ids: &[String]) -> f64 {
    let gain = |grade: u8| f64::from((1u32 << grade) - 1);
    let dcg: f64 = ranking
        .iter()
        .take(CUTOFF)
        .enumerate()
        .map(|(position, doc)| {
            let grade = query.relevant.get(&doc_ids[*doc]).copied().unwrap_or(0);
            gain(grade) / ((position + 2) as f64).log2()
        })
        .sum();
    let mut ideal: Vec<u8> = query.relevant.values().copied().collect();
    ideal.sort_unstable_by(|a, b| b.cmp(a));
    let idcg: f64 = ideal
        .iter()
        .take(CUTOFF)
        .enumerate()
        .map(|(position, grade)| gain(*grade) / ((position + 2) as f64).log2())
        .sum();
    if idcg > 0.0 { dcg / idcg } else { 0.0 }
}

/// Chunk ranking → document ranking (first chunk of a document decides its place).
fn to_documents(chunks: &[ChunkId], chunk_doc: &HashMap<ChunkId, usize>) -> Vec<usize> {
    let mut seen = HashSet::new();
    chunks.iter().filter_map(|chunk| chunk_doc.get(chunk).copied()).filter(|doc| seen.insert(*doc)).collect()
}

#[tokio::test]
async fn hybrid_beats_full_text_and_vector_on_the_labelled_set() {
    let documents = documents();
    let queries = queries();
    assert!(documents.len() >= 200 && queries.len() >= 50);
    let embedder = local_embedder();
    let config = RankingConfig::default();

    let mut chunk_texts = Vec::new();
    let mut embedding_inputs = Vec::new();
    let mut chunk_doc = HashMap::new();
    let mut candidates = HashMap::new();
    for (doc_index, document) in documents.iter().enumerate() {
        let updated = NaiveDate::parse_from_str(&document.updated, "%Y-%m-%d")
            .expect("updated is a date")
            .and_hms_opt(12, 0, 0)
            .expect("valid time")
            .and_utc();
        for chunk in chunk_markdown(&document.text, &ChunkingConfig::default()) {
            let chunk_id = ChunkId(chunk_texts.len() as i64 + 1);
            chunk_doc.insert(chunk_id, doc_index);
            embedding_inputs.push(chunk.embedding_input());
            candidates.insert(
                chunk_id,
                CandidateChunk {
                    document_path: document.path.clone(),
                    text: chunk.text.clone(),
                    source: SourceName(document.source.clone()),
                    updated_at: updated,
                    embedding: None,
                },
            );
            chunk_texts.push((chunk_id, chunk.text));
        }
    }
    let doc_ids: Vec<String> = documents.iter().map(|document| document.id.clone()).collect();

    let index = FtsIndex::build(&chunk_texts).await;
    let started = std::time::Instant::now();
    let chunk_vectors = embedder.embed(&embedding_inputs).await.expect("embed chunks");
    let embed_seconds = started.elapsed().as_secs_f64();
    let query_texts: Vec<String> = queries.iter().map(|query| query.query.clone()).collect();
    let query_vectors = embedder.embed(&query_texts).await.expect("embed queries");

    let mut totals: HashMap<(&str, &str), Totals> = HashMap::new();
    let filter = SearchFilter::default();
    let mut misses = Vec::new();
    for (query, query_vector) in queries.iter().zip(&query_vectors) {
        let parsed = SearchQuery::parse(&query.query, config.max_query_bytes).expect("query parses");
        let fts = index.search(&parsed, config.candidates_per_list).await;

        let mut scored: Vec<(ChunkId, f64)> = chunk_texts
            .iter()
            .zip(&chunk_vectors)
            .map(|((chunk_id, _), vector)| (*chunk_id, cosine(query_vector, vector)))
            .collect();
        scored.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
        let vector: Vec<ChunkId> = scored.iter().take(config.candidates_per_list).map(|(id, _)| *id).collect();

        let input =
            HybridInput { fts: &fts, vector: &vector, candidates: &candidates, filter: &filter, now: Utc::now() };
        let wide = RankingConfig { limit: config.candidates_per_list * 2, ..config.clone() };
        let hybrid: Vec<ChunkId> = rank_hybrid(&input, &wide).iter().map(|hit| hit.chunk_id).collect();

        for (mode, chunks) in [("fts", &fts), ("vector", &vector), ("hybrid", &hybrid)] {
            let ranking = to_documents(chunks, &chunk_doc);
            let recall = recall_at(&ranking, query, &doc_ids);
            let ndcg = ndcg_at(&ranking, query, &doc_ids);
            if mode == "hybrid" && recall < 1.0 {
                misses.push(format!("{} ({}, recall {recall:.2})", query.id, query.kind));
            }
            totals.entry((mode, "all")).or_default().add(recall, ndcg);
            totals.entry((mode, query.kind.as_str())).or_default().add(recall, ndcg);
        }
    }

    println!(
        "\nretrieval quality: {} documents, {} chunks, {} queries; all-MiniLM-L6-v2 (candle) + SQLite FTS5 bm25, RRF k={}",
        documents.len(),
        chunk_texts.len(),
        queries.len(),
        config.rrf_k
    );
    println!("embedded {} chunks in {embed_seconds:.1} s", chunk_texts.len());
    println!(
        "{:<8} {:>10} {:>9} | nDCG@10 by kind: {:>7} {:>10} {:>8}",
        "mode", "recall@10", "nDCG@10", "exact", "paraphrase", "natural"
    );
    for mode in ["fts", "vector", "hybrid"] {
        let (recall, ndcg) = totals[&(mode, "all")].mean();
        let by_kind = |kind| totals.get(&(mode, kind)).map_or(0.0, |t| t.mean().1);
        println!(
            "{mode:<8} {recall:>10.3} {ndcg:>9.3} |                  {:>7.3} {:>10.3} {:>8.3}",
            by_kind("exact"),
            by_kind("paraphrase"),
            by_kind("natural")
        );
    }

    println!("hybrid misses a judged document for: {}", misses.join(", "));

    let (fts_recall, fts_ndcg) = totals[&("fts", "all")].mean();
    let (vector_recall, vector_ndcg) = totals[&("vector", "all")].mean();
    let (hybrid_recall, hybrid_ndcg) = totals[&("hybrid", "all")].mean();
    assert!(hybrid_recall > fts_recall && hybrid_recall > vector_recall, "hybrid recall@10 must beat both");
    assert!(hybrid_ndcg > fts_ndcg && hybrid_ndcg > vector_ndcg, "hybrid nDCG@10 must beat both");
}
