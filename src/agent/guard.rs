//! The safety layer on the agent's paths: tool output before the model sees it, replies before a channel sends them.

use tracing::warn;

use crate::safety::{
    Action, ContentSource, InjectionDetector, LeakContext, LeakDecision, LeakScanner, SafetyError, StoredSecret,
    sanitize, wrap_tool_output,
};
use crate::security_audit::SecurityDecision;

/// Detectors built once and shared by every turn. The injection detector is the process-wide one, built by the
/// first tool output: replies need only the leak scanner, and the compiled signals hold about 4 MB, which an
/// install whose turns call no tools would otherwise carry for nothing.
pub struct OutputGuard {
    leaks: LeakScanner,
}

impl OutputGuard {
    /// `stored` are the user's secrets: any of them (or an encoding of it) in output is caught exactly.
    pub fn new(stored: &[StoredSecret]) -> Result<Self, SafetyError> {
        Ok(Self { leaks: LeakScanner::shared_default()?.with_stored(stored)? })
    }

    /// Credentials redacted, injection handled per policy, then wrapped as data; with the decisions taken, for
    /// the audit log. Output under `review` is held: the model sees a placeholder until the owner answers.
    pub fn tool_output(&self, tool: &str, output: &str) -> GuardedOutput {
        let mut decisions = Vec::new();
        let output = match self.leaks.enforce(output, LeakContext::ToolOutput) {
            LeakDecision::Clean => output.to_string(),
            LeakDecision::Warned { findings } => {
                decisions.push(SecurityDecision::leak("tool_output", "warn", &findings));
                output.to_string()
            }
            LeakDecision::Redacted { text, findings } => {
                decisions.push(SecurityDecision::leak("tool_output", "redact", &findings));
                text
            }
            LeakDecision::Blocked { findings } => {
                decisions.push(SecurityDecision::leak("tool_output", "block", &findings));
                format!("[output withheld: it contained {} credential(s)]", findings.len())
            }
        };
        let injection = match InjectionDetector::shared_default() {
            Ok(injection) => injection,
            // Only a broken build of the built-in signals gets here; output nobody could check is not passed on.
            Err(error) => {
                tracing::error!(%tool, %error, "tool output withheld: the injection detector could not be built");
                let content = "[output withheld: the injection detector could not be built]";
                return GuardedOutput { content: wrap_tool_output(tool, content), decisions, held: None };
            }
        };
        let verdict = injection.assess(&output, ContentSource::ToolOutput);
        if verdict.action != Action::Allow {
            decisions.push(SecurityDecision::Injection {
                source: ContentSource::ToolOutput,
                severity: verdict.severity,
                action: verdict.action,
                score: verdict.score,
                signals: verdict.signals.clone(),
            });
        }
        let mut held = None;
        let output = match verdict.action {
            Action::Allow => output,
            Action::Warn => {
                warn!(%tool, score = verdict.score, severity = ?verdict.severity, "tool output looks like an injection attempt");
                output
            }
            Action::Review => {
                warn!(%tool, score = verdict.score, severity = ?verdict.severity, "tool output held for the owner's review");
                held = Some(wrap_tool_output(tool, &sanitize(&output)));
                format!(
                    "[output held: it may contain instructions for the assistant; the owner is asked whether to use it (severity {:?})]",
                    verdict.severity
                )
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
        GuardedOutput { content: wrap_tool_output(tool, &output), decisions, held }
    }

    /// Text for logs and the audit trail: every credential replaced, whatever the reply policy says.
    pub fn redact(&self, text: &str) -> String {
        self.leaks.redact(text)
    }

    /// A reply with any credential redacted or, when policy says so, withheld; with the decision, for the audit log.
    pub fn reply(&self, text: &str) -> (String, Option<SecurityDecision>) {
        match self.leaks.enforce(text, LeakContext::Reply) {
            LeakDecision::Clean => (text.to_string(), None),
            LeakDecision::Warned { findings } => {
                (text.to_string(), Some(SecurityDecision::leak("reply", "warn", &findings)))
            }
            LeakDecision::Redacted { text, findings } => {
                (text, Some(SecurityDecision::leak("reply", "redact", &findings)))
            }
            LeakDecision::Blocked { findings } => (
                "[reply withheld: it contained a credential]".to_string(),
                Some(SecurityDecision::leak("reply", "block", &findings)),
            ),
        }
    }
}

/// Tool output as the model will see it, plus what the safety layer decided on the way.
#[derive(Debug, Clone)]
pub struct GuardedOutput {
    /// Wrapped as data; a placeholder when the output is held or withheld.
    pub content: String,
    pub decisions: Vec<SecurityDecision>,
    /// The (sanitized, wrapped) output awaiting the owner's review, released only on a yes.
    pub held: Option<String>,
}
