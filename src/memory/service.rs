//! The memory API the CLI, the agent's tools and the indexer use: index, forget, search, list.
//!
//! It ties the pieces together: a document is decoded, chunked, embedded (reusing the stored
//! vectors of chunks that did not change) and written in one transaction; a search runs the
//! store's full-text and vector rankings and fuses them with `rank::rank_hybrid`.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use chrono::Utc;
use sha2::{Digest, Sha256};

use super::config::MemoryConfig;
use super::document::{DocumentError, decode_document};
use super::embed::{
    CachedEmbedder, ContentHash, EmbedError, Embedder, Embedding, EmbeddingProvider, EmbeddingSpace, LruEmbeddingCache,
    MiniLmEmbedder, OpenAiEmbedder, ReembedError, ReembedProgress, apply_reembed_decision,
};
use super::rank::{HybridInput, QueryError, RankingConfig, SearchFilter, SearchHit, SearchQuery, rank_hybrid};
use super::workspace::{WorkspacePathError, document_path, workspace_file};
use super::{ChunkingConfig, chunk_markdown};
use crate::store::{self, DocumentSummary, DocumentWrite, NewChunk, NewDocument, StoreError};

/// Why a memory operation failed.
#[derive(Debug, thiserror::Error)]
pub enum MemoryError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Embed(#[from] EmbedError),
    #[error(transparent)]
    Reembed(#[from] ReembedError),
    #[error(transparent)]
    Document(#[from] DocumentError),
    #[error(transparent)]
    Path(#[from] WorkspacePathError),
    #[error("could not read {path}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("the memory indexing queue is full ({queued} of {capacity} files waiting); try again shortly")]
    Overloaded { queued: usize, capacity: usize },
    #[error("could not write {path}")]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// What indexing one document did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IndexOutcome {
    /// Same text and settings as stored: nothing rewritten, nothing embedded.
    Unchanged,
    /// Chunks replaced; `embedded` of them needed new vectors (the rest reused stored ones).
    Indexed { chunks: usize, embedded: usize },
}

/// Builds the configured embedder (with its content-hash cache); `None` for `provider = "none"`.
/// Loading the local model reads ~90 MB, so callers build it once and share it.
pub fn build_embedder(config: &MemoryConfig, data_dir: &Path) -> Result<Option<Arc<dyn Embedder>>, EmbedError> {
    let embedding = &config.embedding;
    let inner: Arc<dyn Embedder> = match embedding.provider {
        EmbeddingProvider::None => return Ok(None),
        EmbeddingProvider::Local => {
            let model_dir = embedding.local.resolve_model_dir(data_dir);
            Arc::new(MiniLmEmbedder::load(&model_dir, &embedding.local, embedding.batch_size)?)
        }
        EmbeddingProvider::OpenAi => Arc::new(OpenAiEmbedder::new(&embedding.openai, embedding.batch_size)?),
    };
    let cache = Arc::new(LruEmbeddingCache::new(embedding.cache_entries));
    Ok(Some(Arc::new(CachedEmbedder::new(inner, cache))))
}

/// Memory over one store. Cheap to clone.
#[derive(Clone)]
pub struct MemoryService {
    store: store::Memory,
    embedder: Option<Arc<dyn Embedder>>,
    chunking: ChunkingConfig,
    ranking: RankingConfig,
    max_file_bytes: usize,
    embed_batch: usize,
    workspace_dir: PathBuf,
    /// How the background vector index catches up (PostgreSQL only).
    ann: store::AnnSettings,
    /// Documents written or removed through this service and its clones: lets a reader cache what it learnt
    /// about the stored documents until this process changes them.
    changes: Arc<AtomicU64>,
}

impl MemoryService {
    pub fn new(
        store: store::Memory,
        embedder: Option<Arc<dyn Embedder>>,
        config: &MemoryConfig,
        workspace_dir: PathBuf,
    ) -> Self {
        Self {
            store,
            embedder,
            chunking: config.chunking.clone(),
            ranking: config.search.clone(),
            max_file_bytes: config.max_file_bytes,
            embed_batch: config.embedding.batch_size.max(1),
            workspace_dir,
            ann: store::AnnSettings { build_memory_mb: config.ann_build_memory_mb, ..store::AnnSettings::default() },
            changes: Arc::new(AtomicU64::new(0)),
        }
    }

    /// How many document writes and removals this service (with its clones) has committed; it moves on every
    /// change made in this process, never for one made by another process on the same database.
    pub fn change_count(&self) -> u64 {
        self.changes.load(Ordering::Acquire)
    }

    fn note_change(&self) {
        self.changes.fetch_add(1, Ordering::AcqRel);
    }

    /// Whether any document is stored besides those at `paths` (e.g. the identity files, which the prompt
    /// already carries in full). One short read of at most `paths.len() + 1` paths.
    pub async fn has_documents_besides(&self, paths: &[&str]) -> Result<bool, MemoryError> {
        let first = self.store.first_document_paths(paths.len() + 1).await?;
        Ok(first.iter().any(|path| !paths.contains(&path.as_str())))
    }

    pub fn workspace_dir(&self) -> &Path {
        &self.workspace_dir
    }

    pub fn store(&self) -> &store::Memory {
        &self.store
    }

    /// Brings stored vectors in line with the configured embedder before anything is indexed or
    /// searched: embeds chunks that lack a vector and, after a model or size change, re-embeds
    /// every chunk (vector search is off until that finishes, so vectors are never mixed).
    pub async fn sync_vectors(
        &self,
        on_progress: &mut (dyn FnMut(ReembedProgress) + Send),
    ) -> Result<ReembedProgress, MemoryError> {
        let stored = self.store.embedding_space().await?;
        let configured = self.embedder.as_deref().map(EmbeddingSpace::of);
        let decision = EmbeddingSpace::decide(stored.as_ref(), configured.as_ref());
        let Some(embedder) = self.embedder.as_deref() else {
            return Ok(ReembedProgress { embedded: 0, total: 0 });
        };
        Ok(apply_reembed_decision(&decision, &self.store, embedder, self.embed_batch, on_progress).await?)
    }

    /// One step of the vector index catch-up on PostgreSQL (a batch of queued chunks, or a rebuild
    /// when many are queued); nothing on SQLite. Chunks are searchable before it runs: it only
    /// moves them from the exactly-scanned queue into the HNSW graph.
    pub async fn absorb_vector_index(&self) -> Result<store::AnnProgress, MemoryError> {
        Ok(self.store.absorb_vector_index(&self.ann).await?)
    }

    /// Indexes the text of the document at `path` (workspace-relative, or absolute for imports).
    pub async fn index_text(&self, path: &str, source: &str, text: &str) -> Result<IndexOutcome, MemoryError> {
        let span = tracing::debug_span!("index_document", path, bytes = text.len());
        let _entered = span.enter();
        let content_hash = self.content_hash(text);
        // Both reads at once: one round trip's wait instead of two.
        let (stored_hash, embedder) = tokio::join!(self.store.document_hash(path), self.vector_embedder());
        let stored_hash = stored_hash?;
        if stored_hash.as_deref() == Some(content_hash.as_str()) {
            return Ok(IndexOutcome::Unchanged);
        }
        let chunks = chunk_markdown(text, &self.chunking);
        // While stored vectors are from another model, new chunks get none: `sync_vectors`
        // embeds them with everything else, so the index never mixes two models.
        let (vectors, hashes, embedded) = match embedder? {
            Some(embedder) => self.embed_chunks(embedder, path, stored_hash.is_some(), &chunks).await?,
            None => (vec![None; chunks.len()], vec![None; chunks.len()], 0),
        };
        let headings: Vec<String> = chunks.iter().map(super::Chunk::headings).collect();
        let new_chunks: Vec<NewChunk<'_>> = chunks
            .iter()
            .zip(&headings)
            .zip(vectors.iter().zip(&hashes))
            .map(|((chunk, headings), (vector, hash))| NewChunk {
                content: &chunk.text,
                headings,
                embedding: vector.as_deref(),
                embedding_hash: hash.as_deref(),
            })
            .collect();
        let document = NewDocument { path, source, content_hash: &content_hash };
        match self.store.upsert_document(&document, &new_chunks).await? {
            DocumentWrite::Unchanged(_) => Ok(IndexOutcome::Unchanged),
            DocumentWrite::Written(_) => {
                self.note_change();
                Ok(IndexOutcome::Indexed { chunks: chunks.len(), embedded })
            }
        }
    }

    /// Reads, checks and indexes one file; binary, invalid UTF-8 and oversized files are refused
    /// with a [`DocumentError`] naming the file.
    pub async fn index_file(&self, file: &Path) -> Result<(String, IndexOutcome), MemoryError> {
        let read_error = |source| MemoryError::Read { path: file.to_path_buf(), source };
        let metadata = tokio::fs::metadata(file).await.map_err(read_error)?;
        let size = usize::try_from(metadata.len()).unwrap_or(usize::MAX);
        if size > self.max_file_bytes {
            // Checked before reading, so a multi-gigabyte file is never loaded.
            return Err(DocumentError::TooLarge { path: file.to_path_buf(), size, limit: self.max_file_bytes }.into());
        }
        let bytes = tokio::fs::read(file).await.map_err(read_error)?;
        let text = decode_document(file, &bytes, self.max_file_bytes)?;
        let (path, source) = document_path(file, &self.workspace_dir).map_err(read_error)?;
        let outcome = self.index_text(&path, source, text).await?;
        Ok((path, outcome))
    }

    /// Writes `text` to the workspace file `relative` (appending when asked) and indexes it: the
    /// agent's `memory_write` and the daily log go through here, like a hand edit would.
    pub async fn write_workspace_file(
        &self,
        relative: &str,
        text: &str,
        append: bool,
        source: &str,
    ) -> Result<IndexOutcome, MemoryError> {
        let file = workspace_file(&self.workspace_dir, relative)?;
        let write_error = |source| MemoryError::Write { path: file.clone(), source };
        if let Some(parent) = file.parent() {
            tokio::fs::create_dir_all(parent).await.map_err(write_error)?;
        }
        let mut content = if append {
            match tokio::fs::read_to_string(&file).await {
                Ok(existing) => existing,
                Err(error) if error.kind() == std::io::ErrorKind::NotFound => String::new(),
                Err(source) => return Err(MemoryError::Read { path: file.clone(), source }),
            }
        } else {
            String::new()
        };
        if !content.is_empty() && !content.ends_with('\n') {
            content.push('\n');
        }
        content.push_str(text);
        if !content.ends_with('\n') {
            content.push('\n');
        }
        tokio::fs::write(&file, &content).await.map_err(write_error)?;
        self.index_text(relative.trim(), source, &content).await
    }

    /// The text of the workspace file `relative`, for the agent's `memory_read`.
    pub async fn read_workspace_file(&self, relative: &str) -> Result<String, MemoryError> {
        let file = workspace_file(&self.workspace_dir, relative)?;
        let bytes = tokio::fs::read(&file).await.map_err(|source| MemoryError::Read { path: file.clone(), source })?;
        Ok(decode_document(&file, &bytes, self.max_file_bytes)?.to_string())
    }

    /// Removes the document at `path` and its chunks; false when it was not stored.
    pub async fn forget(&self, path: &str) -> Result<bool, MemoryError> {
        let removed = self.store.delete_document(path).await?;
        if removed {
            self.note_change();
        }
        Ok(removed)
    }

    pub async fn list(&self) -> Result<Vec<DocumentSummary>, MemoryError> {
        Ok(self.store.list_documents().await?)
    }

    /// Hybrid search: full-text and vector rankings (each `candidates_per_list` deep) fused by
    /// RRF, then recency decay and MMR as configured. An empty or punctuation-only query gives
    /// no hits; an over-long one is cut to `max_query_bytes`.
    pub async fn search(
        &self,
        raw_query: &str,
        limit: usize,
        filter: &SearchFilter,
    ) -> Result<Vec<SearchHit>, MemoryError> {
        let query = match SearchQuery::parse(raw_query, self.ranking.max_query_bytes) {
            Ok(query) => query,
            Err(QueryError::Empty) => return Ok(Vec::new()),
        };
        let depth = self.ranking.candidates_per_list.max(limit);
        let with_vectors = self.ranking.mmr_lambda.is_some();
        // The two rankings are independent: run them at once, each reading the details of its own
        // chunks with it, so a search costs the slower of the two (the database works on the
        // full-text query while the query is embedded and the vectors are searched) instead of
        // their sum plus a details read after both.
        let text = self.store.rank_text_with_details(&query, filter, depth, with_vectors);
        let (text, vector) = tokio::join!(text, self.rank_vector(&query, filter, depth, with_vectors));
        let (text, vector) = (text?, vector?);
        let (fts, mut candidates) = (text.ids, text.details);
        // A chunk in both lists was read twice; either copy will do.
        candidates.extend(vector.details);
        let vector = vector.ids;
        let query_terms = query.terms();
        let input = HybridInput {
            fts: &fts,
            vector: &vector,
            candidates: &candidates,
            query_terms: &query_terms,
            filter,
            now: Utc::now(),
        };
        let ranking = RankingConfig { limit, ..self.ranking.clone() };
        Ok(rank_hybrid(&input, &ranking))
    }

    /// The vector ranking for `query` with its chunks' details; empty without an embedder whose
    /// vectors may be used.
    async fn rank_vector(
        &self,
        query: &SearchQuery,
        filter: &SearchFilter,
        depth: usize,
        with_vectors: bool,
    ) -> Result<store::RankedCandidates, MemoryError> {
        let Some(embedder) = self.embedder.as_deref() else { return Ok(Default::default()) };
        // The query is embedded while the stored space is read, and the vector is dropped when
        // the two do not match: the read is then off the search's path.
        let input = [query.text().to_string()];
        let (stored, query_vector) = tokio::join!(self.store.embedding_space(), embedder.embed(&input));
        if stored?.as_ref() != Some(&EmbeddingSpace::of(embedder)) {
            tracing::warn!("stored vectors are not from the configured embedder yet; searching full text only");
            return Ok(Default::default());
        }
        match query_vector?.first() {
            Some(vector) => Ok(self.store.rank_vector_with_details(vector, filter, depth, with_vectors).await?),
            None => Ok(Default::default()),
        }
    }

    /// The embedder, if its vectors may be used now: the store must record its space (it does
    /// not before the first `sync_vectors` or while a re-embed is pending).
    async fn vector_embedder(&self) -> Result<Option<&dyn Embedder>, MemoryError> {
        let Some(embedder) = self.embedder.as_deref() else { return Ok(None) };
        let stored = self.store.embedding_space().await?;
        Ok((stored.as_ref() == Some(&EmbeddingSpace::of(embedder))).then_some(embedder))
    }

    /// Vectors for `chunks`: stored ones where the embedded text is unchanged, new ones otherwise.
    /// Returns (vectors, their hashes, how many were newly embedded).
    async fn embed_chunks(
        &self,
        embedder: &dyn Embedder,
        path: &str,
        stored: bool,
        chunks: &[super::Chunk],
    ) -> Result<(Vec<Option<Embedding>>, Vec<Option<String>>, usize), MemoryError> {
        let (model, dims) = (embedder.model_id(), embedder.dims());
        let inputs: Vec<String> = chunks.iter().map(super::Chunk::embedding_input).collect();
        let hashes: Vec<String> = inputs.iter().map(|input| ContentHash::of(model, dims, input).to_string()).collect();
        // A document not stored yet has no vectors to reuse: one round trip fewer per new file.
        let mut stored: HashMap<String, Embedding> =
            if stored { self.store.stored_vectors(path).await? } else { HashMap::new() };
        let mut seen = std::collections::HashSet::new();
        let missing: Vec<String> = inputs
            .iter()
            .zip(&hashes)
            .filter(|(_, hash)| !stored.contains_key(*hash) && seen.insert(*hash))
            .map(|(input, _)| input.clone())
            .collect();
        let fresh = if missing.is_empty() { Vec::new() } else { embedder.embed(&missing).await? };
        let embedded = fresh.len();
        let mut fresh = fresh.into_iter();
        let mut vectors = Vec::with_capacity(chunks.len());
        for hash in &hashes {
            let vector = match stored.get(hash) {
                Some(vector) => Some(vector.clone()),
                None => {
                    let vector = fresh.next();
                    if let Some(vector) = &vector {
                        stored.insert(hash.clone(), vector.clone());
                    }
                    vector
                }
            };
            vectors.push(vector);
        }
        Ok((vectors, hashes.into_iter().map(Some).collect(), embedded))
    }

    /// Hash of the text and of every setting that shapes its chunks and vectors, so changing the
    /// chunk size or the model re-indexes documents whose text did not change.
    fn content_hash(&self, text: &str) -> String {
        let mut hasher = Sha256::new();
        let (model, dims) =
            self.embedder.as_deref().map_or(("none", 0), |embedder| (embedder.model_id(), embedder.dims()));
        hasher.update(
            format!("{model}\0{dims}\0{}\0{}\0", self.chunking.target_tokens, self.chunking.overlap_tokens).as_bytes(),
        );
        hasher.update(text.as_bytes());
        hex::encode(hasher.finalize())
    }
}

impl chitin_actors::ports::VectorIndexPort for MemoryService {
    fn absorb_step(
        &self,
    ) -> chitin_actors::ports::BoxFuture<
        'static,
        Result<chitin_actors::ports::VectorIndexProgress, chitin_actors::ports::IndexError>,
    > {
        let memory = self.clone();
        Box::pin(async move {
            let progress = memory
                .absorb_vector_index()
                .await
                .map_err(|error| chitin_actors::ports::IndexError { reason: format!("{error:#}") })?;
            Ok(chitin_actors::ports::VectorIndexProgress {
                absorbed: progress.absorbed,
                pending: progress.pending,
                rebuilt: progress.rebuilt,
                busy: progress.busy,
            })
        })
    }
}
