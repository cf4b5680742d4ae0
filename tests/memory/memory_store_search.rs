//! `MemoryService` over the real store, on SQLite and PostgreSQL: indexing, incremental re-index,
//! deletion, filters, RRF where full text and vectors disagree, recency decay, MMR, re-embedding.

use std::sync::Arc;

use chitin::memory::embed::{EmbeddingSpace, ReembedProgress};
use chitin::memory::rank::{SearchFilter, SearchHit, SourceName};
use chitin::memory::{DocumentError, IndexOutcome, MemoryConfig, MemoryError, MemoryService};
use chrono::{Duration, Utc};

use crate::on_both_backends;
use crate::support::memory_fixed_embedder::FixedEmbedder;
use crate::support::store_backends::TestStore;

on_both_backends!(
    indexes_searches_and_forgets,
    reindexing_a_changed_file_embeds_only_new_chunks,
    filters_by_path_prefix_source_and_date,
    rrf_puts_agreement_above_either_list_alone,
    recency_decay_and_mmr_change_the_order,
    changing_the_model_reembeds_every_chunk,
    a_reembed_embeds_what_indexing_embeds_and_records_its_hash,
    vector_search_follows_writes_deletes_reembeds_and_other_processes,
    bad_files_and_queries_are_refused_cleanly,
    concurrent_writers_of_one_new_path_leave_one_whole_version,
    rankings_with_details_match_rankings_then_details,
);

async fn service(
    t: &TestStore,
    embedder: Option<Arc<FixedEmbedder>>,
    configure: impl FnOnce(&mut MemoryConfig),
) -> MemoryService {
    let mut config = MemoryConfig::default();
    configure(&mut config);
    let workspace = t.data_dir.path().join("workspace");
    std::fs::create_dir_all(&workspace).unwrap();
    let embedder = embedder.map(|embedder| embedder as Arc<dyn chitin::memory::embed::Embedder>);
    let memory = MemoryService::new(t.store.memory(), embedder, &config, workspace);
    memory.sync_vectors(&mut |_| {}).await.unwrap();
    memory
}

fn paths(hits: &[SearchHit]) -> Vec<&str> {
    hits.iter().map(|hit| hit.document_path.as_str()).collect()
}

async fn search(memory: &MemoryService, query: &str) -> Vec<SearchHit> {
    memory.search(query, 10, &SearchFilter::default()).await.unwrap()
}

async fn indexes_searches_and_forgets(t: &TestStore) {
    let embedder = Arc::new(FixedEmbedder::new("fixed/a"));
    embedder.set("The boiler in the cellar needs a service every autumn.", &[(0, 1.0)]);
    embedder.set("when should the heating be maintained", &[(0, 0.9), (1, 0.1)]);
    let memory = service(t, Some(embedder.clone()), |_| {}).await;
    let outcome =
        memory.index_text("home/boiler.md", "workspace", "The boiler in the cellar needs a service every autumn.");
    assert_eq!(outcome.await.unwrap(), IndexOutcome::Indexed { chunks: 1, embedded: 1 });
    memory.index_text("home/garden.md", "workspace", "Tomatoes go in after the last frost.").await.unwrap();

    // Shares no word with the note: only the vector side can find it.
    let hits = search(&memory, "when should the heating be maintained").await;
    assert_eq!(hits[0].document_path, "home/boiler.md");
    assert_eq!(hits[0].text, "The boiler in the cellar needs a service every autumn.");
    assert_eq!((hits[0].scores.fts_rank, hits[0].scores.vector_rank), (None, Some(1)));
    // An exact term: full text finds it.
    let hits = search(&memory, "tomatoes").await;
    assert_eq!(hits[0].document_path, "home/garden.md");
    assert_eq!(hits[0].scores.fts_rank, Some(1));
    assert!(hits[0].scores.score > 0.0);

    assert!(memory.forget("home/garden.md").await.unwrap());
    assert!(!memory.forget("home/garden.md").await.unwrap());
    assert!(paths(&search(&memory, "tomatoes").await).iter().all(|path| *path != "home/garden.md"));
    let listed = memory.list().await.unwrap();
    assert_eq!(listed.iter().map(|document| document.path.as_str()).collect::<Vec<_>>(), vec!["home/boiler.md"]);
}

