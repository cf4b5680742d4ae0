//! Errors the safety layer reports to its callers.

use std::io;

/// Everything that can go wrong while configuring or running the safety detectors.
#[derive(Debug, thiserror::Error)]
pub enum SafetyError {
    #[error("input is larger than the safety scan limit of {limit} bytes")]
    InputTooLarge { limit: u64 },
    #[error("input is not valid UTF-8 at byte {offset}")]
    InvalidUtf8 { offset: usize },
    #[error("jsonl line {line} is not valid UTF-8 at byte {offset} of the line")]
    LineInvalidUtf8 { line: u64, offset: usize },
    #[error("jsonl line {line} is larger than the safety scan limit of {limit} bytes")]
    LineTooLarge { line: u64, limit: u64 },
    #[error("jsonl line {line} is not a scan request ({{\"id\", \"text\", \"stored\"?}})")]
    BadLine {
        line: u64,
        #[source]
        source: serde_json::Error,
    },
    #[error("could not read safety scan input")]
    Read {
        #[source]
        source: io::Error,
    },
    #[error("could not write safety scan output")]
    Write {
        #[source]
        source: io::Error,
    },
    #[error("leak pattern {kind} does not compile")]
    PatternCompile {
        kind: &'static str,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    #[error("could not build the {what} literal matcher")]
    LiteralMatcher {
        what: &'static str,
        #[source]
        source: aho_corasick::BuildError,
    },
    #[error("injection signal {name} does not compile")]
    SignalCompile {
        name: &'static str,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    #[error("the built-in leak patterns failed to build: {message}")]
    DefaultPatterns { message: String },
    #[error("safety config names unknown leak kind {kind}")]
    UnknownLeakKind { kind: String },
}
