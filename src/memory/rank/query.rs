//! Turns what the user typed into a bounded search query and a safe FTS5 expression.

/// Why a query cannot be searched.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum QueryError {
    #[error("search query is empty")]
    Empty,
}

/// Most distinct terms sent to full-text search; a pasted 10 KB log would otherwise become a
/// thousand-way OR that costs far more than it helps.
const MAX_TERMS: usize = 64;

/// English function words left out of full-text queries: the Snowball list that PostgreSQL's
/// `english` text search configuration drops, so the SQLite (FTS5) side ranks like the
/// PostgreSQL side. Without it, "how do I fix the boiler" ORs in `how`, `do`, `i` and `the`, which
/// match nearly every note and crowd the fused ranking. Sorted for binary search.
const STOPWORDS: [&str; 127] = [
    "a",
    "about",
    "above",
    "after",
    "again",
    "against",
    "all",
    "am",
    "an",
    "and",
    "any",
    "are",
    "as",
    "at",
    "be",
    "because",
    "been",
    "before",
    "being",
    "below",
    "between",
    "both",
    "but",
    "by",
    "can",
    "did",
    "do",
    "does",
    "doing",
    "don",
    "down",
    "during",
    "each",
    "few",
    "for",
    "from",
    "further",
    "had",
    "has",
    "have",
    "having",
    "he",
    "her",
    "here",
    "hers",
    "herself",
    "him",
    "himself",
    "his",
    "how",
    "i",
    "if",
    "in",
    "into",
    "is",
    "it",
    "its",
    "itself",
    "just",
    "me",
    "more",
    "most",
    "my",
    "myself",
    "no",
    "nor",
    "not",
    "now",
    "of",
    "off",
    "on",
    "once",
    "only",
    "or",
    "other",
    "our",
    "ours",
    "ourselves",
    "out",
    "over",
    "own",
    "s",
    "same",
    "she",
    "should",
    "so",
    "some",
    "such",
    "t",
    "than",
    "that",
    "the",
    "their",
    "theirs",
    "them",
    "themselves",
    "then",
    "there",
    "these",
    "they",
    "this",
    "those",
    "through",
    "to",
    "too",
    "under",
    "until",
    "up",
    "very",
    "was",
    "we",
    "were",
    "what",
    "when",
    "where",
    "which",
    "while",
    "who",
    "whom",
    "why",
    "will",
    "with",
    "you",
    "your",
    "yours",
    "yourself",
    "yourselves",
];

/// A trimmed, length-bounded query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SearchQuery {
    text: String,
}

impl SearchQuery {
    /// Trims `raw` and cuts it to `max_bytes` at a character boundary; fails only when nothing
    /// searchable is left.
    pub fn parse(raw: &str, max_bytes: usize) -> Result<Self, QueryError> {
        let trimmed = raw.trim();
        let mut end = trimmed.len().min(max_bytes);
        while !trimmed.is_char_boundary(end) {
            end -= 1;
        }
        let text = trimmed[..end].trim_end();
        if text.is_empty() {
            return Err(QueryError::Empty);
        }
        if end < trimmed.len() {
            tracing::debug!(bytes = trimmed.len(), kept = end, "search query truncated");
        }
        Ok(Self { text: text.to_string() })
    }

    /// The text to embed for vector search.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// Distinct words (letters and digits; `-` and `_` kept inside identifiers such as
    /// `ERR_SSL-42`), lowercased, without English stopwords, first occurrence first, at most 64.
    pub fn terms(&self) -> Vec<String> {
        let mut terms: Vec<String> = Vec::new();
        for word in self.text.split(|c: char| !(c.is_alphanumeric() || c == '_' || c == '-')) {
            let word = word.trim_matches(|c| c == '-' || c == '_').to_lowercase();
            let is_stopword = STOPWORDS.binary_search(&word.as_str()).is_ok();
            if !word.is_empty() && !is_stopword && !terms.contains(&word) {
                terms.push(word);
                if terms.len() == MAX_TERMS {
                    break;
                }
            }
        }
        terms
    }

    /// An FTS5 `MATCH` expression: every term as a quoted string, joined with OR, so user text
    /// can never be parsed as FTS5 syntax (a stray `"` or `NEAR(` is a syntax error otherwise)
    /// and bm25 ranks chunks that match more and rarer terms higher. `None` when the query has
    /// no words (only punctuation): full-text search is then skipped.
    pub fn fts5_match(&self) -> Option<String> {
        let terms = self.terms();
        if terms.is_empty() {
            return None;
        }
        let quoted: Vec<String> = terms.iter().map(|term| format!("\"{term}\"")).collect();
        Some(quoted.join(" OR "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_and_blank_queries_are_rejected() {
        assert_eq!(SearchQuery::parse("", 100), Err(QueryError::Empty));
        assert_eq!(SearchQuery::parse(" \n\t", 100), Err(QueryError::Empty));
    }

    #[test]
    fn long_queries_are_cut_at_a_char_boundary() {
        let query = SearchQuery::parse(&"é".repeat(100), 5).unwrap();
        assert_eq!(query.text(), "éé");
    }

    #[test]
    fn fts5_expression_quotes_terms_and_drops_syntax() {
        let query = SearchQuery::parse("Error E1042 \"NEAR( foo* ERR_SSL-42 error", 100).unwrap();
        assert_eq!(
            query.fts5_match().as_deref(),
            Some("\"error\" OR \"e1042\" OR \"near\" OR \"foo\" OR \"err_ssl-42\"")
        );
        assert_eq!(SearchQuery::parse("?!", 100).unwrap().fts5_match(), None);
    }

    #[test]
    fn stopwords_are_left_out_of_full_text() {
        let query = SearchQuery::parse("How do I fix the boiler? It won't start", 100).unwrap();
        assert_eq!(query.terms(), vec!["fix", "boiler", "won", "start"]);
        assert_eq!(SearchQuery::parse("what is it", 100).unwrap().fts5_match(), None);
        assert!(STOPWORDS.windows(2).all(|pair| pair[0] < pair[1]), "sorted for binary search");
    }
}