async fn reindexing_a_changed_file_embeds_only_new_chunks(t: &TestStore) {
    let embedder = Arc::new(FixedEmbedder::new("fixed/a"));
    let memory = service(t, Some(embedder.clone()), |_| {}).await;
    let file = memory.workspace_dir().join("trip.md");
    let first = "# Lisbon\n\nWe stayed near the river.\n\n# Porto\n\nThe bridge was closed for repairs.\n";
    std::fs::write(&file, first).unwrap();
    let (path, outcome) = memory.index_file(&file).await.unwrap();
    assert_eq!(path, "trip.md");
    assert_eq!(outcome, IndexOutcome::Indexed { chunks: 2, embedded: 2 });
    assert_eq!(memory.index_file(&file).await.unwrap().1, IndexOutcome::Unchanged);

    let second = "# Lisbon\n\nWe stayed near the river.\n\n# Porto\n\nThe ferry replaced the closed bridge.\n";
    std::fs::write(&file, second).unwrap();
    let before = embedder.embedded();
    assert_eq!(memory.index_file(&file).await.unwrap().1, IndexOutcome::Indexed { chunks: 2, embedded: 1 });
    assert_eq!(embedder.embedded() - before, 1, "the unchanged Lisbon chunk reuses its stored vector");
    assert!(paths(&search(&memory, "ferry").await).contains(&"trip.md"));
    assert!(search(&memory, "repairs").await.iter().all(|hit| hit.scores.fts_rank.is_none()));
    assert_eq!(t.store.memory().count_chunks(false).await.unwrap(), 2, "old chunks are replaced, not kept");
    assert_eq!(t.store.memory().count_chunks(true).await.unwrap(), 2);
}

async fn filters_by_path_prefix_source_and_date(t: &TestStore) {
    let memory = service(t, None, |_| {}).await;
    memory.index_text("work/standup.md", "workspace", "Deploy the invoice service on Friday.").await.unwrap();
    memory.index_text("home/todo.md", "workspace", "Deploy the new shelf in the hallway.").await.unwrap();
    memory.index_text("logs/2026-01-02.md", "agent", "Talked about how to deploy safely.").await.unwrap();
    let long_ago = (Utc::now() - Duration::days(90)).timestamp_millis();
    t.raw_execute(&format!("UPDATE memory_documents SET updated_at_ms = {long_ago} WHERE path = 'home/todo.md'")).await;

    let run = |filter: SearchFilter| {
        let memory = memory.clone();
        async move {
            let mut found: Vec<String> =
                memory.search("deploy", 10, &filter).await.unwrap().into_iter().map(|hit| hit.document_path).collect();
            found.sort();
            found
        }
    };
    assert_eq!(run(SearchFilter::default()).await.len(), 3);
    let prefix = SearchFilter { path_prefix: Some("work/".to_string()), ..SearchFilter::default() };
    assert_eq!(run(prefix).await, vec!["work/standup.md"]);
    let agent = SearchFilter { source: Some(SourceName("agent".to_string())), ..SearchFilter::default() };
    assert_eq!(run(agent).await, vec!["logs/2026-01-02.md"]);
    let recent = SearchFilter { updated_after: Some(Utc::now() - Duration::days(30)), ..SearchFilter::default() };
    assert_eq!(run(recent).await, vec!["logs/2026-01-02.md", "work/standup.md"]);
    let old = SearchFilter { updated_before: Some(Utc::now() - Duration::days(30)), ..SearchFilter::default() };
    assert_eq!(run(old).await, vec!["home/todo.md"]);
}

