//! How the safety layer compiles its injection signal set: without the lazy DFA, which for this set costs memory
//! and gains no speed.
//!
//! `regex::RegexSet` also builds a reverse NFA, which its lazy DFA needs. For the signal set (about a hundred
//! phrase patterns with bounded gaps) that reverse NFA was 4.8 of the set's 7.2 MB (measured on `regex` 1.13),
//! held for the life of the process, and building it was a large part of the memory touched at start. The lazy
//! DFA gives nothing back: the set is too large for it, and a 15 KB scan takes 6.6 ms with or without it. Without
//! it the PikeVM answers every search, with exactly the same matches.
//!
//! The credential regexes keep a lazy DFA, forward only (`leak::pattern_set`): on hostile input (hundreds of
//! thousands of prefilter hits) it makes them 5 to 15 times faster.

use regex_automata::MatchKind;
use regex_automata::meta;
use regex_automata::nfa::thompson::WhichCaptures;
use regex_automata::util::syntax;

/// Compile budget for the whole signal set.
const SIGNAL_SET_NFA_LIMIT: usize = 64 << 20;

/// All signals as one set that reports which of them match anywhere in a text, as `regex::RegexSet` does (same
/// syntax, every pattern's matches), with every engine except the lazy and full DFAs.
pub(crate) fn signal_set(patterns: &[String]) -> Result<meta::Regex, Box<meta::BuildError>> {
    meta::Builder::new()
        .configure(
            meta::Config::new()
                .hybrid(false)
                .dfa(false)
                .utf8_empty(true)
                .match_kind(MatchKind::All)
                .which_captures(WhichCaptures::None)
                .nfa_size_limit(Some(SIGNAL_SET_NFA_LIMIT)),
        )
        .syntax(syntax::Config::new())
        .build_many(patterns)
        .map_err(Box::new)
}
