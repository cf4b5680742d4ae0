//! Compiles the credential table into one literal prefilter plus anchored regexes, and finds matches with it.
//!
//! Each pattern is compiled once into a forward NFA, run by three engines: a forward lazy DFA finds where a match
//! that starts at a prefilter hit ends, and the bounded backtracker (or, for long matches, the PikeVM) reads the
//! `secret` group inside that match only. `regex::Regex` would also build a reverse NFA (for its lazy DFA to find
//! where unanchored matches start) and a one-pass DFA; every search here is anchored, so neither is needed, and
//! together they were 4.1 of the 6.3 MB the table took (measured on `regex-automata` 0.4.19). Keeping the lazy DFA
//! matters: on hostile input with hundreds of thousands of prefilter hits the PikeVM alone is 5 to 15 times slower.

use aho_corasick::{AhoCorasick, AhoCorasickBuilder, MatchKind};
use regex_automata::hybrid::dfa::{Cache as LazyDfaCache, DFA as LazyDfa};
use regex_automata::nfa::thompson;
use regex_automata::nfa::thompson::backtrack::{self, BoundedBacktracker, Cache as BacktrackerCache};
use regex_automata::nfa::thompson::pikevm::{Cache as PikeVmCache, PikeVM};
use regex_automata::util::captures::Captures;
use regex_automata::util::pool::Pool;
use regex_automata::util::syntax;
use regex_automata::{Anchored, Input};

use super::LeakFinding;
use super::patterns::{PATTERNS, PatternSpec, Start};
use super::plausibility::is_plausible;
use crate::safety::error::SafetyError;

/// Compiled NFA size cap per pattern; the built-in patterns need a fraction of it.
const NFA_SIZE_LIMIT: usize = 4 << 20;

/// Most bytes of the bounded backtracker's visited set (one bit per NFA state and haystack byte) per scanner
/// thread and pattern; it grows only as far as the matches read need. 1 MiB covers a match of about 2,000 bytes
/// for the largest pattern with a `secret` group (`bearer_token`); longer ones go to the PikeVM.
const BACKTRACKER_VISITED_BYTES: usize = 1 << 20;

struct CompiledPattern {
    spec: &'static PatternSpec,
    /// Where an anchored match ends.
    lazy_dfa: LazyDfa,
    /// Group spans within a match that fits its visited set: fastest on short spans.
    backtracker: BoundedBacktracker,
    /// Group spans within longer matches, and the answer if the lazy DFA ever gives up.
    pikevm: PikeVM,
    /// Capture index of the `secret` group, if the pattern has one.
    secret_group: Option<usize>,
}

/// One scanner's search state for one pattern, made the first time that pattern runs on the scanner's thread.
struct PatternCache {
    lazy_dfa: LazyDfaCache,
    backtracker: BacktrackerCache,
    pikevm: PikeVmCache,
    captures: Captures,
}

/// Search state for every pattern, taken from a pool per scan so concurrent scans do not share it.
type PatternCaches = Vec<Option<PatternCache>>;
type CachePool = Pool<PatternCaches, Box<dyn Fn() -> PatternCaches + Send + Sync>>;

/// The enabled credential patterns, built once and shared by every scanner.
pub(crate) struct PatternSet {
    prefilter: AhoCorasick,
    /// For each prefilter literal, the patterns that start from it.
    literal_patterns: Vec<Vec<usize>>,
    patterns: Vec<CompiledPattern>,
    caches: CachePool,
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
            let index = patterns.len();
            patterns.push(CompiledPattern::compile(spec)?);
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
        let count = patterns.len();
        let caches: CachePool = Pool::new(Box::new(move || std::iter::repeat_with(|| None).take(count).collect()));
        Ok(Self { prefilter, literal_patterns, patterns, caches })
    }

    /// Appends every plausible credential in `text` to `findings`, at most `max_findings` in total.
    pub(crate) fn find_into(&self, text: &str, findings: &mut Vec<LeakFinding>, max_findings: usize) {
        let bytes = text.as_bytes();
        // Taken at the first prefilter hit: most texts have none, and then no search state is needed.
        let mut caches = None;
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
                let caches = caches.get_or_insert_with(|| self.caches.get());
                let cache = caches[index].get_or_insert_with(|| pattern.new_cache());
                if let Some(finding) = pattern.match_at(text, start, cache) {
                    covered_until[index] = finding.end;
                    findings.push(finding);
                }
            }
        }
    }
}

impl CompiledPattern {
    fn compile(spec: &'static PatternSpec) -> Result<Self, SafetyError> {
        let failed =
            |source: Box<dyn std::error::Error + Send + Sync>| SafetyError::PatternCompile { kind: spec.kind, source };
        let nfa = thompson::Compiler::new()
            .syntax(syntax::Config::new())
            .configure(thompson::Config::new().nfa_size_limit(Some(NFA_SIZE_LIMIT)))
            .build(spec.regex)
            .map_err(|error| failed(Box::new(error)))?;
        let secret_group = nfa.group_info().to_index(regex_automata::PatternID::ZERO, "secret");
        let lazy_dfa = LazyDfa::builder().build_from_nfa(nfa.clone()).map_err(|error| failed(Box::new(error)))?;
        let backtracker = BoundedBacktracker::builder()
            .configure(backtrack::Config::new().visited_capacity(BACKTRACKER_VISITED_BYTES))
            .build_from_nfa(nfa.clone())
            .map_err(|error| failed(Box::new(error)))?;
        let pikevm = PikeVM::builder().build_from_nfa(nfa).map_err(|error| failed(Box::new(error)))?;
        Ok(CompiledPattern { spec, lazy_dfa, backtracker, pikevm, secret_group })
    }

