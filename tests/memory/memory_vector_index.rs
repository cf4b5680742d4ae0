//! PostgreSQL's vector index behind its queue (`src/store/memory_ann.rs`), on a real server: a
//! chunk is found by vector search as soon as it is stored and after it moves into the graph;
//! deletes leave nothing behind; a rebuild racing writes, deletes and searches loses and doubles
//! nothing; a model change empties and refills the index; a killed absorber resumes; the actor
//! catches up on its own. SQLite has no such index (its vector scan is tested on both backends in
//! `memory_store_search.rs`), so these run on PostgreSQL only and skip without `DATABASE_URL`.

use std::sync::Arc;
use std::time::{Duration, Instant};

use chitin::memory::embed::{Embedder, VectorStorePort};
use chitin::memory::rank::SearchFilter;
use chitin::memory::{MemoryConfig, MemoryService};
use chitin::store::{AnnProgress, AnnSettings, ChunkId, NewChunk, NewDocument, REBUILD_MIN_PENDING};
use chitin_actors::health::HealthProbe;
use chitin_actors::shells::memory_vector_indexer::{
    MemoryVectorIndexer, MemoryVectorIndexerArgs, MemoryVectorIndexerMsg,
};
use ractor::Actor;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use sqlx::Connection;

use crate::support::memory_fixed_embedder::{DIMS, FixedEmbedder};
use crate::support::store_backends::{TestStore, postgres_shared_lock, postgres_store};

/// Runs `test` on a fresh PostgreSQL schema, or prints why it is skipped.
macro_rules! on_postgres {
    ($($name:ident),* $(,)?) => {$(
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn $name() {
            let _shared = postgres_shared_lock().await;
            let Some(test_store) = postgres_store().await else { return };
            tests::$name(&test_store).await;
            test_store.drop_schema().await;
        }
    )*};
}

on_postgres!(
    a_chunk_is_found_from_the_queue_and_then_from_the_graph,
    deleting_a_document_leaves_no_index_rows,
    a_rebuild_racing_writes_deletes_and_searches_loses_and_doubles_nothing,
    a_model_change_empties_and_refills_the_index,
    an_absorber_killed_mid_batch_leaves_the_queue_to_resume_from,
    the_actor_catches_up_and_reports_progress,
);

fn unit_vector(rng: &mut StdRng) -> Vec<f32> {
    let mut vector: Vec<f32> = (0..DIMS).map(|_| rng.random::<f32>() - 0.5).collect();
    let norm = vector.iter().map(|value| value * value).sum::<f32>().sqrt();
    vector.iter_mut().for_each(|value| *value /= norm);
    vector
}

/// Stores `vectors.len()` chunks under `path`, one per vector, straight through the store.
async fn store_document(t: &TestStore, path: &str, vectors: &[Vec<f32>]) {
    let texts: Vec<String> = (0..vectors.len()).map(|index| format!("{path} chunk {index}")).collect();
    let chunks: Vec<NewChunk<'_>> = texts
        .iter()
        .zip(vectors)
        .map(|(text, vector)| NewChunk {
            content: text,
            headings: "",
            embedding: Some(vector),
            embedding_hash: Some("hash"),
        })
        .collect();
    // The chunk count in the hash: storing other vectors under the same path replaces the chunks.
    let content_hash = format!("{path}:{}", vectors.len());
    let document = NewDocument { path, source: "workspace", content_hash: &content_hash };
    t.store.memory().upsert_document(&document, &chunks).await.unwrap();
}

async fn nearest(t: &TestStore, vector: &[f32], limit: usize) -> Vec<ChunkId> {
    t.store.memory().rank_vector(vector, &SearchFilter::default(), limit).await.unwrap()
}

/// (chunks with a vector, rows in the graph, queued rows, rows both in the graph and queued).
async fn counts(t: &TestStore) -> (i64, i64, i64, i64) {
    (
        t.raw_scalar("SELECT count(*) FROM memory_chunks WHERE embedding IS NOT NULL").await,
        t.raw_scalar("SELECT count(*) FROM memory_chunk_ann").await,
        t.raw_scalar("SELECT count(*) FROM memory_ann_pending").await,
        t.raw_scalar("SELECT count(*) FROM memory_ann_pending p JOIN memory_chunk_ann a USING (chunk_id)").await,
    )
}

