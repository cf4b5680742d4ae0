//! Changing the embedding model re-embeds every chunk with progress and never mixes vectors.

use std::sync::atomic::{AtomicUsize, Ordering};

use chitin::memory::embed::{
    EmbedError, EmbedFuture, Embedder, EmbeddingSpace, ReembedDecision, ReembedError, ReembedProgress,
    apply_reembed_decision,
};

use crate::support::memory_fake_vector_store::FakeVectorStore;

/// An embedder that returns constant vectors and can fail on a chosen call.
struct ScriptedEmbedder {
    dims: usize,
    fail_on_call: Option<usize>,
    calls: AtomicUsize,
}

impl Embedder for ScriptedEmbedder {
    fn model_id(&self) -> &str {
        "scripted/new-model"
    }
    fn dims(&self) -> usize {
        self.dims
    }
    fn embed<'a>(&'a self, texts: &'a [String]) -> EmbedFuture<'a> {
        let call = self.calls.fetch_add(1, Ordering::SeqCst) + 1;
        Box::pin(async move {
            if self.fail_on_call == Some(call) {
                return Err(EmbedError::NotFinite { model: "scripted/new-model".to_string(), index: 0 });
            }
            Ok(texts.iter().map(|_| vec![0.25; self.dims]).collect())
        })
    }
}

fn old_space() -> EmbeddingSpace {
    EmbeddingSpace { model_id: "local/all-MiniLM-L6-v2".to_string(), dims: 384 }
}

#[tokio::test]
async fn model_change_reembeds_everything_with_progress() {
    let store = FakeVectorStore::with_chunks(5, Some(old_space()));
    let embedder = ScriptedEmbedder { dims: 8, fail_on_call: None, calls: AtomicUsize::new(0) };
    let decision = EmbeddingSpace::decide(store.space().as_ref(), Some(&EmbeddingSpace::of(&embedder)));
    assert!(matches!(decision, ReembedDecision::ReembedAll { .. }));

    let mut seen = Vec::new();
    let done = apply_reembed_decision(&decision, &store, &embedder, 2, &mut |progress| seen.push(progress))
        .await
        .expect("re-embed");

    let step = |embedded| ReembedProgress { embedded, total: 5 };
    assert_eq!(seen, vec![step(2), step(4), step(5)]);
    assert_eq!(done, step(5));
    assert_eq!(store.vector_lengths(), vec![8; 5]);
    assert_eq!(store.space(), Some(EmbeddingSpace::of(&embedder)));
}

#[tokio::test]
async fn a_failure_midway_leaves_no_old_vectors_and_the_next_run_resumes() {
    let store = FakeVectorStore::with_chunks(6, Some(old_space()));
    let failing = ScriptedEmbedder { dims: 8, fail_on_call: Some(2), calls: AtomicUsize::new(0) };
    let decision = EmbeddingSpace::decide(store.space().as_ref(), Some(&EmbeddingSpace::of(&failing)));

    let error =
        apply_reembed_decision(&decision, &store, &failing, 2, &mut |_| {}).await.expect_err("second batch fails");
    assert!(matches!(error, ReembedError::Embed { embedded: 2, total: 6, .. }), "{error}");
    assert_eq!(error.to_string(), "re-embedding stopped after 2 of 6 chunks");
    assert_eq!(store.space(), None, "no space recorded: vector search stays off");
    assert_eq!(store.vector_lengths(), vec![8; 2], "only new vectors, no 384-dim leftovers");

    let healthy = ScriptedEmbedder { dims: 8, fail_on_call: None, calls: AtomicUsize::new(0) };
    let decision = EmbeddingSpace::decide(store.space().as_ref(), Some(&EmbeddingSpace::of(&healthy)));
    assert_eq!(decision, ReembedDecision::EmbedMissing);
    let done = apply_reembed_decision(&decision, &store, &healthy, 2, &mut |_| {}).await.expect("resume");
    assert_eq!(done, ReembedProgress { embedded: 4, total: 4 });
    assert_eq!(healthy.calls.load(Ordering::SeqCst), 2, "already embedded chunks are skipped");
    assert_eq!(store.vector_count(), 6);
    assert_eq!(store.space(), Some(EmbeddingSpace::of(&healthy)));
}

#[tokio::test]
async fn full_text_only_touches_nothing() {
    let store = FakeVectorStore::with_chunks(3, Some(old_space()));
    let embedder = ScriptedEmbedder { dims: 8, fail_on_call: Some(1), calls: AtomicUsize::new(0) };
    let done =
        apply_reembed_decision(&ReembedDecision::FullTextOnly, &store, &embedder, 2, &mut |_| {}).await.expect("no-op");
    assert_eq!(done.total, 0);
    assert_eq!(store.vector_lengths(), vec![384; 3]);
    assert_eq!(store.space(), Some(old_space()));
}
