//! Recall of the leak detector on every named kind, false positives on near-misses, stored-secret encodings.

use std::collections::BTreeSet;

use chitin::safety::{LeakConfig, LeakKind, LeakScanner, StoredSecret};
use serde::Deserialize;

use crate::support::safety_corpus::{own_data, read_jsonl};

#[derive(Debug, Deserialize)]
struct LeakSample {
    id: String,
    text: String,
    #[serde(default)]
    stored: Vec<StoredSecret>,
    expected: Vec<Expected>,
    /// The secret sits inside a longer encoded stream, so a finding only has to overlap it.
    #[serde(default)]
    partial: bool,
}

#[derive(Debug, Deserialize)]
struct Expected {
    kind: String,
    secret: String,
}

fn samples() -> Vec<LeakSample> {
    read_jsonl(&own_data("leaks.jsonl"))
}

/// True when some finding of the expected kind covers (or, for `partial`, overlaps) the secret.
fn found(scanner: &LeakScanner, sample: &LeakSample, expected: &Expected) -> bool {
    let start = sample.text.find(&expected.secret).unwrap_or_else(|| panic!("{}: secret not in text", sample.id));
    let end = start + expected.secret.len();
    scanner.scan(&sample.text).iter().any(|finding| {
        let placed = if sample.partial {
            finding.start < end && start < finding.end
        } else {
            finding.start <= start && end <= finding.end
        };
        finding.kind.as_str() == expected.kind && placed
    })
}

#[test]
fn every_named_kind_is_found_in_context() {
    let base = LeakScanner::new(&LeakConfig::default(), &[]).expect("built-in patterns compile");
    let mut kinds_seen = BTreeSet::new();
    let mut missed = Vec::new();
    let mut total = 0;
    for sample in samples().iter().filter(|sample| sample.stored.is_empty() && !sample.expected.is_empty()) {
        for expected in &sample.expected {
            total += 1;
            kinds_seen.insert(expected.kind.clone());
            if !found(&base, sample, expected) {
                missed.push(format!("{} ({}): {:?}", sample.id, expected.kind, base.scan(&sample.text)));
            }
        }
    }
    let recall = 1.0 - missed.len() as f64 / total as f64;
    println!(
        "leak recall on named kinds: {recall:.3} ({} of {total} found, {} kinds)",
        total - missed.len(),
        kinds_seen.len()
    );
    assert!(missed.is_empty(), "missed credentials:\n{}", missed.join("\n"));
    let named: BTreeSet<String> = LeakKind::all()
        .into_iter()
        .filter(|kind| *kind != LeakKind::STORED_SECRET)
        .map(|kind| kind.as_str().to_owned())
        .collect();
    let untested: Vec<_> = named.difference(&kinds_seen).collect();
    assert!(untested.is_empty(), "kinds without corpus samples: {untested:?}");
    assert!(named.len() >= 25, "only {} named kinds", named.len());
}

#[test]
fn near_misses_are_rarely_flagged() {
    let scanner = LeakScanner::new(&LeakConfig::default(), &[]).expect("built-in patterns compile");
    let near_misses: Vec<LeakSample> = samples().into_iter().filter(|sample| sample.expected.is_empty()).collect();
    let flagged: Vec<String> = near_misses
        .iter()
        .filter_map(|sample| {
            let findings = scanner.scan(&sample.text);
            (!findings.is_empty()).then(|| format!("{}: {findings:?}", sample.id))
        })
        .collect();
    let rate = flagged.len() as f64 / near_misses.len() as f64;
    println!("leak false positives on near-misses: {rate:.3} ({} of {})", flagged.len(), near_misses.len());
    assert!(near_misses.len() >= 40, "too few near-misses: {}", near_misses.len());
    assert!(rate <= 0.01, "near-misses flagged:\n{}", flagged.join("\n"));
}

#[test]
fn stored_secrets_are_found_in_every_encoding() {
    let base = LeakScanner::new(&LeakConfig::default(), &[]).expect("built-in patterns compile");
    let mut total = 0;
    let mut missed = Vec::new();
    for sample in samples().iter().filter(|sample| !sample.stored.is_empty()) {
        let scanner = base.with_stored(&sample.stored).expect("stored matcher builds");
        for expected in &sample.expected {
            total += 1;
            if !found(&scanner, sample, expected) {
                missed.push(format!("{}: {:?}", sample.id, scanner.scan(&sample.text)));
            }
        }
        // The same text without the stored secret must not report it: the match comes from the secret.
        assert!(base.scan(&sample.text).iter().all(|finding| finding.kind != LeakKind::STORED_SECRET), "{}", sample.id);
    }
    println!("stored-secret encodings found: {} of {total}", total - missed.len());
    assert!(total >= 50, "too few stored-secret samples: {total}");
    assert!(missed.is_empty(), "missed encodings:\n{}", missed.join("\n"));
}

#[test]
fn redaction_removes_the_secret_and_keeps_the_rest() {
    let scanner = LeakScanner::new(&LeakConfig::default(), &[]).expect("built-in patterns compile");
    for sample in samples().iter().filter(|sample| sample.stored.is_empty() && !sample.expected.is_empty()) {
        let redacted = scanner.redact(&sample.text);
        for expected in &sample.expected {
            assert!(!redacted.contains(&expected.secret), "{}: secret survived redaction", sample.id);
            assert!(redacted.contains(&format!("[REDACTED:{}]", expected.kind)), "{}: {redacted}", sample.id);
        }
    }
}