/// Steps the absorber until nothing is queued; returns the steps taken.
async fn catch_up(t: &TestStore, settings: &AnnSettings) -> Vec<AnnProgress> {
    let mut steps = Vec::new();
    loop {
        let step = t.store.memory().absorb_vector_index(settings).await.unwrap();
        steps.push(step);
        if step.pending == 0 {
            return steps;
        }
        assert!(steps.len() < 1_000, "the absorber does not converge: {steps:?}");
    }
}

/// Every chunk with a vector is in the graph or queued, with no extras and no row in both.
async fn assert_covered_exactly(t: &TestStore) {
    let uncovered = t
        .raw_scalar(
            "SELECT count(*) FROM memory_chunks c WHERE c.embedding IS NOT NULL \
             AND NOT EXISTS (SELECT 1 FROM memory_chunk_ann a WHERE a.chunk_id = c.id) \
             AND NOT EXISTS (SELECT 1 FROM memory_ann_pending p WHERE p.chunk_id = c.id)",
        )
        .await;
    assert_eq!(uncovered, 0, "chunks with a vector that neither the graph nor the queue holds");
    let stale = t
        .raw_scalar(
            "SELECT count(*) FROM memory_chunk_ann a LEFT JOIN memory_chunks c ON c.id = a.chunk_id \
             WHERE c.embedding IS NULL OR c.embedding::halfvec(384) <> a.embedding",
        )
        .await;
    assert_eq!(stale, 0, "graph rows whose chunk is gone or has another vector");
    let (with_vectors, graph, queued, both) = counts(t).await;
    assert_eq!(graph + queued - both, with_vectors);
}

mod tests {
    use super::*;

    pub async fn a_chunk_is_found_from_the_queue_and_then_from_the_graph(t: &TestStore) {
        let mut rng = StdRng::seed_from_u64(1);
        let vectors: Vec<Vec<f32>> = (0..20).map(|_| unit_vector(&mut rng)).collect();
        store_document(t, "notes/a.md", &vectors).await;
        assert_eq!(counts(t).await, (20, 0, 20, 0), "stored chunks are queued, not yet in the graph");
        let chunk_ids: Vec<i64> =
            sqlx::query_scalar("SELECT id FROM memory_chunks ORDER BY ordinal").fetch_all(&pg(t).await).await.unwrap();

        // Searchable the moment the upsert returned: the queue is scanned exactly.
        for (vector, chunk_id) in vectors.iter().zip(&chunk_ids) {
            assert_eq!(nearest(t, vector, 5).await.first(), Some(&ChunkId(*chunk_id)));
        }
        // Small queues go through batches; a batch of 8 leaves 12.
        let step = t.store.memory().absorb_vector_index(&AnnSettings { batch: 8, build_memory_mb: 64 }).await.unwrap();
        assert_eq!(step, AnnProgress { absorbed: 8, pending: 12, rebuilt: false, busy: false });
        assert_eq!(counts(t).await, (20, 8, 12, 0));
        let steps = catch_up(t, &AnnSettings::default()).await;
        assert!(steps.iter().all(|step| !step.rebuilt), "{steps:?}");
        assert_eq!(counts(t).await, (20, 20, 0, 0));
        for (vector, chunk_id) in vectors.iter().zip(&chunk_ids) {
            let hits = nearest(t, vector, 5).await;
            assert_eq!(hits.first(), Some(&ChunkId(*chunk_id)), "found through the graph");
            assert_eq!(hits.len(), 5);
            let mut unique = hits.clone();
            unique.sort_by_key(|id| id.0);
            unique.dedup();
            assert_eq!(unique.len(), hits.len(), "no chunk twice: {hits:?}");
        }
        // A deeper list than the session's ef_search goes through its own SET LOCAL.
        assert_eq!(nearest(t, &vectors[0], 150).await.len(), 20);
        assert_covered_exactly(t).await;
    }

