//! Finds credentials in text before it leaves Chitin or reaches the model, and blocks, redacts or warns.

mod pattern_set;
mod patterns;
mod plausibility;
mod stored;

use std::fmt;
use std::sync::{Arc, OnceLock};

use serde::{Deserialize, Serialize, Serializer};

use self::pattern_set::PatternSet;
use self::patterns::Specificity;
use self::stored::StoredMatcher;
pub use self::stored::StoredSecret;
use crate::safety::config::LeakConfig;
use crate::safety::error::SafetyError;

/// Stable snake_case name of a credential kind (`github_token`, `stored_secret`), as reported in scan output.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct LeakKind(&'static str);

impl LeakKind {
    /// An exact match of one of the owner's stored secrets, in any supported encoding.
    pub const STORED_SECRET: LeakKind = LeakKind("stored_secret");

    pub fn as_str(self) -> &'static str {
        self.0
    }

    /// Every kind the built-in patterns can report, plus `stored_secret`.
    pub fn all() -> Vec<LeakKind> {
        let mut kinds: Vec<LeakKind> =
            patterns::PATTERNS.iter().map(|spec| LeakKind(spec.kind)).chain([LeakKind::STORED_SECRET]).collect();
        kinds.sort_unstable();
        kinds.dedup();
        kinds
    }
}

impl fmt::Display for LeakKind {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(self.0)
    }
}

impl Serialize for LeakKind {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.0)
    }
}

/// One credential found in a text; `start..end` are byte offsets into the text as given.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LeakFinding {
    pub kind: LeakKind,
    pub start: usize,
    pub end: usize,
    /// For `stored_secret`, the name of the secret that matched (never its value).
    #[serde(skip)]
    pub secret_name: Option<String>,
    #[serde(skip)]
    specificity: Specificity,
}

impl LeakFinding {
    fn pattern(kind: &'static str, start: usize, end: usize, specificity: Specificity) -> Self {
        Self { kind: LeakKind(kind), start, end, secret_name: None, specificity }
    }
}

/// Where text is about to go; each place has its own action.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LeakContext {
    /// A WASM tool's outbound HTTP request (URL, headers, body), before secrets are injected.
    ToolRequest,
    /// The HTTP response a WASM tool is about to receive.
    ToolResponse,
    /// A tool's result, before the model sees it.
    ToolOutput,
    /// A reply, before a channel sends it.
    Reply,
}

/// What to do with text that contains credentials.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LeakAction {
    /// Refuse to pass the text on.
    Block,
    /// Replace each credential with `[REDACTED:kind]` and pass the rest on.
    Redact,
    /// Pass the text on unchanged and log the kinds found.
    Warn,
}

/// The outcome of [`LeakScanner::enforce`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LeakDecision {
    /// No credential: pass the text on as it is.
    Clean,
    /// Credentials found and logged (kinds only); pass the text on as it is.
    Warned { findings: Vec<LeakFinding> },
    /// Pass `text` on instead of the original; the findings refer to the original.
    Redacted { text: String, findings: Vec<LeakFinding> },
    /// Do not pass the text on.
    Blocked { findings: Vec<LeakFinding> },
}

/// Credential scanner: the built-in patterns (compiled once per process) plus the owner's stored secrets.
#[derive(Clone)]
pub struct LeakScanner {
    patterns: Arc<PatternSet>,
    stored: Option<Arc<StoredMatcher>>,
    config: Arc<LeakConfig>,
}

impl fmt::Debug for LeakScanner {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter
            .debug_struct("LeakScanner")
            .field("stored_secrets", &self.stored.as_ref().map(|stored| stored.secret_count()))
            .finish()
    }
}

impl LeakScanner {
    /// Compiles the enabled patterns and the matcher for `stored`.
    pub fn new(config: &LeakConfig, stored: &[StoredSecret]) -> Result<Self, SafetyError> {
        let patterns = Arc::new(PatternSet::compile(&config.disabled_kinds)?);
        let stored = StoredMatcher::build(stored, config.min_stored_secret_len)?.map(Arc::new);
        Ok(Self { patterns, stored, config: Arc::new(config.clone()) })
    }

    /// The same patterns with a different set of stored secrets; cheap, as nothing is recompiled.
    pub fn with_stored(&self, stored: &[StoredSecret]) -> Result<Self, SafetyError> {
        let stored = StoredMatcher::build(stored, self.config.min_stored_secret_len)?.map(Arc::new);
        Ok(Self { patterns: Arc::clone(&self.patterns), stored, config: Arc::clone(&self.config) })
    }

    /// A scanner with the default config and no stored secrets, shared by the whole process.
    pub fn shared_default() -> Result<Self, SafetyError> {
        static DEFAULT: OnceLock<Result<LeakScanner, String>> = OnceLock::new();
        DEFAULT
            .get_or_init(|| LeakScanner::new(&LeakConfig::default(), &[]).map_err(|error| error.to_string()))
            .clone()
            .map_err(|message| SafetyError::DefaultPatterns { message })
    }

    /// Every credential in `text`, sorted by position, overlaps resolved in favour of the more specific kind.
    pub fn scan(&self, text: &str) -> Vec<LeakFinding> {
        let mut findings = Vec::new();
        if let Some(stored) = &self.stored {
            stored.find_into(text, &mut findings, self.config.max_findings);
        }
        self.patterns.find_into(text, &mut findings, self.config.max_findings);
        resolve_overlaps(findings)
    }

    /// `text` with every credential replaced by `[REDACTED:kind]`.
    pub fn redact(&self, text: &str) -> String {
        redact_findings(text, &self.scan(text))
    }

    /// Scans `text` and applies the action configured for `context`.
    pub fn enforce(&self, text: &str, context: LeakContext) -> LeakDecision {
        let findings = self.scan(text);
        if findings.is_empty() {
            return LeakDecision::Clean;
        }
        let action = self.config.actions.for_context(context);
        let kinds: Vec<&str> = findings.iter().map(|finding| finding.kind.as_str()).collect();
        tracing::warn!(?context, ?action, count = findings.len(), ?kinds, "credential found in text");
        match action {
            LeakAction::Block => LeakDecision::Blocked { findings },
            LeakAction::Redact => LeakDecision::Redacted { text: redact_findings(text, &findings), findings },
            LeakAction::Warn => LeakDecision::Warned { findings },
        }
    }
}

/// Keeps one finding per overlapping group: the most specific kind, then the longest span.
fn resolve_overlaps(mut findings: Vec<LeakFinding>) -> Vec<LeakFinding> {
    findings.sort_by(|left, right| left.start.cmp(&right.start).then(right.end.cmp(&left.end)));
    let mut kept: Vec<LeakFinding> = Vec::with_capacity(findings.len());
    for finding in findings {
        match kept.last_mut() {
            Some(last) if finding.start < last.end => {
                let better =
                    (finding.specificity, finding.end - finding.start) > (last.specificity, last.end - last.start);
                if better {
                    *last = finding;
                }
            }
            _ => kept.push(finding),
        }
    }
    kept
}

fn redact_findings(text: &str, findings: &[LeakFinding]) -> String {
    let mut out = String::with_capacity(text.len());
    let mut cursor = 0;
    for finding in findings {
        if finding.start < cursor {
            continue;
        }
        out.push_str(&text[cursor..finding.start]);
        out.push_str("[REDACTED:");
        out.push_str(finding.kind.as_str());
        out.push(']');
        cursor = finding.end;
    }
    out.push_str(&text[cursor..]);
    out
}