async fn rrf_puts_agreement_above_either_list_alone(t: &TestStore) {
    let embedder = Arc::new(FixedEmbedder::new("fixed/a"));
    // Full text: "fts-top" matches both words twice, "both" once each; the rest not at all.
    // Vectors: "vector-top" is the query's direction, "both" close, the fillers half-way, "fts-top" unrelated.
    let texts = [
        ("fts-top.md", "Boiler pressure: boiler pressure readings from the manual.", vec![(2, 1.0)]),
        ("vector-top.md", "The heating needs attention before winter.", vec![(0, 1.0)]),
        ("both.md", "Check the boiler pressure before it gets cold.", vec![(0, 0.8), (1, 0.6)]),
    ];
    embedder.set("boiler pressure", &[(0, 1.0)]);
    for (_, text, vector) in &texts {
        embedder.set(text, vector);
    }
    for filler in 0..5 {
        embedder.set(&format!("Unrelated note number {filler}."), &[(0, 0.5), (3 + filler, 0.85)]);
    }
    let memory = service(t, Some(embedder), |_| {}).await;
    for (path, text, _) in &texts {
        memory.index_text(path, "workspace", text).await.unwrap();
    }
    for filler in 0..5 {
        memory
            .index_text(&format!("filler-{filler}.md"), "workspace", &format!("Unrelated note number {filler}."))
            .await
            .unwrap();
    }

    let hits = search(&memory, "boiler pressure").await;
    assert_eq!(paths(&hits)[..3], ["both.md", "fts-top.md", "vector-top.md"]);
    let ranks: Vec<(Option<usize>, Option<usize>)> =
        hits[..3].iter().map(|hit| (hit.scores.fts_rank, hit.scores.vector_rank)).collect();
    assert_eq!(ranks, vec![(Some(2), Some(2)), (Some(1), Some(8)), (None, Some(1))]);
    // Full text weighs half (memory.search.fts_weight = 0.5; "both" has every query term, so its
    // coverage keeps all of that), vectors fully.
    assert!((hits[0].scores.fused - 1.5 / 62.0).abs() < 1e-9);
}

async fn recency_decay_and_mmr_change_the_order(t: &TestStore) {
    let embedder = Arc::new(FixedEmbedder::new("fixed/a"));
    embedder.set("car insurance", &[(0, 1.0)]);
    embedder.set("Old note: renew the vehicle cover.", &[(0, 1.0), (1, 0.05)]);
    embedder.set("New note: renew the vehicle cover.", &[(0, 1.0), (1, 0.06)]);
    embedder.set("Same renewal, written twice.", &[(0, 1.0), (1, 0.07)]);
    embedder.set("Compare quotes from three brokers.", &[(0, 1.0), (2, 0.5)]);
    let plain = service(t, Some(embedder.clone()), |_| {}).await;
    plain.index_text("old.md", "workspace", "Old note: renew the vehicle cover.").await.unwrap();
    plain.index_text("new.md", "workspace", "New note: renew the vehicle cover.").await.unwrap();
    let year_ago = (Utc::now() - Duration::days(365)).timestamp_millis();
    t.raw_execute(&format!("UPDATE memory_documents SET updated_at_ms = {year_ago} WHERE path = 'old.md'")).await;

    assert_eq!(paths(&search(&plain, "car insurance").await)[..2], ["old.md", "new.md"]);
    let decaying = service(t, Some(embedder.clone()), |config| config.search.recency_half_life_days = Some(30.0)).await;
    let hits = search(&decaying, "car insurance").await;
    assert_eq!(paths(&hits)[..2], ["new.md", "old.md"]);
    assert!(hits[1].scores.recency < 0.5 && hits[0].scores.recency > 0.9);

    plain.forget("old.md").await.unwrap();
    plain.index_text("twice.md", "workspace", "Same renewal, written twice.").await.unwrap();
    plain.index_text("brokers.md", "workspace", "Compare quotes from three brokers.").await.unwrap();
    assert_eq!(paths(&search(&plain, "car insurance").await)[..3], ["new.md", "twice.md", "brokers.md"]);
    let diverse = service(t, Some(embedder), |config| config.search.mmr_lambda = Some(0.5)).await;
    assert_eq!(paths(&search(&diverse, "car insurance").await)[..3], ["new.md", "brokers.md", "twice.md"]);
}

