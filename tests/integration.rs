//! Chitin's integration tests: one binary, one module per topic, shared fakes in `support`.

mod support;

mod architecture;
mod binary;
mod config;
mod llm;
