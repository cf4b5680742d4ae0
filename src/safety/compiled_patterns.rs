//! How the safety layer compiles its two big built-in tables (injection signals, credential formats): without
//! the lazy DFA, which for these tables costs memory and gains no speed.
//!
//! For every regex, the `regex` crate also builds a reverse NFA, which its lazy DFA needs to find where a match
//! starts. For these tables the reverse NFA was most of what they held for the life of the process (measured on
//! `regex` 1.13: 4.8 of the signal set's 7.2 MB, 3.5 of the credential regexes' 6.3 MB). Without it, Chitin's
//! RSS right after start is 51 MiB instead of 66 (agent bench). The lazy DFA gives nothing back here: the signal
//! set is too large for it (a scan of 15 KB takes 6.6 ms with or without it), and a credential regex only runs
//! where the literal prefilter hit, over a few hundred bytes at most. Without it the PikeVM, the bounded
//! backtracker and the one-pass DFA answer every search; they find exactly the same matches.

use regex_automata::MatchKind;
use regex_automata::meta;
use regex_automata::nfa::thompson::WhichCaptures;
use regex_automata::util::syntax;

/// Compile budget for one credential regex; the built-in formats need a fraction of it.
const CREDENTIAL_NFA_LIMIT: usize = 4 << 20;
/// Compile budget for the whole signal set.
const SIGNAL_SET_NFA_LIMIT: usize = 64 << 20;

/// The engine choice shared by both tables: every engine except the lazy and full DFAs.
fn without_dfas() -> meta::Config {
    meta::Config::new().hybrid(false).dfa(false).utf8_empty(true)
}

/// One credential regex, with `regex::Regex`'s syntax and leftmost-first semantics and its capture groups.
pub(crate) fn credential_regex(pattern: &str) -> Result<meta::Regex, meta::BuildError> {
    meta::Builder::new()
        .configure(without_dfas().match_kind(MatchKind::LeftmostFirst).nfa_size_limit(Some(CREDENTIAL_NFA_LIMIT)))
        .syntax(syntax::Config::new())
        .build(pattern)
}

/// All signals as one set that reports which of them match anywhere in a text, as `regex::RegexSet` does.
pub(crate) fn signal_set(patterns: &[String]) -> Result<meta::Regex, meta::BuildError> {
    meta::Builder::new()
        .configure(
            without_dfas()
                .match_kind(MatchKind::All)
                .which_captures(WhichCaptures::None)
                .nfa_size_limit(Some(SIGNAL_SET_NFA_LIMIT)),
        )
        .syntax(syntax::Config::new())
        .build_many(patterns)
}
