//! Security decisions as rows of the hash-chained audit log: refused capabilities, caught leaks, injection verdicts.
//!
//! Logging a decision is not enough: the owner must be able to see later, in a log that cannot be quietly
//! edited, that something was refused or held back. Every decision carries kinds, names and actions, never the
//! content or a secret value.

use serde_json::{Value, json};
use tracing::warn;

use crate::safety::{Action, ContentSource, LeakFinding, LeakScanner, Severity};
use crate::sandbox::{Refusal, RefusalKind};
use crate::store::{AuditEntry, AuditLog};

/// `action` of a refused sandbox capability.
pub const CAPABILITY_REFUSED: &str = "security.capability_refused";
/// `action` of a credential the leak scanner blocked, redacted or warned about.
pub const LEAK: &str = "security.leak";
/// `action` of an injection verdict that was acted on (anything but allow).
pub const INJECTION: &str = "security.injection";

/// One decision of the safety layer or the sandbox.
#[derive(Debug, Clone, PartialEq)]
pub enum SecurityDecision {
    /// The sandbox refused a tool something its manifest does not grant (or a rate limit, or a leak scan).
    CapabilityRefused { kind: RefusalKind, detail: String, call_id: String },
    /// Credentials found where text was about to go (`source`: tool output, reply, …).
    Leak { source: &'static str, action: &'static str, kinds: Vec<String> },
    /// External content judged to be an injection attempt, and what was done with it.
    Injection { source: ContentSource, severity: Severity, action: Action, score: f32, signals: Vec<&'static str> },
}

impl SecurityDecision {
    /// A leak decision from the scanner's findings: kinds only, deduplicated.
    pub fn leak(source: &'static str, action: &'static str, findings: &[LeakFinding]) -> SecurityDecision {
        let mut kinds: Vec<String> = findings.iter().map(|finding| finding.kind.as_str().to_string()).collect();
        kinds.sort();
        kinds.dedup();
        SecurityDecision::Leak { source, action, kinds }
    }

    fn action_name(&self) -> &'static str {
        match self {
            SecurityDecision::CapabilityRefused { .. } => CAPABILITY_REFUSED,
            SecurityDecision::Leak { .. } => LEAK,
            SecurityDecision::Injection { .. } => INJECTION,
        }
    }

    fn detail(&self, session: &str) -> Value {
        match self {
            SecurityDecision::CapabilityRefused { kind, detail, call_id } => {
                json!({ "kind": kind, "requested": detail, "call_id": call_id, "session": session })
            }
            SecurityDecision::Leak { source, action, kinds } => {
                json!({ "source": source, "action": action, "kinds": kinds, "session": session })
            }
            SecurityDecision::Injection { source, severity, action, score, signals } => json!({
                "source": source,
                "severity": severity.as_str(),
                "action": action.as_str(),
                "score": (f64::from(*score) * 1000.0).round() / 1000.0,
                "signals": signals,
                "session": session,
            }),
        }
    }
}

/// Appends one decision; a failed write is logged, never fatal, because the decision itself already took effect.
pub async fn record(audit: &AuditLog, session: &str, target: &str, decision: &SecurityDecision) {
    let detail = decision.detail(session);
    let entry = AuditEntry { actor: session, action: decision.action_name(), target, detail: &detail };
    if let Err(error) = audit.append(&entry).await {
        warn!(%error, action = decision.action_name(), "could not write the security audit entry");
    }
}

/// Appends every decision in order.
pub async fn record_all(audit: &AuditLog, session: &str, target: &str, decisions: &[SecurityDecision]) {
    for decision in decisions {
        record(audit, session, target, decision).await;
    }
}

/// Appends one row per capability the sandbox refused during a call. What the tool asked for is tool-controlled
/// text (a URL may carry a credential), so it is redacted by `scanner` first.
pub async fn record_refusals(
    audit: &AuditLog,
    scanner: &LeakScanner,
    session: &str,
    tool: &str,
    call_id: &str,
    refusals: &[Refusal],
) {
    for refusal in refusals {
        let decision = SecurityDecision::CapabilityRefused {
            kind: refusal.kind,
            detail: scanner.redact(&refusal.detail),
            call_id: call_id.to_string(),
        };
        record(audit, session, tool, &decision).await;
    }
}