async fn changing_the_model_reembeds_every_chunk(t: &TestStore) {
    let full_text_only = service(t, None, |_| {}).await;
    for index in 0..5 {
        full_text_only.index_text(&format!("n{index}.md"), "workspace", &format!("note {index}")).await.unwrap();
    }
    assert_eq!(t.store.memory().count_chunks(true).await.unwrap(), 0);

    let first = Arc::new(FixedEmbedder::new("fixed/a"));
    let mut seen = Vec::new();
    let memory = MemoryService::new(
        t.store.memory(),
        Some(first.clone() as Arc<dyn chitin::memory::embed::Embedder>),
        &MemoryConfig::default(),
        t.data_dir.path().to_path_buf(),
    );
    let progress = memory.sync_vectors(&mut |progress: ReembedProgress| seen.push(progress)).await.unwrap();
    assert_eq!(progress, ReembedProgress { embedded: 5, total: 5 });
    assert_eq!(seen.last(), Some(&progress));
    assert_eq!(t.store.memory().count_chunks(true).await.unwrap(), 5);
    let space = |model: &str| Some(EmbeddingSpace { model_id: model.to_string(), dims: 384 });
    assert_eq!(t.store.memory().embedding_space().await.unwrap(), space("fixed/a"));

    let second = Arc::new(FixedEmbedder::new("fixed/b"));
    let other = MemoryService::new(
        t.store.memory(),
        Some(second.clone() as Arc<dyn chitin::memory::embed::Embedder>),
        &MemoryConfig::default(),
        t.data_dir.path().to_path_buf(),
    );
    // Before the re-embed, the other model's vectors must not be used or written.
    other.index_text("extra.md", "workspace", "an extra note").await.unwrap();
    assert_eq!(second.embedded(), 0);
    assert_eq!(other.sync_vectors(&mut |_| {}).await.unwrap(), ReembedProgress { embedded: 6, total: 6 });
    assert_eq!(second.embedded(), 6);
    assert_eq!(t.store.memory().embedding_space().await.unwrap(), space("fixed/b"));
    assert_eq!(t.store.memory().count_chunks(true).await.unwrap(), 6);
}

async fn a_reembed_embeds_what_indexing_embeds_and_records_its_hash(t: &TestStore) {
    let trip = "# Trip\n\n## Lisbon\n\nWe stayed near the river.\n\n## Porto\n\nThe bridge was closed for repairs.\n";
    let first = Arc::new(FixedEmbedder::new("fixed/a"));
    let memory = service(t, Some(first.clone()), |_| {}).await;
    assert!(matches!(memory.index_text("trip.md", "workspace", trip).await.unwrap(), IndexOutcome::Indexed { .. }));
    let mut indexed = first.embedded_texts();
    assert!(indexed.contains(&"Trip > Lisbon\n\n## Lisbon\n\nWe stayed near the river.".to_string()), "{indexed:?}");

    let second = Arc::new(FixedEmbedder::new("fixed/b"));
    let other = service(t, Some(second.clone()), |_| {}).await;
    let mut reembedded = second.embedded_texts();
    indexed.sort();
    reembedded.sort();
    assert_eq!(reembedded, indexed, "a re-embed embeds exactly what first indexing embedded");

    // The model is part of the document hash, so the document is chunked again; every chunk's
    // vector is found by the hash the re-embed recorded, and nothing is embedded twice.
    let again = other.index_text("trip.md", "workspace", trip).await.unwrap();
    assert_eq!(again, IndexOutcome::Indexed { chunks: indexed.len(), embedded: 0 });
    assert_eq!(second.embedded(), indexed.len());
}

