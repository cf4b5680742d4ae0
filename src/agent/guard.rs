//! The safety layer on the agent's paths: tool output before the model sees it, replies before a channel sends them.

use tracing::warn;

use crate::safety::{
    Action, ContentSource, InjectionDetector, LeakContext, LeakDecision, LeakScanner, SafetyError, StoredSecret,
    sanitize, wrap_tool_output,
};

/// Detectors built once and shared by every turn.
pub struct OutputGuard {
    leaks: LeakScanner,
    injection: InjectionDetector,
}

impl OutputGuard {
    /// `stored` are the user's secrets: any of them (or an encoding of it) in output is caught exactly.
    pub fn new(stored: &[StoredSecret]) -> Result<Self, SafetyError> {
        Ok(Self {
            leaks: LeakScanner::shared_default()?.with_stored(stored)?,
            injection: InjectionDetector::shared_default()?,
        })
    }

    /// Credentials redacted, injection handled per policy, then wrapped as data.
    pub fn tool_output(&self, tool: &str, output: &str) -> String {
        let output = match self.leaks.enforce(output, LeakContext::ToolOutput) {
            LeakDecision::Clean | LeakDecision::Warned { .. } => output.to_string(),
            LeakDecision::Redacted { text, .. } => text,
            LeakDecision::Blocked { findings } => {
                format!("[output withheld: it contained {} credential(s)]", findings.len())
            }
        };
        let verdict = self.injection.assess(&output, ContentSource::ToolOutput);
        let output = match verdict.action {
            Action::Allow => output,
            Action::Warn | Action::Review => {
                warn!(%tool, score = verdict.score, severity = ?verdict.severity, "tool output looks like an injection attempt");
                output
            }
            Action::Sanitize => sanitize(&output),
            Action::Block => {
                warn!(%tool, score = verdict.score, severity = ?verdict.severity, "tool output blocked as an injection attempt");
                format!(
                    "[output withheld: it tried to give instructions to the assistant (severity {:?})]",
                    verdict.severity
                )
            }
        };
        wrap_tool_output(tool, &output)
    }

    /// Text for logs and the audit trail: every credential replaced, whatever the reply policy says.
    pub fn redact(&self, text: &str) -> String {
        self.leaks.redact(text)
    }

    /// A reply with any credential redacted or, when policy says so, withheld.
    pub fn reply(&self, text: &str) -> String {
        match self.leaks.enforce(text, LeakContext::Reply) {
            LeakDecision::Clean | LeakDecision::Warned { .. } => text.to_string(),
            LeakDecision::Redacted { text, .. } => text,
            LeakDecision::Blocked { .. } => "[reply withheld: it contained a credential]".to_string(),
        }
    }
}