    pub async fn deleting_a_document_leaves_no_index_rows(t: &TestStore) {
        let mut rng = StdRng::seed_from_u64(2);
        let memory = t.store.memory();
        // Deleted while queued.
        store_document(t, "queued.md", &[unit_vector(&mut rng), unit_vector(&mut rng)]).await;
        assert!(memory.delete_document("queued.md").await.unwrap());
        assert_eq!(counts(t).await, (0, 0, 0, 0));
        // Deleted once in the graph (batch).
        store_document(t, "absorbed.md", &[unit_vector(&mut rng), unit_vector(&mut rng)]).await;
        catch_up(t, &AnnSettings::default()).await;
        assert_eq!(counts(t).await, (2, 2, 0, 0));
        assert!(memory.delete_document("absorbed.md").await.unwrap());
        assert_eq!(counts(t).await, (0, 0, 0, 0));
        // Deleted from a rebuilt graph: the swapped-in table must cascade too.
        let vectors: Vec<Vec<f32>> = (0..REBUILD_MIN_PENDING).map(|_| unit_vector(&mut rng)).collect();
        store_document(t, "rebuilt.md", &vectors).await;
        let steps = catch_up(t, &AnnSettings::default()).await;
        assert!(steps[0].rebuilt, "a first load of {REBUILD_MIN_PENDING} chunks is built in one go: {steps:?}");
        assert_eq!(counts(t).await, (1_000, 1_000, 0, 0));
        // Re-indexing replaces the chunks: the old ones leave the graph, the new ones are queued.
        store_document(t, "rebuilt.md", &vectors[..10]).await;
        assert_eq!(counts(t).await, (10, 0, 10, 0));
        assert!(memory.delete_document("rebuilt.md").await.unwrap());
        assert_eq!(counts(t).await, (0, 0, 0, 0));
    }

    pub async fn a_rebuild_racing_writes_deletes_and_searches_loses_and_doubles_nothing(t: &TestStore) {
        let mut rng = StdRng::seed_from_u64(3);
        for document in 0..6 {
            let vectors: Vec<Vec<f32>> = (0..400).map(|_| unit_vector(&mut rng)).collect();
            store_document(t, &format!("bulk/{document}.md"), &vectors).await;
        }
        let probe = unit_vector(&mut rng);
        let rebuild = {
            let memory = t.store.memory();
            tokio::spawn(async move { memory.absorb_vector_index(&AnnSettings::default()).await })
        };
        // Writes, deletes and searches while the graph is rebuilt, until it is swapped in. Deletes
        // wait for the build table to appear: deleting the bulk before the absorber has counted the
        // queue would leave too few queued chunks for it to choose a rebuild at all.
        let mut observer = sqlx::PgConnection::connect(t.postgres_url.as_deref().unwrap()).await.unwrap();
        let (mut written, mut deleted, mut searched) = (0, 0, 0);
        let mut during = Vec::new();
        while !rebuild.is_finished() {
            let path = format!("during/{written}.md");
            let vector = unit_vector(&mut rng);
            store_document(t, &path, &[vector.clone(), unit_vector(&mut rng)]).await;
            during.push(vector);
            written += 1;
            let building: bool = sqlx::query_scalar("SELECT to_regclass('memory_chunk_ann_build') IS NOT NULL")
                .fetch_one(&mut observer)
                .await
                .unwrap();
            if building && deleted < 5 && t.store.memory().delete_document(&format!("bulk/{deleted}.md")).await.unwrap()
            {
                deleted += 1;
            }
            // Answers, though around the swap, before the graph's copies of the chunks deleted
            // meanwhile are vacuumed, an approximate graph walk may find fewer than 50 live ones.
            let hits = nearest(t, &probe, 50).await;
            assert!(!hits.is_empty(), "search keeps answering during a rebuild");
            searched += 1;
        }
        observer.close().await.unwrap();
        let step = rebuild.await.unwrap().unwrap();
        assert_eq!(nearest(t, &probe, 50).await.len(), 50, "a full list once the rebuilt graph is in");
        assert!(step.rebuilt, "2,400 queued chunks and an empty graph call for a rebuild: {step:?}");
        assert!(written > 0 && deleted > 0 && searched > 0, "nothing raced the rebuild");
        assert_covered_exactly(t).await;
        let (_, _, _, both) = counts(t).await;
        assert_eq!(both, 0, "what the rebuild copied left the queue; what came later stayed queued");
        // Everything written during the rebuild is found, before and after it is absorbed.
        let first_of_during: Vec<i64> = sqlx::query_scalar(
            "SELECT c.id FROM memory_chunks c JOIN memory_documents d ON d.id = c.document_id \
             WHERE d.path LIKE 'during/%' AND c.ordinal = 0 ORDER BY d.id",
        )
        .fetch_all(&pg(t).await)
        .await
        .unwrap();
        for (vector, chunk_id) in during.iter().zip(&first_of_during) {
            assert_eq!(nearest(t, vector, 5).await.first(), Some(&ChunkId(*chunk_id)));
        }
        catch_up(t, &AnnSettings::default()).await;
        assert_covered_exactly(t).await;
        let (with_vectors, graph, queued, _) = counts(t).await;
        assert_eq!((graph, queued), (with_vectors, 0));
        assert_eq!(with_vectors, (6 - deleted) * 400 + written * 2);
        for (vector, chunk_id) in during.iter().zip(&first_of_during) {
            assert_eq!(nearest(t, vector, 5).await.first(), Some(&ChunkId(*chunk_id)));
        }
        // The swapped-in table carries the canonical names, so the next rebuild can swap again.
        let names = t
            .raw_scalar(
                "SELECT count(*) FROM pg_class WHERE relnamespace = current_schema()::regnamespace AND relname IN \
                 ('memory_chunk_ann', 'memory_chunk_ann_pkey', 'memory_chunk_ann_embedding_idx')",
            )
            .await;
        assert_eq!(names, 3);
    }