/// Vector search results, as document paths, for a query pointing along `axis`; also checks
/// that every returned chunk still exists (a stale in-process copy would return deleted ones).
async fn nearest_paths(t: &TestStore, axis: usize, filter: &SearchFilter) -> Vec<String> {
    let mut query = vec![0.0; crate::support::memory_fixed_embedder::DIMS];
    query[axis] = 1.0;
    let memory = t.store.memory();
    let ids = memory.rank_vector(&query, filter, 50).await.unwrap();
    let details = memory.chunk_details(&ids, true).await.unwrap();
    assert_eq!(details.len(), ids.len(), "vector search returned chunks that no longer exist: {ids:?}");
    ids.iter().map(|id| details[id].document_path.clone()).collect()
}

async fn vector_search_follows_writes_deletes_reembeds_and_other_processes(t: &TestStore) {
    let everything = SearchFilter::default();
    let first = Arc::new(FixedEmbedder::new("fixed/a"));
    first.set("apples in the loft", &[(0, 1.0)]);
    first.set("bananas on the shelf", &[(1, 1.0)]);
    first.set("bananas went to the compost", &[(2, 1.0)]);
    let memory = service(t, Some(first.clone()), |_| {}).await;
    memory.index_text("a.md", "workspace", "apples in the loft").await.unwrap();
    memory.index_text("b.md", "workspace", "bananas on the shelf").await.unwrap();
    assert_eq!(nearest_paths(t, 1, &everything).await, ["b.md", "a.md"]);

    // A rewrite replaces the document's chunk: the old vector is gone, the new one is found.
    memory.index_text("b.md", "workspace", "bananas went to the compost").await.unwrap();
    assert_eq!(nearest_paths(t, 2, &everything).await, ["b.md", "a.md"]);
    assert_eq!(nearest_paths(t, 1, &everything).await.len(), 2);

    assert!(memory.forget("a.md").await.unwrap());
    assert_eq!(nearest_paths(t, 0, &everything).await, ["b.md"]);

    // Another process (a second store on the same database) writes; this one must see it.
    let other_store = t.reopen(&t.master_key).await.unwrap();
    first.set("cherries in the freezer", &[(3, 1.0)]);
    let workspace = t.data_dir.path().join("workspace");
    let other = MemoryService::new(
        other_store.memory(),
        Some(first.clone() as Arc<dyn chitin::memory::embed::Embedder>),
        &MemoryConfig::default(),
        workspace,
    );
    other.index_text("c.md", "notes", "cherries in the freezer").await.unwrap();
    other_store.close().await;
    assert_eq!(nearest_paths(t, 3, &everything).await, ["c.md", "b.md"]);
    let notes_only = SearchFilter { source: Some(SourceName("notes".to_string())), ..SearchFilter::default() };
    assert_eq!(nearest_paths(t, 2, &notes_only).await, ["c.md"]);

    // A re-embed with another model replaces every vector.
    let second = Arc::new(FixedEmbedder::new("fixed/b"));
    second.set("bananas went to the compost", &[(7, 1.0)]);
    service(t, Some(second.clone()), |_| {}).await;
    assert_eq!(nearest_paths(t, 7, &everything).await, ["b.md", "c.md"]);
    assert_eq!(nearest_paths(t, 2, &everything).await.len(), 2);
}

