//! Actor shells of the tree in design §2; each calls its service through a port.

pub mod job_worker;
pub mod memory_indexer;
pub mod memory_vector_indexer;
pub mod repairer;
pub mod sandbox_pool;
pub mod scheduler;
pub mod session;
pub mod session_router;

#[cfg(test)]
mod tests;
