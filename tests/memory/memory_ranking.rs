//! Hybrid ranking end to end: RRF where the lists disagree, recency decay, MMR, filters, and
//! queries that must never break search.

use std::collections::HashMap;

use chitin::memory::embed::Embedder;
use chitin::memory::rank::{
    CandidateChunk, ChunkId, HybridInput, QueryError, RankingConfig, SearchFilter, SearchQuery, SourceName, rank_hybrid,
};
use chrono::{DateTime, Duration, TimeZone, Utc};

use crate::support::memory_fts::FtsIndex;
use crate::support::memory_model::local_embedder;

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 6, 30, 12, 0, 0).single().expect("valid date")
}

fn candidate(path: &str, age_days: i64, embedding: Option<Vec<f32>>) -> CandidateChunk {
    CandidateChunk {
        document_path: path.to_string(),
        text: format!("text of {path}"),
        source: SourceName("notes".to_string()),
        updated_at: now() - Duration::days(age_days),
        embedding,
    }
}

fn ids(values: &[i64]) -> Vec<ChunkId> {
    values.iter().copied().map(ChunkId).collect()
}

fn order(hits: &[chitin::memory::rank::SearchHit]) -> Vec<i64> {
    hits.iter().map(|hit| hit.chunk_id.0).collect()
}

fn candidates(count: i64) -> HashMap<ChunkId, CandidateChunk> {
    (1..=count).map(|id| (ChunkId(id), candidate(&format!("notes/{id}.md"), 1, None))).collect()
}

#[test]
fn rrf_orders_a_case_where_full_text_and_vector_disagree() {
    // Full text puts 1 first, vector puts 4 first; 4 and 3 are ranked well by both.
    let fts = ids(&[1, 2, 3, 4]);
    let vector = ids(&[4, 3, 5, 6, 1]);
    let candidates = candidates(6);
    let filter = SearchFilter::default();
    let input = HybridInput {
        fts: &fts,
        vector: &vector,
        candidates: &candidates,
        query_terms: &[],
        filter: &filter,
        now: now(),
    };

    // Classic RRF: both lists weigh the same.
    let equal = RankingConfig { fts_weight: 1.0, vector_weight: 1.0, ..RankingConfig::default() };
    let hits = rank_hybrid(&input, &equal);

    assert_eq!(order(&hits), vec![4, 3, 1, 2, 5, 6]);
    let top = &hits[0].scores;
    assert_eq!((top.fts_rank, top.vector_rank), (Some(4), Some(1)));
    assert!((top.fused - (1.0 / 64.0 + 1.0 / 61.0)).abs() < 1e-12);
    assert_eq!(hits[3].scores.vector_rank, None, "chunk 2 came from full text only");
    assert_eq!(hits[0].document_path, "notes/4.md");

    // Default weights (full text at half): chunk 2, found by full text alone, drops below the
    // vector-only chunks; agreement still wins.
    assert_eq!(order(&rank_hybrid(&input, &RankingConfig::default())), vec![4, 3, 1, 5, 6, 2]);
}

#[test]
fn recency_decay_lifts_a_newer_chunk_over_an_older_one() {
    let fts = ids(&[1, 2]);
    let vector = ids(&[1, 2]);
    let mut candidates = HashMap::new();
    candidates.insert(ChunkId(1), candidate("notes/old.md", 400, None));
    candidates.insert(ChunkId(2), candidate("notes/new.md", 2, None));
    let filter = SearchFilter::default();
    let input = HybridInput {
        fts: &fts,
        vector: &vector,
        candidates: &candidates,
        query_terms: &[],
        filter: &filter,
        now: now(),
    };

    let plain = rank_hybrid(&input, &RankingConfig::default());
    assert_eq!(order(&plain), vec![1, 2]);
    assert_eq!(plain[0].scores.recency, 1.0);

    let decayed_config = RankingConfig { recency_half_life_days: Some(30.0), ..RankingConfig::default() };
    let decayed = rank_hybrid(&input, &decayed_config);
    assert_eq!(order(&decayed), vec![2, 1]);
    let old = &decayed[1].scores;
    assert!(old.recency < 0.31 && old.recency >= 0.3, "floor 0.3 bounds the old chunk: {}", old.recency);
    assert!((old.score - old.fused * old.recency).abs() < 1e-15);
}

#[test]
fn mmr_pushes_a_near_duplicate_below_a_different_chunk() {
    let fts = ids(&[1, 2, 3]);
    let vector = ids(&[1, 2, 3]);
    let mut candidates = HashMap::new();
    candidates.insert(ChunkId(1), candidate("notes/a.md", 1, Some(vec![1.0, 0.0, 0.0])));
    candidates.insert(ChunkId(2), candidate("notes/a-copy.md", 1, Some(vec![0.99, 0.05, 0.0])));
    candidates.insert(ChunkId(3), candidate("notes/b.md", 1, Some(vec![0.0, 1.0, 0.0])));
    let filter = SearchFilter::default();
    let input = HybridInput {
        fts: &fts,
        vector: &vector,
        candidates: &candidates,
        query_terms: &[],
        filter: &filter,
        now: now(),
    };

    let without = rank_hybrid(&input, &RankingConfig { limit: 2, ..RankingConfig::default() });
    assert_eq!(order(&without), vec![1, 2]);
    let with = rank_hybrid(&input, &RankingConfig { limit: 2, mmr_lambda: Some(0.5), ..RankingConfig::default() });
    assert_eq!(order(&with), vec![1, 3]);
}

