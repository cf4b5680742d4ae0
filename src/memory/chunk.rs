//! Splits a Markdown document into overlapping, heading-aware chunks for indexing.
//!
//! The document is parsed with `pulldown-cmark` into top-level blocks. A heading always starts a
//! new chunk and extends the heading path; paragraphs and lists are cut at sentence ends (CJK
//! sentence punctuation included) and packed greedily up to the target size; code blocks, tables
//! and HTML blocks are never cut. Every chunk's text is exactly `source[byte_range]`, so a search
//! hit can point back into the original file.

use std::ops::Range;

use pulldown_cmark::{Event, Options, Parser, Tag};
use serde::{Deserialize, Serialize};

use super::tokens::{estimate_tokens, is_cjk, is_cjk_sentence_end};

/// How documents are cut into chunks.
///
/// Defaults: 200 tokens with 30 tokens of overlap. The local model (all-MiniLM-L6-v2) reads at
/// most 256 word pieces and silently drops the rest, and the token estimate is rough, so 200
/// leaves room before truncation. Small chunks also keep memory context in prompts cheap (a
/// handful of hits fit a 1–2k token budget) and make a hit point at the paragraph that matters.
/// The overlap (about one sentence, 15 %) means a fact cut at a chunk boundary is still whole in
/// one of the two chunks.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct ChunkingConfig {
    /// Largest chunk, in estimated tokens, that prose is packed into. A single code block, table
    /// or HTML block larger than this stays whole in a chunk of its own.
    pub target_tokens: usize,
    /// Estimated tokens of trailing sentences repeated at the start of the next chunk of the same
    /// section; must be smaller than half of `target_tokens`.
    pub overlap_tokens: usize,
}

impl Default for ChunkingConfig {
    fn default() -> Self {
        Self { target_tokens: 200, overlap_tokens: 30 }
    }
}

/// One piece of a document, ready to be embedded and indexed.
#[derive(Debug, Clone, PartialEq)]
pub struct Chunk {
    /// Exactly `source[byte_range]`.
    pub text: String,
    /// Titles of the enclosing headings, outermost first; empty before the first heading.
    pub heading_path: Vec<String>,
    /// Where the chunk sits in the source, in bytes.
    pub byte_range: Range<usize>,
    /// Size by the same cheap estimate used for packing.
    pub estimated_tokens: usize,
}

impl Chunk {
    /// Text to embed: the heading path first, because a paragraph deep in a section often makes
    /// sense only with its headings ("Paris > Hotels: booked the one near the station").
    pub fn embedding_input(&self) -> String {
        embedding_input(&self.headings(), &self.text)
    }

    /// The heading path as stored with the chunk: titles joined by `" > "`, empty before the
    /// first heading.
    pub fn headings(&self) -> String {
        self.heading_path.join(" > ")
    }
}

/// What is embedded for a chunk with `headings` (as [`Chunk::headings`] joins them) and `text`.
/// First indexing and re-embedding both go through here, so a chunk's vector never depends on
/// which of the two made it.
pub fn embedding_input(headings: &str, text: &str) -> String {
    if headings.is_empty() {
        return text.to_string();
    }
    format!("{headings}\n\n{text}")
}

/// Cuts `source` into chunks; whitespace-only input gives none.
pub fn chunk_markdown(source: &str, config: &ChunkingConfig) -> Vec<Chunk> {
    let target = config.target_tokens.max(1);
    // Clamped again here so a config that skipped validation can never stall the packer.
    let overlap = config.overlap_tokens.min(target / 2);
    let mut chunks = Vec::new();
    for section in sections(source, target) {
        pack_section(source, &section, target, overlap, &mut chunks);
    }
    chunks
}

/// A run of units under one heading path.
struct Section {
    heading_path: Vec<String>,
    units: Vec<Unit>,
}

