//! Shared test support: the real `chitin` binary in a private sandbox of directories and environment.

pub mod process;
