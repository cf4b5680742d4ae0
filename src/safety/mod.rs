//! Safety layer: credential leak detection, prompt-injection scoring, and the envelope around tool output.

mod compiled_patterns;
mod config;
mod envelope;
mod error;
mod injection;
mod leak;
mod report;

pub use self::config::{InjectionConfig, InjectionPolicy, LeakActions, LeakConfig, SafetyConfig, SeverityActions};
pub use self::envelope::{sanitize, wrap_tool_output};
pub use self::error::SafetyError;
pub use self::injection::{Action, ContentSource, InjectionDetector, InjectionVerdict, Severity};
pub use self::leak::{LeakAction, LeakContext, LeakDecision, LeakFinding, LeakKind, LeakScanner, StoredSecret};
pub use self::report::{InjectionReport, ScanReport, ScanStats, scan_jsonl, scan_reader, scan_text, scan_with};