/// The smallest piece the packer moves: a sentence, a heading line or an uncuttable block.
struct Unit {
    range: Range<usize>,
    tokens: usize,
    /// Code, tables and HTML: never cut and never repeated as overlap.
    atomic: bool,
}

enum BlockKind {
    Heading { level: usize, title: String },
    Prose,
    Atomic,
}

struct Block {
    range: Range<usize>,
    kind: BlockKind,
}

fn sections(source: &str, target: usize) -> Vec<Section> {
    let mut sections = Vec::new();
    let mut heading_stack: Vec<(usize, String)> = Vec::new();
    let mut current = Section { heading_path: Vec::new(), units: Vec::new() };
    for block in top_level_blocks(source) {
        match block.kind {
            BlockKind::Heading { level, title } => {
                if !current.units.is_empty() {
                    sections.push(current);
                }
                while heading_stack.last().is_some_and(|(open, _)| *open >= level) {
                    heading_stack.pop();
                }
                heading_stack.push((level, title));
                current = Section {
                    heading_path: heading_stack.iter().map(|(_, t)| t.clone()).collect(),
                    units: vec![unit(source, block.range, false)],
                };
            }
            BlockKind::Atomic => current.units.push(unit(source, block.range, true)),
            BlockKind::Prose => {
                for sentence in sentence_ranges(source, block.range) {
                    for piece in split_to_fit(source, sentence, target) {
                        current.units.push(unit(source, piece, false));
                    }
                }
            }
        }
    }
    if !current.units.is_empty() {
        sections.push(current);
    }
    sections
}

fn unit(source: &str, range: Range<usize>, atomic: bool) -> Unit {
    Unit { tokens: estimate_tokens(&source[range.clone()]), range, atomic }
}

/// Top-level Markdown blocks with their source ranges (trailing whitespace trimmed).
fn top_level_blocks(source: &str) -> Vec<Block> {
    let options = Options::ENABLE_TABLES | Options::ENABLE_STRIKETHROUGH | Options::ENABLE_TASKLISTS;
    let mut blocks = Vec::new();
    let mut depth = 0usize;
    let mut heading: Option<(usize, Range<usize>, String)> = None;
    for (event, range) in Parser::new_ext(source, options).into_offset_iter() {
        match event {
            Event::Start(tag) => {
                if depth == 0 {
                    match tag {
                        Tag::Heading { level, .. } => {
                            heading = Some((level as usize, range, String::new()));
                        }
                        Tag::CodeBlock(_) | Tag::Table(_) | Tag::HtmlBlock => {
                            blocks.push(Block { range: trim_end(source, range), kind: BlockKind::Atomic })
                        }
                        _ => blocks.push(Block { range: trim_end(source, range), kind: BlockKind::Prose }),
                    }
                }
                depth += 1;
            }
            Event::End(_) => {
                depth = depth.saturating_sub(1);
                if depth == 0
                    && let Some((level, range, title)) = heading.take()
                {
                    blocks.push(Block {
                        range: trim_end(source, range),
                        kind: BlockKind::Heading { level, title: title.trim().to_string() },
                    });
                }
            }
            Event::Text(text) | Event::Code(text) => {
                if let Some((_, _, title)) = heading.as_mut() {
                    title.push_str(&text);
                }
            }
            _ => {}
        }
    }
    blocks.retain(|block| !block.range.is_empty());
    blocks
}

fn trim_end(source: &str, range: Range<usize>) -> Range<usize> {
    let trimmed = source[range.clone()].trim_end();
    range.start..range.start + trimmed.len()
}