#[test]
fn filters_drop_chunks_outside_path_date_or_source() {
    let fts = ids(&[1, 2, 3]);
    let mut candidates = HashMap::new();
    candidates.insert(ChunkId(1), candidate("travel/lisbon.md", 10, None));
    candidates.insert(ChunkId(2), candidate("work/lisbon-offsite.md", 10, None));
    candidates.insert(ChunkId(3), candidate("travel/tokyo.md", 500, None));
    let filter = SearchFilter {
        path_prefix: Some("travel/".to_string()),
        updated_after: Some(now() - Duration::days(100)),
        ..SearchFilter::default()
    };
    let input =
        HybridInput { fts: &fts, vector: &[], candidates: &candidates, query_terms: &[], filter: &filter, now: now() };
    assert_eq!(order(&rank_hybrid(&input, &RankingConfig::default())), vec![1]);

    let chat_only = SearchFilter { source: Some(SourceName("chat".to_string())), ..SearchFilter::default() };
    let input = HybridInput {
        fts: &fts,
        vector: &[],
        candidates: &candidates,
        query_terms: &[],
        filter: &chat_only,
        now: now(),
    };
    assert!(rank_hybrid(&input, &RankingConfig::default()).is_empty());
}

#[tokio::test]
async fn empty_huge_and_hostile_queries_never_break_search() {
    let texts = ["Error E1042 in payments.", "Lisbon hotel booking AP-77214.", "中文 笔记"];
    let chunks: Vec<(ChunkId, String)> =
        texts.iter().enumerate().map(|(i, t)| (ChunkId(i as i64 + 1), t.to_string())).collect();
    let index = FtsIndex::build(&chunks).await;
    let candidates: HashMap<ChunkId, CandidateChunk> =
        chunks.iter().map(|(id, _)| (*id, candidate(&format!("n/{}.md", id.0), 1, None))).collect();
    let config = RankingConfig::default();

    assert_eq!(SearchQuery::parse("", config.max_query_bytes), Err(QueryError::Empty));
    assert_eq!(SearchQuery::parse("   \n", config.max_query_bytes), Err(QueryError::Empty));

    let ten_kb = "E1042 payments timeout ".repeat(450);
    assert!(ten_kb.len() >= 10_000);
    let hostile =
        [ten_kb.as_str(), "\"unbalanced NEAR( quote * - ^ OR AND NOT", "?!.,;", "中文", "x", "\0\u{1}control\u{7f}"];
    for raw in hostile {
        let query = SearchQuery::parse(raw, config.max_query_bytes).expect("non-empty query parses");
        assert!(query.text().len() <= config.max_query_bytes);
        let fts = index.search(&query, config.candidates_per_list).await;
        let vectors = local_embedder().embed(&[query.text().to_string()]).await.expect("any query can be embedded");
        assert_eq!(vectors[0].len(), 384);
        let filter = SearchFilter::default();
        let input = HybridInput {
            fts: &fts,
            vector: &[],
            candidates: &candidates,
            query_terms: &[],
            filter: &filter,
            now: now(),
        };
        let hits = rank_hybrid(&input, &config);
        assert!(hits.len() <= config.limit);
        if raw == ten_kb {
            assert_eq!(hits.first().map(|hit| hit.chunk_id), Some(ChunkId(1)), "cut query still finds E1042");
        }
    }
}

#[test]
fn a_full_text_hit_counts_by_the_share_of_the_query_it_contains() {
    let texts =
        [(1, "The house needs a coat of paint."), (2, "Keep the house warm in winter."), (3, "Insulate the loft.")];
    let candidates: HashMap<ChunkId, CandidateChunk> = texts
        .iter()
        .map(|(id, text)| {
            (ChunkId(*id), CandidateChunk { text: text.to_string(), ..candidate(&format!("{id}.md"), 1, None) })
        })
        .collect();
    // Full text: 1 shares one incidental word of four, 2 contains them all; vectors rank 3 first.
    let (fts, vector) = (ids(&[1, 2]), ids(&[3, 2]));
    let filter = SearchFilter::default();
    let query_terms = SearchQuery::parse("how do I keep the house warm in winter", 100).expect("query").terms();
    assert_eq!(query_terms, vec!["keep", "house", "warm", "winter"]);
    let equal = RankingConfig { fts_weight: 1.0, vector_weight: 1.0, ..RankingConfig::default() };

    let input = HybridInput {
        fts: &fts,
        vector: &vector,
        candidates: &candidates,
        query_terms: &[],
        filter: &filter,
        now: now(),
    };
    assert_eq!(order(&rank_hybrid(&input, &equal)), vec![2, 1, 3], "without terms: plain RRF, 1 ties 3 and wins");
    let input = HybridInput { query_terms: &query_terms, ..input };
    let hits = rank_hybrid(&input, &equal);
    assert_eq!(order(&hits), vec![2, 3, 1], "the incidental match falls below the semantic one");
    assert!((hits[2].scores.fused - 0.25 / 61.0).abs() < 1e-12);
    assert!((hits[0].scores.fused - 2.0 / 62.0).abs() < 1e-12, "full coverage keeps full weight");
}
