//! Fuzzes the leak scanner: no panic, findings on char boundaries and in order, redaction removes every span.
#![no_main]

use chitin::safety::{LeakScanner, StoredSecret};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let Ok(base) = LeakScanner::shared_default() else { return };
    // The start of the first line doubles as a stored secret, so encoded-form matching is exercised too
    // (capped: real secrets are short, and a 64 KiB "secret" would only measure automaton building).
    let secret: String = text.lines().next().unwrap_or_default().chars().take(64).collect();
    let stored = [StoredSecret { name: "fuzz".into(), value: secret }];
    let Ok(scanner) = base.with_stored(&stored) else { return };
    let findings = scanner.scan(text);
    let mut previous_end = 0;
    for finding in &findings {
        assert!(finding.start < finding.end && finding.end <= text.len());
        assert!(text.is_char_boundary(finding.start) && text.is_char_boundary(finding.end));
        assert!(finding.start >= previous_end, "findings overlap");
        previous_end = finding.end;
    }
    let redacted = scanner.redact(text);
    assert_eq!(findings.is_empty(), redacted == text);
});
