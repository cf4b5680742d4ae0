//! Compiles the credential table into one literal prefilter plus anchored regexes, and finds matches with it.

use aho_corasick::{AhoCorasick, AhoCorasickBuilder, MatchKind};
use regex::{Regex, RegexBuilder};

use super::LeakFinding;
use super::patterns::{PATTERNS, PatternSpec, Start};
use super::plausibility::is_plausible;
use crate::safety::error::SafetyError;

/// Compiled regex size cap; the built-in patterns need a fraction of it.
const REGEX_SIZE_LIMIT: usize = 4 << 20;

struct CompiledPattern {
    spec: &'static PatternSpec,
    regex: Regex,
    /// Capture index of the `secret` group, if the pattern has one.
    secret_group: Option<usize>,
}

/// The enabled credential patterns, built once and shared by every scanner.
pub(crate) struct PatternSet {
    prefilter: AhoCorasick,
    /// For each prefilter literal, the patterns that start from it.
    literal_patterns: Vec<Vec<usize>>,
    patterns: Vec<CompiledPattern>,
}

impl PatternSet {
    /// Compiles every built-in pattern whose kind is not in `disabled_kinds`.
    pub(crate) fn compile(disabled_kinds: &[String]) -> Result<Self, SafetyError> {
        for kind in disabled_kinds {
            if !PATTERNS.iter().any(|spec| spec.kind == kind) {
                return Err(SafetyError::UnknownLeakKind { kind: kind.clone() });
            }
        }
        let mut literals: Vec<&'static str> = Vec::new();
        let mut literal_patterns: Vec<Vec<usize>> = Vec::new();
        let mut patterns = Vec::new();
        for spec in PATTERNS.iter().filter(|spec| !disabled_kinds.iter().any(|kind| kind == spec.kind)) {
            let regex = RegexBuilder::new(&format!("^(?:{})", spec.regex))
                .size_limit(REGEX_SIZE_LIMIT)
                .build()
                .map_err(|source| SafetyError::PatternCompile { kind: spec.kind, source: Box::new(source) })?;
            let secret_group = regex.capture_names().position(|name| name == Some("secret"));
            let index = patterns.len();
            patterns.push(CompiledPattern { spec, regex, secret_group });
            for literal in spec.literals {
                match literals.iter().position(|known| known == literal) {
                    Some(slot) => literal_patterns[slot].push(index),
                    None => {
                        literals.push(literal);
                        literal_patterns.push(vec![index]);
                    }
                }
            }
        }
        let prefilter = AhoCorasickBuilder::new()
            .match_kind(MatchKind::Standard)
            .build(&literals)
            .map_err(|source| SafetyError::LiteralMatcher { what: "credential prefix", source })?;
        Ok(Self { prefilter, literal_patterns, patterns })
    }

    /// Appends every plausible credential in `text` to `findings`, at most `max_findings` in total.
    pub(crate) fn find_into(&self, text: &str, findings: &mut Vec<LeakFinding>, max_findings: usize) {
        let bytes = text.as_bytes();
        // End of the last accepted match per pattern: hits inside it are the same credential again.
        let mut covered_until = vec![0usize; self.patterns.len()];
        for hit in self.prefilter.find_overlapping_iter(text) {
            for &index in &self.literal_patterns[hit.pattern().as_usize()] {
                if findings.len() >= max_findings {
                    return;
                }
                if hit.start() < covered_until[index] {
                    continue;
                }
                let pattern = &self.patterns[index];
                let Some(start) = match_start(bytes, hit.start(), pattern.spec.start) else { continue };
                if pattern.spec.boundary_before && start > 0 && is_word_byte(bytes[start - 1]) {
                    continue;
                }
                if let Some(finding) = pattern.match_at(text, start) {
                    covered_until[index] = finding.end;
                    findings.push(finding);
                }
            }
        }
    }
}

impl CompiledPattern {
    fn match_at(&self, text: &str, start: usize) -> Option<LeakFinding> {
        let haystack = text.get(start..)?;
        let (whole, secret) = match self.secret_group {
            Some(group) => {
                let captures = self.regex.captures(haystack)?;
                (captures.get(0)?, captures.get(group)?)
            }
            None => {
                let whole = self.regex.find(haystack)?;
                (whole, whole)
            }
        };
        let end = start + whole.end();
        if self.spec.boundary_after && text.as_bytes().get(end).is_some_and(|&byte| is_token_byte(byte)) {
            return None;
        }
        if !is_plausible(secret.as_str(), self.spec.check) {
            return None;
        }
        // Patterns with a `secret` group report just the secret, except URLs, whose whole authority is the leak.
        let (report_start, report_end) =
            if self.reports_whole_match() { (start, end) } else { (start + secret.start(), start + secret.end()) };
        Some(LeakFinding::pattern(self.spec.kind, report_start, report_end, self.spec.specificity))
    }

    fn reports_whole_match(&self) -> bool {
        matches!(self.spec.kind, "database_url_with_password" | "url_basic_auth")
    }
}

/// Where the credential starts, or `None` when the back-walk ran past its limit (not a credential shape).
fn match_start(bytes: &[u8], literal_start: usize, rule: Start) -> Option<usize> {
    match rule {
        Start::AtLiteral => Some(literal_start),
        Start::BackOver { class, max } => {
            let mut start = literal_start;
            while start > 0 && class.contains(bytes[start - 1]) {
                start -= 1;
                if literal_start - start > max {
                    return None;
                }
            }
            (start < literal_start).then_some(start)
        }
    }
}

fn is_word_byte(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || byte == b'_'
}

fn is_token_byte(byte: u8) -> bool {
    is_word_byte(byte) || byte == b'-'
}
