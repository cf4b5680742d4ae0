//! How much of a query a chunk covers: the share of the query's terms it contains.
//!
//! Full text ORs the query's terms, so its list mixes chunks that answer the question with chunks
//! that share one incidental word with it ("how do I keep the **house** warm" finds every note
//! that mentions a house). Fusion scales each chunk's full-text contribution by its coverage: a
//! chunk matching all terms keeps its full weight, one matching one term of four a quarter. A
//! query of one term, or an exact term that only the answer contains, is unaffected.

/// The share (in `1/n..=1`) of `terms` that `text` contains; 1 without terms. Every chunk in the
/// full-text list matched at least one term, so the floor is one term even when this cheap
/// comparison misses what the engine's stemmer matched.
pub fn term_coverage(terms: &[String], text: &str) -> f64 {
    if terms.is_empty() {
        return 1.0;
    }
    let lowered = text.to_lowercase();
    let words: Vec<&str> = lowered
        .split(|character: char| !(character.is_alphanumeric() || character == '_' || character == '-'))
        .filter(|word| !word.is_empty())
        .collect();
    let stems: std::collections::HashSet<&str> = words.iter().map(|word| stem(word)).collect();
    let matched = terms
        .iter()
        .filter(|term| {
            if !term.is_ascii() {
                // Scripts without spaces (CJK) come as one run per phrase: look for the run itself.
                lowered.contains(term.as_str())
            } else {
                stems.contains(stem(term))
            }
        })
        .count();
    matched.max(1) as f64 / terms.len() as f64
}

/// A light English stem: the common inflection suffixes and a final `e` removed, so
/// `boilers`/`boiler`, `booked`/`booking`/`book` and `serviced`/`service` compare equal. Only
/// ever compared with another `stem`.
fn stem(word: &str) -> &str {
    let mut root = word;
    for suffix in ["ing", "ies", "ed", "es", "ly", "s"] {
        if let Some(stripped) = word.strip_suffix(suffix)
            && stripped.len() >= 3
            && !(suffix == "s" && stripped.ends_with('s'))
        {
            root = stripped;
            break;
        }
    }
    match root.strip_suffix('e') {
        Some(stripped) if stripped.len() >= 3 => stripped,
        _ => root,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn terms(words: &[&str]) -> Vec<String> {
        words.iter().map(|word| word.to_string()).collect()
    }

    #[test]
    fn share_of_terms_with_inflections_matched() {
        let query = terms(&["boiler", "service", "autumn", "booking"]);
        assert_eq!(term_coverage(&query, "The boilers were serviced; we booked it for autumn."), 1.0);
        assert_eq!(term_coverage(&query, "Autumn leaves in the garden."), 0.25);
        assert_eq!(term_coverage(&query, "nothing in common"), 0.25, "at least the term the engine matched");
        assert_eq!(term_coverage(&[], "anything"), 1.0);
    }

    #[test]
    fn identifiers_and_cjk_runs_match_whole() {
        assert_eq!(term_coverage(&terms(&["err_ssl-42", "proxy"]), "Saw ERR_SSL-42 again."), 0.5);
        assert_eq!(term_coverage(&terms(&["数据库连接超时"]), "我们讨论了数据库连接超时的问题。"), 1.0);
        assert_eq!(term_coverage(&terms(&["class", "glass"]), "a glass class"), 1.0, "a double s is not a plural");
    }
}