/// Cuts a prose block after `.`, `!` or `?` followed by whitespace, after CJK sentence
/// punctuation, and at line ends (list items, hard-wrapped text).
fn sentence_ranges(source: &str, block: Range<usize>) -> Vec<Range<usize>> {
    let text = &source[block.clone()];
    let mut ranges = Vec::new();
    let mut start = 0;
    let mut chars = text.char_indices().peekable();
    while let Some((index, character)) = chars.next() {
        let end = index + character.len_utf8();
        let next_is_space = chars.peek().is_none_or(|(_, next)| next.is_whitespace());
        let is_boundary = character == '\n'
            || is_cjk_sentence_end(character)
            || (matches!(character, '.' | '!' | '?') && next_is_space);
        if is_boundary {
            push_trimmed(text, block.start, start..end, &mut ranges);
            start = end;
        }
    }
    push_trimmed(text, block.start, start..text.len(), &mut ranges);
    ranges
}

fn push_trimmed(text: &str, offset: usize, range: Range<usize>, out: &mut Vec<Range<usize>>) {
    let piece = &text[range.clone()];
    let leading = piece.len() - piece.trim_start().len();
    let trimmed = piece.trim();
    if !trimmed.is_empty() {
        let start = offset + range.start + leading;
        out.push(start..start + trimmed.len());
    }
}

/// Hard-splits a sentence longer than `target` at word (or CJK character) boundaries; a single
/// word longer than `target` tokens (a base64 blob, a minified line) is cut inside the word.
fn split_to_fit(source: &str, range: Range<usize>, target: usize) -> Vec<Range<usize>> {
    let text = &source[range.clone()];
    if estimate_tokens(text) <= target {
        return vec![range];
    }
    let max_word_chars = target.saturating_mul(6).max(1);
    let mut pieces = Vec::new();
    let mut piece_start = 0;
    let mut piece_tokens = 0;
    let mut atom_start = 0;
    let mut atom_chars = 0;
    let mut chars = text.char_indices().peekable();
    while let Some((index, character)) = chars.next() {
        atom_chars += 1;
        let in_word = character.is_alphanumeric() && !is_cjk(character);
        let word_continues = in_word
            && atom_chars < max_word_chars
            && chars.peek().is_some_and(|(_, next)| next.is_alphanumeric() && !is_cjk(*next));
        if word_continues {
            continue;
        }
        atom_chars = 0;
        let atom_end = index + character.len_utf8();
        let atom_tokens = estimate_tokens(&text[atom_start..atom_end]);
        if piece_tokens > 0 && piece_tokens + atom_tokens > target {
            push_trimmed(text, range.start, piece_start..atom_start, &mut pieces);
            piece_start = atom_start;
            piece_tokens = 0;
        }
        piece_tokens += atom_tokens;
        atom_start = atom_end;
    }
    push_trimmed(text, range.start, piece_start..text.len(), &mut pieces);
    pieces
}

fn pack_section(source: &str, section: &Section, target: usize, overlap: usize, out: &mut Vec<Chunk>) {
    let units = &section.units;
    let mut start = 0;
    while start < units.len() {
        let mut end = start;
        let mut tokens = 0;
        while end < units.len() && (end == start || tokens + units[end].tokens <= target) {
            tokens += units[end].tokens;
            end += 1;
        }
        let byte_range = units[start].range.start..units[end - 1].range.end;
        let text = &source[byte_range.clone()];
        out.push(Chunk {
            text: text.to_string(),
            heading_path: section.heading_path.clone(),
            estimated_tokens: estimate_tokens(text),
            byte_range,
        });
        if end == units.len() {
            break;
        }
        // Step back over trailing prose units worth at most `overlap` tokens, but always move
        // forward by at least one unit so the loop ends, and only as far as the next unit still
        // fits after them (otherwise the next chunk would be nothing but repeated text).
        let mut next_start = end;
        let mut repeated = 0;
        let next_tokens = units[end].tokens;
        while next_start > start + 1 {
            let previous = &units[next_start - 1];
            let with_previous = repeated + previous.tokens;
            if previous.atomic || with_previous > overlap || with_previous + next_tokens > target {
                break;
            }
            repeated += previous.tokens;
            next_start -= 1;
        }
        start = next_start;
    }
}
