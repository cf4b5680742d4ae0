//! Loads the labelled safety corpora and turns predictions into precision and recall.

use std::path::PathBuf;

use serde::Deserialize;

/// The public development set, read in place from the shared corpora folder beside the project.
pub fn public_injection_corpus() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/corpora/injection-public.jsonl"))
}

/// A file of the project's own labelled safety data under `tests/data/safety/`.
pub fn own_data(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data/safety").join(name)
}

/// Reads a jsonl file into rows of `T`, failing the test with the line number on a bad row.
pub fn read_jsonl<T: for<'de> Deserialize<'de>>(path: &PathBuf) -> Vec<T> {
    let text = std::fs::read_to_string(path).unwrap_or_else(|error| panic!("cannot read {}: {error}", path.display()));
    text.lines()
        .enumerate()
        .filter(|(_, line)| !line.trim().is_empty())
        .map(|(index, line)| {
            serde_json::from_str(line).unwrap_or_else(|error| panic!("{}:{}: {error}", path.display(), index + 1))
        })
        .collect()
}

/// One labelled injection sample.
#[derive(Debug, Deserialize)]
pub struct InjectionSample {
    pub id: String,
    pub text: String,
    pub label: String,
    pub category: String,
}

/// Confusion counts for a binary detector.
#[derive(Debug, Default, Clone, Copy)]
pub struct Confusion {
    pub true_positives: u32,
    pub false_positives: u32,
    pub true_negatives: u32,
    pub false_negatives: u32,
}

impl Confusion {
    pub fn record(&mut self, actual: bool, predicted: bool) {
        match (actual, predicted) {
            (true, true) => self.true_positives += 1,
            (false, true) => self.false_positives += 1,
            (false, false) => self.true_negatives += 1,
            (true, false) => self.false_negatives += 1,
        }
    }

    pub fn precision(&self) -> f64 {
        ratio(self.true_positives, self.true_positives + self.false_positives)
    }

    pub fn recall(&self) -> f64 {
        ratio(self.true_positives, self.true_positives + self.false_negatives)
    }

    pub fn false_positive_rate(&self) -> f64 {
        ratio(self.false_positives, self.false_positives + self.true_negatives)
    }
}

/// `part / whole`, and 1.0 for an empty whole (nothing to get wrong).
fn ratio(part: u32, whole: u32) -> f64 {
    if whole == 0 { 1.0 } else { f64::from(part) / f64::from(whole) }
}
