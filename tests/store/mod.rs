//! Storage: the conformance suite (both backends), encryption at rest, and fault handling.

mod conformance;
mod disk;
mod encryption;
mod faults;
mod rotation;
mod wal;