    fn new_cache(&self) -> PatternCache {
        PatternCache {
            lazy_dfa: self.lazy_dfa.create_cache(),
            backtracker: self.backtracker.create_cache(),
            pikevm: self.pikevm.create_cache(),
            captures: self.pikevm.create_captures(),
        }
    }

    /// The match starting exactly at `start`, if it is a plausible credential.
    fn match_at(&self, text: &str, start: usize, cache: &mut PatternCache) -> Option<LeakFinding> {
        let anchored = Input::new(text).range(start..).anchored(Anchored::Yes);
        let end = match self.lazy_dfa.try_search_fwd(&mut cache.lazy_dfa, &anchored) {
            Ok(found) => found?.offset(),
            // Built with the defaults, the lazy DFA neither quits on any byte nor gives up on a thrashing cache, so
            // this does not happen today; if a setting ever makes it, the PikeVM still answers, more slowly.
            Err(_) => {
                self.pikevm.search(&mut cache.pikevm, &anchored, &mut cache.captures);
                cache.captures.get_match()?.end()
            }
        };
        let secret = match self.secret_group {
            // Within the match just found, that same match is the only one either engine can pick.
            Some(group) => {
                let within = anchored.clone().range(start..end);
                let searched = end - start <= self.backtracker.max_haystack_len()
                    && self.backtracker.try_search(&mut cache.backtracker, &within, &mut cache.captures).is_ok();
                if !searched {
                    self.pikevm.search(&mut cache.pikevm, &within, &mut cache.captures);
                }
                cache.captures.get_group(group)?.range()
            }
            None => start..end,
        };
        if self.spec.boundary_after && text.as_bytes().get(end).is_some_and(|&byte| is_token_byte(byte)) {
            return None;
        }
        if !is_plausible(text.get(secret.clone())?, self.spec.check) {
            return None;
        }
        // Patterns with a `secret` group report just the secret, except URLs, whose whole authority is the leak.
        let (report_start, report_end) =
            if self.reports_whole_match() { (start, end) } else { (secret.start, secret.end) };
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

#[cfg(test)]
mod tests {
    use super::*;

    fn findings(text: &str) -> Vec<(&'static str, &str)> {
        let set = PatternSet::compile(&[]).expect("built-in patterns compile");
        let mut found = Vec::new();
        set.find_into(text, &mut found, 16);
        found.iter().map(|finding| (finding.kind.as_str(), &text[finding.start..finding.end])).collect()
    }

    /// Digits and letters of both cases in a stretch without runs or counting sequences, as a real token.
    fn token_body(length: usize) -> String {
        let alphabet = b"q7Wm2Xc9ZbTr4KpLd8NvYh3GsJf6Rk5";
        (0..length).map(|index| char::from(alphabet[(index * 7 + index / 31) % alphabet.len()])).collect()
    }

    #[test]
    fn the_secret_group_is_read_inside_the_match_the_lazy_dfa_found() {
        // The group in the middle of the match: only the key after the assignment is the secret.
        let key = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYzq9Tu4Lw2a";
        let text = format!("aws_secret_access_key = {key}\n");
        assert_eq!(findings(&text), [("aws_secret_access_key", key)]);

        // A URL reports its whole authority, not just the password group.
        let text = "DATABASE_URL=postgres://app:Xk29vLqPz7@db.internal:5432/app";
        assert_eq!(findings(text), [("database_url_with_password", "postgres://app:Xk29vLqPz7@db.internal:5432")]);
    }

    /// Each pattern's NFA is held once and shared by its three engines, but a counted repetition compiles to one
    /// copy of its class per count: the two URL patterns (`[^\s…]{1,256}`, a Unicode class) were about 0.4 MB each
    /// that way and `jwt` 0.6 MB. The largest left is `bearer_token` (`{20,2000}` of an ASCII class, 0.2 MB),
    /// whose limit the next test relies on; this names any pattern that grows past it.
    #[test]
    fn no_credential_pattern_compiles_to_a_large_nfa() {
        let set = PatternSet::compile(&[]).expect("built-in patterns compile");
        let mut sizes: Vec<_> =
            set.patterns.iter().map(|pattern| (pattern.pikevm.get_nfa().memory_usage(), pattern.spec.kind)).collect();
        sizes.sort_unstable();
        let total: usize = sizes.iter().map(|(bytes, _)| bytes).sum();
        println!("credential NFAs: {total} bytes in all; largest {:?}", sizes.iter().rev().take(3).collect::<Vec<_>>());
        for (bytes, kind) in sizes {
            assert!(bytes <= 256 * 1024, "{kind} compiles to {bytes} bytes of NFA");
        }
    }

    /// `jwt` had upper bounds (a 4,000-character payload at most), so a token carrying more claims went unreported.
    #[test]
    fn a_jwt_with_a_large_payload_is_reported_whole() {
        let jwt = format!("eyJ{}.eyJ{}.{}", token_body(40), token_body(6_000), token_body(86));
        assert_eq!(findings(&format!("token={jwt} ")), [("jwt", jwt.as_str())]);
    }

    #[test]
    fn a_bearer_token_at_the_pattern_s_length_limit_is_reported_whole() {
        // 2,000 characters: the longest the pattern accepts, and a match close to the backtracker's visited-set
        // limit for this pattern, so its visited set is at its largest.
        let token = token_body(2_000);
        let text = format!("Authorization: Bearer {token}\r\n");
        assert_eq!(findings(&text), [("bearer_token", token.as_str())]);
        let short = token_body(24);
        assert_eq!(findings(&format!("bearer {short} ")), [("bearer_token", short.as_str())]);
    }
}
