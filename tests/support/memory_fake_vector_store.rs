//! An in-memory vector store behind `VectorStorePort` that checks it never holds mixed vectors.

use std::collections::BTreeMap;
use std::sync::Mutex;

use chitin::memory::embed::{Embedding, EmbeddingSpace, ReembeddedChunk, StoreFuture, VectorStorePort};
use chitin::memory::rank::ChunkId;

#[derive(Default)]
struct Contents {
    texts: BTreeMap<ChunkId, String>,
    vectors: BTreeMap<ChunkId, Embedding>,
    space: Option<EmbeddingSpace>,
}

pub struct FakeVectorStore {
    contents: Mutex<Contents>,
}

impl FakeVectorStore {
    /// `count` chunks, each with a vector of `dims` made by `space`.
    pub fn with_chunks(count: i64, space: Option<EmbeddingSpace>) -> FakeVectorStore {
        let mut contents = Contents::default();
        for id in 1..=count {
            contents.texts.insert(ChunkId(id), format!("chunk number {id}"));
            if let Some(space) = &space {
                contents.vectors.insert(ChunkId(id), vec![0.5; space.dims]);
            }
        }
        contents.space = space;
        FakeVectorStore { contents: Mutex::new(contents) }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Contents> {
        self.contents.lock().expect("fake store lock")
    }

    pub fn space(&self) -> Option<EmbeddingSpace> {
        self.lock().space.clone()
    }

    pub fn vector_lengths(&self) -> Vec<usize> {
        self.lock().vectors.values().map(Vec::len).collect()
    }

    pub fn vector_count(&self) -> usize {
        self.lock().vectors.len()
    }
}

impl VectorStorePort for FakeVectorStore {
    fn clear_vectors(&self) -> StoreFuture<'_, ()> {
        let mut contents = self.lock();
        contents.vectors.clear();
        contents.space = None;
        Box::pin(async { Ok(()) })
    }

    fn count_missing(&self) -> StoreFuture<'_, usize> {
        let contents = self.lock();
        let missing = contents.texts.keys().filter(|id| !contents.vectors.contains_key(id)).count();
        Box::pin(async move { Ok(missing) })
    }

    fn missing_after(&self, after: Option<ChunkId>, limit: usize) -> StoreFuture<'_, Vec<(ChunkId, String)>> {
        let contents = self.lock();
        let page: Vec<(ChunkId, String)> = contents
            .texts
            .iter()
            .filter(|(id, _)| after.is_none_or(|after| **id > after) && !contents.vectors.contains_key(id))
            .take(limit)
            .map(|(id, text)| (*id, text.clone()))
            .collect();
        Box::pin(async move { Ok(page) })
    }

    fn write_vectors(&self, vectors: Vec<ReembeddedChunk>) -> StoreFuture<'_, ()> {
        let mut contents = self.lock();
        contents.vectors.extend(vectors.into_iter().map(|chunk| (chunk.chunk_id, chunk.embedding)));
        let mut lengths: Vec<usize> = contents.vectors.values().map(Vec::len).collect();
        lengths.dedup();
        assert!(lengths.len() <= 1, "store now holds vectors of lengths {lengths:?}");
        Box::pin(async { Ok(()) })
    }

    fn record_space(&self, space: &EmbeddingSpace) -> StoreFuture<'_, ()> {
        let mut contents = self.lock();
        assert!(
            contents.vectors.values().all(|vector| vector.len() == space.dims),
            "recording a space the vectors do not match"
        );
        contents.space = Some(space.clone());
        Box::pin(async { Ok(()) })
    }
}
