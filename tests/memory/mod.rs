//! Memory: chunking, embeddings (remote and the local MiniLM model), ranking and retrieval quality.

mod memory_agent;
mod memory_chunking;
mod memory_cli;
mod memory_embed_remote;
mod memory_fetch_model;
mod memory_indexer;
mod memory_input;
mod memory_local_model;
mod memory_quality;
mod memory_ranking;
mod memory_recall;
mod memory_reembed;
mod memory_store_search;
mod memory_vector_index;
