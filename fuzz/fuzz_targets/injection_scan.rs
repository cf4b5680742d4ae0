//! Fuzzes the injection detector, sanitizer and envelope: no panic, a score in 0..=1, no early envelope close.
#![no_main]

use chitin::safety::{ContentSource, InjectionDetector, sanitize, wrap_tool_output};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let Ok(detector) = InjectionDetector::shared_default() else { return };
    let verdict = detector.assess(text, ContentSource::ToolOutput);
    assert!((0.0..=1.0).contains(&verdict.score));
    let cleaned = sanitize(text);
    assert!(!cleaned.contains("<|im_start|>"));
    let wrapped = wrap_tool_output("fuzz", text);
    assert_eq!(wrapped.matches("</tool-output>").count(), 1);
});
