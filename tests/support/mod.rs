//! Shared test support: the real `chitin` binary in a private sandbox of directories and environment.

pub mod chitin;
pub mod fake_anthropic;
pub mod fake_llm;
pub mod fake_openai;
pub mod process;
