//! Memory building blocks: chunking, embedding and hybrid ranking of the user's documents.
//!
//! Storage (documents, chunks, full-text and vector indexes) lives in the store; this module
//! produces what goes in (chunks, vectors) and orders what comes out (ranked hits).

pub mod chunk;
pub mod config;
pub mod document;
pub mod embed;
pub mod queue;
pub mod rank;
pub mod service;
pub mod tokens;
pub mod watcher;
pub mod workspace;

pub use chunk::{Chunk, ChunkingConfig, chunk_markdown, embedding_input};
pub use config::{MemoryConfig, MemoryConfigError};
pub use document::{DocumentError, decode_document};
pub use embed::ApiKey;
pub use service::{IndexOutcome, MemoryError, MemoryService, build_embedder};
