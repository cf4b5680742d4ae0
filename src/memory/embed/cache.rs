//! Content-hash embedding cache, so an unchanged chunk is never embedded twice.
//!
//! The key hashes the model id, the dimension count and the exact text. Re-indexing a document
//! whose paragraphs did not change therefore costs no embedding calls, and switching models can
//! never return a vector from the old model.

use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::num::NonZeroUsize;
use std::pin::Pin;
use std::sync::{Arc, Mutex};

use lru::LruCache;
use sha2::{Digest, Sha256};
use tracing::Instrument;

use super::{EmbedError, EmbedFuture, Embedder, Embedding, validate_embeddings};

/// SHA-256 of (model id, dimensions, text): the cache key, also storable as a 32-byte column.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct ContentHash([u8; 32]);

impl ContentHash {
    pub fn of(model_id: &str, dims: usize, text: &str) -> Self {
        let mut hasher = Sha256::new();
        hasher.update(model_id.as_bytes());
        hasher.update([0]);
        hasher.update(dims.to_le_bytes());
        hasher.update([0]);
        hasher.update(text.as_bytes());
        Self(hasher.finalize().into())
    }

    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }
}

impl fmt::Display for ContentHash {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.iter().try_for_each(|byte| write!(formatter, "{byte:02x}"))
    }
}

impl fmt::Debug for ContentHash {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(formatter, "ContentHash({self})")
    }
}

/// What a cache operation returns; boxed so the trait is object-safe and a store-backed cache
/// can do async I/O.
pub type CacheFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T, EmbedError>> + Send + 'a>>;

/// Storage for vectors by content hash. Batched, because the store answers many keys in one query.
pub trait EmbeddingCache: Send + Sync {
    /// One entry per key, in key order; `None` for a miss.
    fn get_many<'a>(&'a self, keys: &'a [ContentHash]) -> CacheFuture<'a, Vec<Option<Embedding>>>;

    /// Remembers vectors; may evict older entries.
    fn put_many(&self, entries: Vec<(ContentHash, Embedding)>) -> CacheFuture<'_, ()>;
}

/// Bounded in-memory cache that forgets the least recently used vectors first.
pub struct LruEmbeddingCache {
    // A std mutex: it is never held across an await, and each operation is a few hash lookups.
    entries: Mutex<LruCache<ContentHash, Embedding>>,
}

impl LruEmbeddingCache {
    /// A cache holding at most `capacity` vectors (at least one).
    pub fn new(capacity: usize) -> Self {
        let capacity = NonZeroUsize::new(capacity).unwrap_or(NonZeroUsize::MIN);
        Self { entries: Mutex::new(LruCache::new(capacity)) }
    }

    fn with_entries<T>(&self, action: impl FnOnce(&mut LruCache<ContentHash, Embedding>) -> T) -> T {
        // A panic while holding the lock cannot leave the LRU half-updated in a way that
        // matters for a cache, so a poisoned lock is simply reused.
        let mut guard = self.entries.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        action(&mut guard)
    }
}

impl EmbeddingCache for LruEmbeddingCache {
    fn get_many<'a>(&'a self, keys: &'a [ContentHash]) -> CacheFuture<'a, Vec<Option<Embedding>>> {
        let found = self.with_entries(|entries| keys.iter().map(|key| entries.get(key).cloned()).collect());
        Box::pin(async move { Ok(found) })
    }

    fn put_many(&self, new_entries: Vec<(ContentHash, Embedding)>) -> CacheFuture<'_, ()> {
        self.with_entries(|entries| {
            for (key, vector) in new_entries {
                entries.put(key, vector);
            }
        });
        Box::pin(async { Ok(()) })
    }
}

/// Wraps an embedder so only texts the cache has not seen reach it.
///
/// A cache failure is logged and treated as a miss: the cache saves work, it must never make
/// embedding fail.
pub struct CachedEmbedder {
    inner: Arc<dyn Embedder>,
    cache: Arc<dyn EmbeddingCache>,
}

