//! The `[safety]` config section: leak actions per context, injection policy per source, input limits.

use serde::Deserialize;

use super::injection::{Action, ContentSource, Severity};
use super::leak::{LeakAction, LeakContext};

/// `[safety]`: how the leak and injection detectors behave.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SafetyConfig {
    /// Credential scanning of tool traffic, tool output and replies.
    pub leak: LeakConfig,
    /// Prompt-injection scoring of external content.
    pub injection: InjectionConfig,
    /// Largest input `chitin safety scan` accepts (stdin, or one jsonl line); bigger inputs are refused with
    /// an error instead of being scanned, so a runaway pipe cannot stall the process.
    pub max_input_bytes: u64,
}

impl Default for SafetyConfig {
    fn default() -> Self {
        Self { leak: LeakConfig::default(), injection: InjectionConfig::default(), max_input_bytes: 16 << 20 }
    }
}

/// `[safety.leak]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LeakConfig {
    /// What to do per context when a credential is found.
    pub actions: LeakActions,
    /// Built-in kinds to switch off (e.g. `["jwt"]` for a deployment that passes JWTs on purpose).
    pub disabled_kinds: Vec<String>,
    /// Stored secrets shorter than this are not matched: a 3-byte value would match ordinary words.
    pub min_stored_secret_len: usize,
    /// Stop collecting findings after this many, bounding output and time on hostile input.
    pub max_findings: usize,
}

impl Default for LeakConfig {
    fn default() -> Self {
        Self {
            actions: LeakActions::default(),
            disabled_kinds: Vec::new(),
            min_stored_secret_len: 6,
            max_findings: 10_000,
        }
    }
}

/// `[safety.leak.actions]`: one action per place text is about to go.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LeakActions {
    /// A tool's outbound request: blocked, because a redacted request would still reach the remote host.
    pub tool_request: LeakAction,
    /// A response on its way into a tool: redacted, so the tool keeps working without the credential.
    pub tool_response: LeakAction,
    /// Tool output on its way to the model: redacted, so the model never sees the credential.
    pub tool_output: LeakAction,
    /// A reply on its way to a channel: redacted, so the rest of the answer still arrives.
    pub reply: LeakAction,
}

impl Default for LeakActions {
    fn default() -> Self {
        Self {
            tool_request: LeakAction::Block,
            tool_response: LeakAction::Redact,
            tool_output: LeakAction::Redact,
            reply: LeakAction::Redact,
        }
    }
}

impl LeakActions {
    pub fn for_context(&self, context: LeakContext) -> LeakAction {
        match context {
            LeakContext::ToolRequest => self.tool_request,
            LeakContext::ToolResponse => self.tool_response,
            LeakContext::ToolOutput => self.tool_output,
            LeakContext::Reply => self.reply,
        }
    }
}

/// `[safety.injection]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct InjectionConfig {
    /// Score from which content counts as an injection (`detected`); 0.5 balances the labelled corpora.
    pub threshold: f32,
    /// Decode base64 runs embedded in the content and score the decoded text too.
    pub decode_base64: bool,
    /// Action per source and severity; sources left out keep their defaults.
    pub policy: InjectionPolicy,
}

impl Default for InjectionConfig {
    fn default() -> Self {
        Self { threshold: 0.5, decode_base64: true, policy: InjectionPolicy::default() }
    }
}

/// `[safety.injection.policy]`: one row of actions per content source.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct InjectionPolicy {
    /// Fetched web pages: sanitized, and blocked only when the attack is unmistakable.
    pub web_page: SeverityActions,
    /// Results of tools (WASM, MCP, built-in): sanitized; strong attacks go to the owner for review.
    pub tool_output: SeverityActions,
    /// Messages from people other than the owner: reviewed early, since they address the agent directly.
    pub non_owner_message: SeverityActions,
    /// Documents from outside that are about to enter memory: blocked early, since memory is replayed later.
    pub external_memory: SeverityActions,
}

impl Default for InjectionPolicy {
    fn default() -> Self {
        use Action::{Allow, Block, Review, Sanitize, Warn};
        Self {
            web_page: SeverityActions { low: Allow, medium: Sanitize, high: Sanitize, critical: Block },
            tool_output: SeverityActions { low: Allow, medium: Sanitize, high: Review, critical: Block },
            non_owner_message: SeverityActions { low: Warn, medium: Review, high: Block, critical: Block },
            external_memory: SeverityActions { low: Allow, medium: Sanitize, high: Block, critical: Block },
        }
    }
}

impl InjectionPolicy {
    /// The action for content from `source` judged at `severity`; content with no signals is always allowed.
    pub fn action(&self, source: ContentSource, severity: Severity) -> Action {
        let row = match source {
            ContentSource::WebPage => &self.web_page,
            ContentSource::ToolOutput => &self.tool_output,
            ContentSource::NonOwnerMessage => &self.non_owner_message,
            ContentSource::ExternalMemory => &self.external_memory,
        };
        match severity {
            Severity::None => Action::Allow,
            Severity::Low => row.low,
            Severity::Medium => row.medium,
            Severity::High => row.high,
            Severity::Critical => row.critical,
        }
    }
}

/// Actions for one source, by severity (`none` is always `allow`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeverityActions {
    /// Weak signals below the detection threshold.
    pub low: Action,
    /// Detected, from one or two moderate signals.
    pub medium: Action,
    /// Detected, with strong signals.
    pub high: Action,
    /// Unmistakable: several strong signals, or chat-template tokens.
    pub critical: Action,
}

impl Default for SeverityActions {
    fn default() -> Self {
        Self { low: Action::Allow, medium: Action::Sanitize, high: Action::Review, critical: Action::Block }
    }
}
