//! Safety detectors: measured quality on labelled corpora, the scan output format, bad input, and what callers do with a verdict.

mod actions;
mod injection_quality;
mod leak_quality;
mod scan_jsonl;