impl CachedEmbedder {
    pub fn new(inner: Arc<dyn Embedder>, cache: Arc<dyn EmbeddingCache>) -> Self {
        Self { inner, cache }
    }

    async fn embed_cached(&self, texts: &[String]) -> Result<Vec<Embedding>, EmbedError> {
        let (model, dims) = (self.inner.model_id(), self.inner.dims());
        let keys: Vec<ContentHash> = texts.iter().map(|text| ContentHash::of(model, dims, text)).collect();
        let mut vectors = match self.cache.get_many(&keys).await {
            Ok(found) if found.len() == keys.len() => found,
            Ok(_) => {
                tracing::warn!("embedding cache answered the wrong number of keys; ignoring it");
                vec![None; keys.len()]
            }
            Err(error) => {
                tracing::warn!(%error, "embedding cache lookup failed; embedding everything");
                vec![None; keys.len()]
            }
        };

        // Identical texts in one call are embedded once.
        let mut positions_by_key: HashMap<ContentHash, Vec<usize>> = HashMap::new();
        let mut missing_texts = Vec::new();
        let mut missing_keys = Vec::new();
        for (position, key) in keys.iter().enumerate() {
            if vectors[position].is_some() {
                continue;
            }
            let positions = positions_by_key.entry(*key).or_default();
            if positions.is_empty() {
                missing_texts.push(texts[position].clone());
                missing_keys.push(*key);
            }
            positions.push(position);
        }
        tracing::debug!(
            hits = texts.len() - positions_by_key.values().map(Vec::len).sum::<usize>(),
            misses = missing_texts.len(),
            "embedding cache"
        );

        if !missing_texts.is_empty() {
            let fresh = self.inner.embed(&missing_texts).await?;
            validate_embeddings(model, dims, missing_texts.len(), &fresh)?;
            for (key, vector) in missing_keys.iter().zip(&fresh) {
                for position in &positions_by_key[key] {
                    vectors[*position] = Some(vector.clone());
                }
            }
            let entries = missing_keys.into_iter().zip(fresh).collect();
            if let Err(error) = self.cache.put_many(entries).await {
                tracing::warn!(%error, "embedding cache write failed; vectors not cached");
            }
        }
        let vectors: Vec<Embedding> = vectors.into_iter().flatten().collect();
        validate_embeddings(model, dims, texts.len(), &vectors)?;
        Ok(vectors)
    }
}

impl Embedder for CachedEmbedder {
    fn model_id(&self) -> &str {
        self.inner.model_id()
    }

    fn dims(&self) -> usize {
        self.inner.dims()
    }

    fn embed<'a>(&'a self, texts: &'a [String]) -> EmbedFuture<'a> {
        let span = tracing::debug_span!("embed_cached", model = %self.inner.model_id(), texts = texts.len());
        Box::pin(self.embed_cached(texts).instrument(span))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_depends_on_model_dims_and_text() {
        let base = ContentHash::of("m", 3, "hello");
        assert_eq!(base, ContentHash::of("m", 3, "hello"));
        assert_ne!(base, ContentHash::of("n", 3, "hello"));
        assert_ne!(base, ContentHash::of("m", 4, "hello"));
        assert_ne!(base, ContentHash::of("m", 3, "hello!"));
        assert_eq!(base.to_string().len(), 64);
    }

    #[tokio::test]
    async fn lru_evicts_least_recently_used() {
        let cache = LruEmbeddingCache::new(2);
        let [a, b, c] = ["a", "b", "c"].map(|text| ContentHash::of("m", 1, text));
        cache.put_many(vec![(a, vec![1.0]), (b, vec![2.0])]).await.unwrap();
        cache.get_many(&[a]).await.unwrap();
        cache.put_many(vec![(c, vec![3.0])]).await.unwrap();
        let found = cache.get_many(&[a, b, c]).await.unwrap();
        assert_eq!(found, vec![Some(vec![1.0]), None, Some(vec![3.0])]);
    }
}