async fn bad_files_and_queries_are_refused_cleanly(t: &TestStore) {
    let memory = service(t, None, |config| config.max_file_bytes = 1000).await;
    let dir = memory.workspace_dir().to_path_buf();
    let write = |name: &str, bytes: &[u8]| {
        let path = dir.join(name);
        std::fs::write(&path, bytes).unwrap();
        path
    };
    let binary = write("image.png", b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR");
    let latin1 = write("latin1.txt", b"caf\xe9 au lait");
    let huge = write("huge.md", &vec![b'a'; 1001]);
    let fine = write("fine.md", "caf\u{e9} au lait".as_bytes());
    let refused = |result: Result<(String, IndexOutcome), MemoryError>| match result {
        Err(MemoryError::Document(error)) => error,
        other => panic!("expected a document error, got {other:?}"),
    };
    assert!(matches!(refused(memory.index_file(&binary).await), DocumentError::Binary { .. }));
    assert!(matches!(refused(memory.index_file(&latin1).await), DocumentError::InvalidUtf8 { offset: 3, .. }));
    let error = refused(memory.index_file(&huge).await);
    assert!(matches!(error, DocumentError::TooLarge { size: 1001, limit: 1000, .. }));
    assert!(error.to_string().contains("huge.md"), "{error}");
    memory.index_file(&fine).await.unwrap();
    assert_eq!(memory.list().await.unwrap().len(), 1);

    assert!(search(&memory, "").await.is_empty());
    assert!(search(&memory, "  ?!  ").await.is_empty());
    let long_query = "café \"NEAR( OR * ".repeat(700);
    assert!(long_query.len() > 10_000);
    assert_eq!(paths(&search(&memory, &long_query).await), vec!["fine.md"]);
}

/// PostgreSQL's full-text index keeps new entries in a pending list that every search reads until
/// it is merged; the store merges it each time it has written `FULL_TEXT_MERGE_AFTER_CHUNKS` chunks.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_merges_full_text_pending_entries_as_chunks_stream_in() {
    use chitin::store::{FULL_TEXT_MERGE_AFTER_CHUNKS, NewChunk, NewDocument};
    let _shared = crate::support::store_backends::postgres_shared_lock().await;
    let Some(t) = crate::support::store_backends::postgres_store().await else { return };
    let memory = t.store.memory();
    let texts: Vec<String> =
        (0..FULL_TEXT_MERGE_AFTER_CHUNKS).map(|n| format!("note {n} about parcel{n} and the garden")).collect();
    let write = |first: usize, count: usize| {
        let memory = memory.clone();
        let chunks: Vec<NewChunk<'_>> = texts[first..first + count]
            .iter()
            .map(|text| NewChunk { content: text, headings: "", embedding: None, embedding_hash: None })
            .collect();
        let path = format!("notes/{first}.md");
        async move {
            let document = NewDocument { path: &path, source: "workspace", content_hash: &path };
            memory.upsert_document(&document, &chunks).await.unwrap();
        }
    };
    let half = FULL_TEXT_MERGE_AFTER_CHUNKS / 2;
    write(0, half).await;
    // Below the threshold the entries are still pending (this merge is the test's, not the store's).
    assert!(memory.merge_full_text_pending().await.unwrap() > 0, "nothing was pending after {half} chunks");
    write(half, half - 1).await;
    // The write that reaches the threshold merges what is pending, so nothing is left.
    write(2 * half - 1, FULL_TEXT_MERGE_AFTER_CHUNKS - (2 * half - 1)).await;
    assert_eq!(memory.merge_full_text_pending().await.unwrap(), 0, "the store did not merge at the threshold");
    // Merged entries are still found.
    let service = MemoryService::new(memory.clone(), None, &MemoryConfig::default(), t.data_dir.path().join("ws"));
    let last = FULL_TEXT_MERGE_AFTER_CHUNKS - 1;
    let hits = search(&service, &format!("parcel{last}")).await;
    assert_eq!(hits.first().map(|hit| hit.text.as_str()), Some(texts[last].as_str()));
    t.drop_schema().await;
}