    pub async fn a_model_change_empties_and_refills_the_index(t: &TestStore) {
        let first = Arc::new(FixedEmbedder::new("fixed/a"));
        let memory = service(t, first.clone()).await;
        for index in 0..6 {
            memory.index_text(&format!("n{index}.md"), "workspace", &format!("note number {index}")).await.unwrap();
        }
        catch_up(t, &AnnSettings::default()).await;
        assert_eq!(counts(t).await, (6, 6, 0, 0));
        let graph_before: Vec<Vec<f32>> = graph_vectors(t).await;
        // What a model change does first: every vector goes, and the graph and its queue with them.
        t.store.memory().clear_vectors().await.unwrap();
        assert_eq!(counts(t).await, (0, 0, 0, 0), "clearing the vectors empties the graph and the queue");

        let second = Arc::new(FixedEmbedder::new("fixed/b"));
        second.set("note number 3", &[(7, 1.0)]);
        // No word in common with any note: only the vector side can rank.
        second.set("heating maintenance schedule", &[(7, 0.9), (8, 0.1)]);
        let other = service(t, second.clone()).await;
        assert_eq!(second.embedded(), 6, "every chunk re-embedded");
        assert_eq!(counts(t).await, (6, 0, 6, 0), "the old graph emptied, the new vectors queued");
        assert_covered_exactly(t).await;
        let hits = other.search("heating maintenance schedule", 3, &SearchFilter::default()).await.unwrap();
        assert_eq!(hits[0].document_path, "n3.md");
        catch_up(t, &AnnSettings::default()).await;
        assert_eq!(counts(t).await, (6, 6, 0, 0));
        assert_covered_exactly(t).await;
        assert_ne!(graph_vectors(t).await, graph_before, "the graph holds the new model's vectors");
        let hits = other.search("heating maintenance schedule", 3, &SearchFilter::default()).await.unwrap();
        assert_eq!(hits[0].document_path, "n3.md");
        assert_eq!(hits[0].scores.vector_rank, Some(1));
    }

