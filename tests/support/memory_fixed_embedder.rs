//! An embedder whose vectors the test chooses, for ranking cases built by hand over a real store.
//!
//! Texts the test registered get their vector; any other text gets a vector of its own (a hashed
//! axis past the registered ones), so unregistered chunks are unrelated to every query.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use chitin::memory::embed::{EmbedFuture, Embedder, Embedding};

pub const DIMS: usize = 384;

pub struct FixedEmbedder {
    model_id: String,
    vectors: Mutex<HashMap<String, Embedding>>,
    embedded: AtomicUsize,
    /// Every text embedded, in order.
    texts: Mutex<Vec<String>>,
    /// When set, the embed call that would pass this many texts in total panics (once), like a
    /// crash in the middle of indexing.
    panic_at: Mutex<Option<usize>>,
}

impl FixedEmbedder {
    pub fn new(model_id: &str) -> FixedEmbedder {
        FixedEmbedder {
            model_id: model_id.to_string(),
            vectors: Mutex::new(HashMap::new()),
            embedded: AtomicUsize::new(0),
            texts: Mutex::new(Vec::new()),
            panic_at: Mutex::new(None),
        }
    }

    /// `text` will embed as `weights` spread over the first axes (`[(axis, weight)]`).
    pub fn set(&self, text: &str, weights: &[(usize, f32)]) {
        let mut vector = vec![0.0; DIMS];
        for (axis, weight) in weights {
            vector[*axis] = *weight;
        }
        self.vectors.lock().unwrap().insert(text.to_string(), vector);
    }

    /// Panics once, in the call that reaches `texts` embedded texts in total.
    pub fn panic_once_at(&self, texts: usize) {
        *self.panic_at.lock().unwrap() = Some(texts);
    }

    /// Texts embedded so far (a cache or reuse hit does not count).
    pub fn embedded(&self) -> usize {
        self.embedded.load(Ordering::SeqCst)
    }

    /// Every text embedded so far, in order.
    pub fn embedded_texts(&self) -> Vec<String> {
        self.texts.lock().unwrap().clone()
    }

    fn vector_for(&self, text: &str) -> Embedding {
        if let Some(vector) = self.vectors.lock().unwrap().get(text) {
            return vector.clone();
        }
        let hash = text.bytes().fold(17usize, |hash, byte| hash.wrapping_mul(31).wrapping_add(byte as usize));
        let mut vector = vec![0.0; DIMS];
        vector[32 + hash % (DIMS - 32)] = 1.0;
        vector
    }
}

impl Embedder for FixedEmbedder {
    fn model_id(&self) -> &str {
        &self.model_id
    }

    fn dims(&self) -> usize {
        DIMS
    }

    fn embed<'a>(&'a self, texts: &'a [String]) -> EmbedFuture<'a> {
        let total = self.embedded.load(Ordering::SeqCst) + texts.len();
        let mut panic_at = self.panic_at.lock().unwrap();
        if panic_at.is_some_and(|at| total >= at) {
            *panic_at = None;
            drop(panic_at);
            panic!("embedder crashed on purpose after {total} texts");
        }
        drop(panic_at);
        self.embedded.fetch_add(texts.len(), Ordering::SeqCst);
        self.texts.lock().unwrap().extend(texts.iter().cloned());
        let vectors = texts.iter().map(|text| self.vector_for(text)).collect();
        Box::pin(async move { Ok(vectors) })
    }
}
