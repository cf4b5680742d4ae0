//! Loads the labelled retrieval set under `tests/data/memory/retrieval/`.

use std::collections::HashMap;
use std::path::PathBuf;

use serde::Deserialize;

#[derive(Debug, Deserialize)]
pub struct Document {
    pub id: String,
    pub path: String,
    pub source: String,
    pub updated: String,
    pub text: String,
}

#[derive(Debug, Deserialize)]
pub struct Query {
    pub id: String,
    pub kind: String,
    pub query: String,
    /// Document id → grade (2 answers the query, 1 is related).
    pub relevant: HashMap<String, u8>,
}

fn data_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data/memory")
}

fn read_jsonl<T: for<'de> Deserialize<'de>>(name: &str) -> Vec<T> {
    let path = data_dir().join("retrieval").join(name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|error| panic!("cannot read {}: {error}", path.display()));
    text.lines()
        .filter(|line| !line.trim().is_empty())
        .enumerate()
        .map(|(number, line)| {
            serde_json::from_str(line).unwrap_or_else(|error| panic!("{}:{}: {error}", path.display(), number + 1))
        })
        .collect()
}

pub fn documents() -> Vec<Document> {
    read_jsonl("documents.jsonl")
}

pub fn queries() -> Vec<Query> {
    read_jsonl("queries.jsonl")
}

/// Path of a file under `tests/data/memory/`.
pub fn data_file(name: &str) -> PathBuf {
    data_dir().join(name)
}
