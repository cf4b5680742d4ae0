//! The `[memory]` config section, gathering the chunking, embedding and ranking settings.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::chunk::ChunkingConfig;
use super::embed::{EmbedError, EmbeddingConfig};
use super::rank::RankingConfig;

/// `[memory]`: where the workspace is and how documents are cut, embedded and searched.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct MemoryConfig {
    /// Folder of Markdown/text files mirrored into memory; unset means `<data_dir>/workspace`.
    pub workspace_dir: Option<PathBuf>,
    /// `[memory.chunking]`: chunk size and overlap.
    pub chunking: ChunkingConfig,
    /// `[memory.embedding]`: which embedder, batching, cache size.
    pub embedding: EmbeddingConfig,
    /// `[memory.search]`: fusion, recency, diversity, limits.
    pub search: RankingConfig,
    /// Largest file the indexer reads, in bytes; 1 MiB is far above any note and keeps a stray
    /// log dump from flooding the index. Larger files are skipped with a warning.
    pub max_file_bytes: usize,
    /// Prompt tokens the memories retrieved before each turn may take. 600 fits three or four
    /// 200-token chunks: enough to recall the relevant facts, small next to the conversation.
    pub prompt_tokens: usize,
    /// Files the background indexer may have waiting; beyond it, enqueueing answers
    /// `Overloaded` and the watcher retries on its next scan.
    pub queue_capacity: usize,
    /// PostgreSQL only: maintenance memory (MiB) of a rebuild of the vector index. The HNSW graph
    /// must fit in it or the build runs about 3x slower; it takes ~1.1 KB per chunk, so 256 MiB
    /// covers ~230k chunks. Only a rebuild holds it, and only while it builds.
    pub ann_build_memory_mb: u32,
}

impl Default for MemoryConfig {
    fn default() -> Self {
        Self {
            workspace_dir: None,
            chunking: ChunkingConfig::default(),
            embedding: EmbeddingConfig::default(),
            search: RankingConfig::default(),
            max_file_bytes: 1024 * 1024,
            prompt_tokens: 600,
            queue_capacity: 10_000,
            ann_build_memory_mb: 256,
        }
    }
}

/// A `[memory]` value that parses but cannot work.
#[derive(Debug, thiserror::Error)]
pub enum MemoryConfigError {
    #[error("memory.chunking.target_tokens must be at least 16, got {0}")]
    TargetTooSmall(usize),
    #[error("memory.chunking.overlap_tokens ({overlap}) must be less than half of target_tokens ({target})")]
    OverlapTooLarge { overlap: usize, target: usize },
    #[error("memory.search.{key} is {value}, expected {expected}")]
    OutOfRange { key: &'static str, value: f64, expected: &'static str },
    #[error("memory.ann_build_memory_mb is {0}, expected 16 to 65536 (MiB)")]
    AnnBuildMemory(u32),
    #[error(transparent)]
    Embedding(#[from] EmbedError),
}

impl MemoryConfig {
    /// The workspace folder: `memory.workspace_dir`, else `<data_dir>/workspace`.
    pub fn resolve_workspace_dir(&self, data_dir: &Path) -> PathBuf {
        self.workspace_dir.clone().unwrap_or_else(|| data_dir.join("workspace"))
    }

    /// Checks what serde cannot; call once after loading the config.
    pub fn validate(&self) -> Result<(), MemoryConfigError> {
        let chunking = &self.chunking;
        if chunking.target_tokens < 16 {
            return Err(MemoryConfigError::TargetTooSmall(chunking.target_tokens));
        }
        if chunking.overlap_tokens * 2 >= chunking.target_tokens {
            return Err(MemoryConfigError::OverlapTooLarge {
                overlap: chunking.overlap_tokens,
                target: chunking.target_tokens,
            });
        }
        let search = &self.search;
        let out_of_range = |key, value, expected| Err(MemoryConfigError::OutOfRange { key, value, expected });
        if !(search.rrf_k.is_finite() && search.rrf_k > 0.0) {
            return out_of_range("rrf_k", search.rrf_k, "a positive number");
        }
        for (key, weight) in [("fts_weight", search.fts_weight), ("vector_weight", search.vector_weight)] {
            if !(weight.is_finite() && weight >= 0.0) {
                return out_of_range(key, weight, "zero or a positive number");
            }
        }
        if let Some(days) = search.recency_half_life_days
            && !(days.is_finite() && days > 0.0)
        {
            return out_of_range("recency_half_life_days", days, "a positive number of days");
        }
        if !(0.0..=1.0).contains(&search.recency_floor) {
            return out_of_range("recency_floor", search.recency_floor, "between 0 and 1");
        }
        if let Some(lambda) = search.mmr_lambda
            && !(0.0..=1.0).contains(&lambda)
        {
            return out_of_range("mmr_lambda", lambda, "between 0 and 1");
        }
        if !(16..=65_536).contains(&self.ann_build_memory_mb) {
            return Err(MemoryConfigError::AnnBuildMemory(self.ann_build_memory_mb));
        }
        self.embedding.validate()?;
        Ok(())
    }
}