/// Writers racing to store the same new path all succeed, and what is stored afterwards is one
/// version whole: its hash, and exactly its chunks. (On PostgreSQL a new document skips the chunk
/// DELETE; the writers that lose the race for the insert must still take the replace path.)
async fn concurrent_writers_of_one_new_path_leave_one_whole_version(t: &TestStore) {
    use chitin::store::{NewChunk, NewDocument};
    let memory = t.store.memory();
    let versions: Vec<Vec<String>> = (0..6)
        .map(|version| (0..3 + version).map(|chunk| format!("version{version} part{chunk} lantern")).collect())
        .collect();
    let writes = versions.iter().enumerate().map(|(version, texts)| {
        let memory = memory.clone();
        async move {
            let chunks: Vec<NewChunk<'_>> = texts
                .iter()
                .map(|text| NewChunk { content: text, headings: "", embedding: None, embedding_hash: None })
                .collect();
            let hash = format!("v{version}");
            let document = NewDocument { path: "notes/raced.md", source: "workspace", content_hash: &hash };
            memory.upsert_document(&document, &chunks).await
        }
    });
    for result in futures::future::join_all(writes).await {
        result.expect("every writer of the same new path succeeds");
    }
    let documents = memory.list_documents().await.unwrap();
    assert_eq!(documents.len(), 1, "{documents:?}");
    let version: usize = documents[0].content_hash.trim_start_matches('v').parse().unwrap();
    assert_eq!(documents[0].chunks as usize, versions[version].len(), "chunks of several versions were kept");
    let query = chitin::memory::rank::SearchQuery::parse("lantern", 2048).unwrap();
    let ids = memory.rank_text(&query, &SearchFilter::default(), 100).await.unwrap();
    let details = memory.chunk_details(&ids, false).await.unwrap();
    let mut texts: Vec<&str> = details.values().map(|chunk| chunk.text.as_str()).collect();
    texts.sort_unstable();
    let mut expected: Vec<&str> = versions[version].iter().map(String::as_str).collect();
    expected.sort_unstable();
    assert_eq!(texts, expected);
}

/// A ranking read with its details (one statement on PostgreSQL) lists the same chunks in the same
/// order as the ranking alone, with the details `chunk_details` gives, vectors included when asked,
/// with and without a filter.
async fn rankings_with_details_match_rankings_then_details(t: &TestStore) {
    let embedder = Arc::new(FixedEmbedder::new("fixed/a"));
    let notes = [
        ("home/boiler.md", "The boiler needs a service every autumn.", &[(0, 1.0)][..]),
        ("home/garden.md", "Plant the garden bulbs in autumn before the frost.", &[(0, 0.6), (1, 0.4)]),
        ("work/plan.md", "The autumn plan: service contracts and the boiler budget.", &[(0, 0.8), (2, 0.2)]),
        ("work/other.md", "Nothing seasonal here at all.", &[(3, 1.0)]),
    ];
    for (_, text, vector) in notes {
        embedder.set(text, vector);
    }
    let memory = service(t, Some(embedder.clone()), |_| {}).await;
    for (path, text, _) in notes {
        memory.index_text(path, "workspace", text).await.unwrap();
    }
    let store = t.store.memory();
    let query = chitin::memory::rank::SearchQuery::parse("boiler autumn service", 2048).unwrap();
    let filters =
        [SearchFilter::default(), SearchFilter { path_prefix: Some("work/".into()), ..SearchFilter::default() }];
    for filter in &filters {
        for with_vectors in [false, true] {
            let text = store.rank_text_with_details(&query, filter, 10, with_vectors).await.unwrap();
            let ids = store.rank_text(&query, filter, 10).await.unwrap();
            assert!(!ids.is_empty());
            assert_eq!(text.ids, ids, "full-text order, filter {filter:?}");
            assert_eq!(text.details, store.chunk_details(&ids, with_vectors).await.unwrap());

            let mut vector = vec![0.0_f32; crate::support::memory_fixed_embedder::DIMS];
            vector[..2].copy_from_slice(&[0.9, 0.1]);
            let ranked = store.rank_vector_with_details(&vector, filter, 10, with_vectors).await.unwrap();
            let ids = store.rank_vector(&vector, filter, 10).await.unwrap();
            assert!(!ids.is_empty());
            assert_eq!(ranked.ids, ids, "vector order, filter {filter:?}");
            assert_eq!(ranked.details, store.chunk_details(&ids, with_vectors).await.unwrap());
            assert_eq!(ranked.details.values().all(|chunk| chunk.embedding.is_some()), with_vectors);
        }
    }
}