    pub async fn an_absorber_killed_mid_batch_leaves_the_queue_to_resume_from(t: &TestStore) {
        let mut rng = StdRng::seed_from_u64(5);
        let vectors: Vec<Vec<f32>> = (0..30).map(|_| unit_vector(&mut rng)).collect();
        store_document(t, "notes/killed.md", &vectors).await;
        // Hold the graph so the batch stops at its insert, after taking its queued rows.
        let url = t.postgres_url.clone().unwrap();
        let mut holder = sqlx::PgConnection::connect(&url).await.unwrap();
        sqlx::raw_sql("BEGIN; LOCK TABLE memory_chunk_ann IN SHARE MODE").execute(&mut holder).await.unwrap();
        let batch = {
            let memory = t.store.memory();
            tokio::spawn(async move { memory.absorb_vector_index(&AnnSettings::default()).await })
        };
        let blocked = wait_for(Duration::from_secs(10), move || async move {
            sqlx::query_scalar::<_, i32>(
                "SELECT pid FROM pg_locks WHERE relation = 'memory_chunk_ann'::regclass AND NOT granted",
            )
            .fetch_optional(&pg(t).await)
            .await
            .unwrap()
        })
        .await
        .expect("the batch reached its insert");
        // The absorber's session dies mid-transaction, as in a crash of its node.
        let killed: bool =
            sqlx::query_scalar("SELECT pg_terminate_backend($1)").bind(blocked).fetch_one(&pg(t).await).await.unwrap();
        assert!(killed);
        assert!(batch.await.unwrap().is_err(), "the killed batch reports its failure");
        sqlx::raw_sql("COMMIT").execute(&mut holder).await.unwrap();
        holder.close().await.unwrap();
        assert_eq!(counts(t).await, (30, 0, 30, 0), "nothing was lost from the queue");
        let hits = nearest(t, &vectors[4], 3).await;
        assert_eq!(hits.len(), 3, "still searchable through the queue");

        let steps = catch_up(t, &AnnSettings::default()).await;
        assert_eq!(steps.iter().map(|step| step.absorbed).sum::<u64>(), 30, "{steps:?}");
        assert_eq!(counts(t).await, (30, 30, 0, 0));
        assert_covered_exactly(t).await;
    }

    pub async fn the_actor_catches_up_and_reports_progress(t: &TestStore) {
        let mut rng = StdRng::seed_from_u64(6);
        let memory = service(t, Arc::new(FixedEmbedder::new("fixed/a"))).await;
        let vectors: Vec<Vec<f32>> = (0..40).map(|_| unit_vector(&mut rng)).collect();
        store_document(t, "notes/actor.md", &vectors).await;
        let args = MemoryVectorIndexerArgs { port: Some(Arc::new(memory)), poll: Duration::from_millis(100) };
        let (actor, handle) = Actor::spawn(None, MemoryVectorIndexer, args).await.unwrap();
        let actor_ref = &actor;
        let report = wait_for(Duration::from_secs(30), move || async move {
            let report = ractor::call_t!(actor_ref, MemoryVectorIndexerMsg::health_probe, 2_000).unwrap();
            report.detail.contains("40 vectors indexed, 0 queued").then_some(report)
        })
        .await;
        assert!(report.is_some(), "the actor absorbed the queue and says so: {:?}", counts(t).await);
        assert_eq!(counts(t).await, (40, 40, 0, 0));
        actor.stop(None);
        handle.await.unwrap();
    }
}

async fn service(t: &TestStore, embedder: Arc<FixedEmbedder>) -> MemoryService {
    let workspace = t.data_dir.path().join("workspace");
    std::fs::create_dir_all(&workspace).unwrap();
    let memory =
        MemoryService::new(t.store.memory(), Some(embedder as Arc<dyn Embedder>), &MemoryConfig::default(), workspace);
    memory.sync_vectors(&mut |_| {}).await.unwrap();
    memory
}

async fn graph_vectors(t: &TestStore) -> Vec<Vec<f32>> {
    let rows: Vec<(pgvector::Vector,)> =
        sqlx::query_as("SELECT embedding::vector FROM memory_chunk_ann ORDER BY chunk_id")
            .fetch_all(&pg(t).await)
            .await
            .unwrap();
    rows.into_iter().map(|(vector,)| vector.to_vec()).collect()
}

/// A one-connection pool on the test's schema, for queries beside the store.
async fn pg(t: &TestStore) -> sqlx::PgPool {
    sqlx::postgres::PgPoolOptions::new().max_connections(1).connect(t.postgres_url.as_deref().unwrap()).await.unwrap()
}

/// Polls `check` until it yields a value or `timeout` passes.
async fn wait_for<T, F, Fut>(timeout: Duration, mut check: F) -> Option<T>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(value) = check().await {
            return Some(value);
        }
        if Instant::now() > deadline {
            return None;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
