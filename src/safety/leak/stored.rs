//! Exact matching of the owner's stored secrets and of the encoded forms a tool might smuggle them out in.

use std::collections::BTreeSet;
use std::fmt;

use aho_corasick::{AhoCorasick, AhoCorasickBuilder, AhoCorasickKind, MatchKind};
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use serde::Deserialize;

use super::LeakFinding;
use super::patterns::Specificity;
use crate::safety::error::SafetyError;

/// RFC 3986 unreserved characters stay as they are; everything else is percent-encoded.
const URL_COMPONENT: &AsciiSet = &NON_ALPHANUMERIC.remove(b'-').remove(b'.').remove(b'_').remove(b'~');

/// Shortest encoded fragment worth matching: shorter ones collide with ordinary text.
const MIN_FRAGMENT_LEN: usize = 8;

/// A secret the owner stored, as the scanner needs it: a name to report and the value to look for.
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StoredSecret {
    /// Name under which the secret is stored (`openai_key`); safe to log.
    pub name: String,
    /// The secret itself; never logged, never printed by `Debug`.
    pub value: String,
}

impl fmt::Debug for StoredSecret {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.debug_struct("StoredSecret").field("name", &self.name).field("value", &"<redacted>").finish()
    }
}

/// One Aho-Corasick automaton over every encoded form of every stored secret.
pub(crate) struct StoredMatcher {
    automaton: AhoCorasick,
    /// For each literal, the index of the secret it encodes.
    owners: Vec<usize>,
    names: Vec<String>,
}

impl StoredMatcher {
    /// Builds the matcher; secrets shorter than `min_len` bytes are skipped (they would match everywhere).
    pub(crate) fn build(secrets: &[StoredSecret], min_len: usize) -> Result<Option<Self>, SafetyError> {
        let mut literals = Vec::new();
        let mut owners = Vec::new();
        let mut names = Vec::new();
        for secret in secrets.iter().filter(|secret| secret.value.len() >= min_len) {
            let owner = names.len();
            names.push(secret.name.clone());
            for form in encoded_forms(&secret.value) {
                literals.push(form);
                owners.push(owner);
            }
        }
        if literals.is_empty() {
            return Ok(None);
        }
        // A contiguous NFA builds in microseconds, which matters because `scan_jsonl` builds one per request
        // that carries stored secrets; a DFA would search a little faster but take far longer to build.
        let automaton = AhoCorasickBuilder::new()
            .kind(Some(AhoCorasickKind::ContiguousNFA))
            .match_kind(MatchKind::LeftmostLongest)
            .build(&literals)
            .map_err(|source| SafetyError::LiteralMatcher { what: "stored secret", source })?;
        Ok(Some(Self { automaton, owners, names }))
    }

    /// How many stored secrets the matcher covers.
    pub(crate) fn secret_count(&self) -> usize {
        self.names.len()
    }

    pub(crate) fn find_into(&self, text: &str, findings: &mut Vec<LeakFinding>, max_findings: usize) {
        for hit in self.automaton.find_iter(text) {
            if findings.len() >= max_findings {
                return;
            }
            let name = &self.names[self.owners[hit.pattern().as_usize()]];
            findings.push(LeakFinding::stored(name, hit.start(), hit.end()));
        }
    }
}

/// The value itself plus every encoding we look for, deduplicated.
pub(crate) fn encoded_forms(value: &str) -> BTreeSet<String> {
    let bytes = value.as_bytes();
    let mut forms = BTreeSet::new();
    forms.insert(value.to_owned());
    for engine in [&STANDARD, &URL_SAFE, &STANDARD_NO_PAD, &URL_SAFE_NO_PAD] {
        forms.insert(engine.encode(bytes));
    }
    for engine in [&STANDARD_NO_PAD, &URL_SAFE_NO_PAD] {
        // Inside a longer base64 stream (`user:secret` in a Basic header) the secret can sit at any of three
        // alignments; only the characters fully determined by its own bits are stable.
        for shift in 0..3usize {
            let mut shifted = vec![0u8; shift];
            shifted.extend_from_slice(bytes);
            let encoded = engine.encode(&shifted);
            let first = (8 * shift).div_ceil(6);
            let last = (8 * (shift + bytes.len())) / 6;
            if let Some(stable) = encoded.get(first..last) {
                forms.insert(stable.to_owned());
            }
        }
    }
    forms.insert(hex::encode(bytes));
    forms.insert(hex::encode_upper(bytes));
    let percent = utf8_percent_encode(value, URL_COMPONENT).to_string();
    forms.insert(lowercase_percent_escapes(&percent));
    forms.insert(percent.replace("%20", "+"));
    forms.insert(percent);
    forms.insert(utf8_percent_encode(value, NON_ALPHANUMERIC).to_string());
    let json = json_escape(value);
    forms.insert(json.replace('/', "\\/"));
    forms.insert(json_ascii_escape(&json));
    forms.insert(json);
    forms.retain(|form| form.len() >= MIN_FRAGMENT_LEN.min(value.len()));
    forms
}

/// `value` as it appears between the quotes of a JSON string.
fn json_escape(value: &str) -> String {
    let quoted = serde_json::Value::String(value.to_owned()).to_string();
    quoted[1..quoted.len() - 1].to_owned()
}

/// The JSON form with every non-ASCII character as `\uXXXX` (surrogate pairs above the BMP), as
/// `ensure_ascii` encoders write it.
fn json_ascii_escape(json: &str) -> String {
    let mut out = String::with_capacity(json.len());
    for character in json.chars() {
        if character.is_ascii() {
            out.push(character);
        } else {
            let mut units = [0u16; 2];
            for unit in character.encode_utf16(&mut units) {
                out.push_str(&format!("\\u{unit:04x}"));
            }
        }
    }
    out
}

/// `%2F` → `%2f`: some encoders emit lower-case hex digits.
fn lowercase_percent_escapes(percent: &str) -> String {
    let mut out = String::with_capacity(percent.len());
    let mut chars = percent.chars();
    while let Some(character) = chars.next() {
        out.push(character);
        if character == '%' {
            out.extend(chars.by_ref().take(2).map(|digit| digit.to_ascii_lowercase()));
        }
    }
    out
}

impl LeakFinding {
    fn stored(name: &str, start: usize, end: usize) -> Self {
        Self {
            kind: super::LeakKind::STORED_SECRET,
            start,
            end,
            secret_name: Some(name.to_owned()),
            specificity: Specificity::Stored,
        }
    }
}
