//! Search filters: path prefix, date range and source.

use chrono::{DateTime, Utc};
use serde::Deserialize;

/// Where a document came from (`notes`, `conversation`, `import`, ...), as the store records it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Deserialize)]
#[serde(transparent)]
pub struct SourceName(pub String);

/// Restricts a search. The store applies it in SQL before ranking (so the top-k is not spent on
/// excluded chunks); [`rank_hybrid`](super::rank_hybrid) applies it again to what it is given,
/// which is what the in-process vector search relies on.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SearchFilter {
    /// Keep documents whose path starts with this, e.g. `projects/chitin/`.
    pub path_prefix: Option<String>,
    /// Keep chunks updated at or after this instant.
    pub updated_after: Option<DateTime<Utc>>,
    /// Keep chunks updated strictly before this instant.
    pub updated_before: Option<DateTime<Utc>>,
    /// Keep only this source.
    pub source: Option<SourceName>,
}

impl SearchFilter {
    pub fn matches(&self, document_path: &str, updated_at: DateTime<Utc>, source: &SourceName) -> bool {
        self.path_prefix.as_ref().is_none_or(|prefix| document_path.starts_with(prefix.as_str()))
            && self.updated_after.is_none_or(|after| updated_at >= after)
            && self.updated_before.is_none_or(|before| updated_at < before)
            && self.source.as_ref().is_none_or(|wanted| wanted == source)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn every_condition_must_hold() {
        let day = |d| Utc.with_ymd_and_hms(2026, 3, d, 0, 0, 0).single().unwrap_or_default();
        let notes = SourceName("notes".to_string());
        let filter = SearchFilter {
            path_prefix: Some("travel/".to_string()),
            updated_after: Some(day(10)),
            updated_before: Some(day(20)),
            source: Some(notes.clone()),
        };
        assert!(filter.matches("travel/lisbon.md", day(10), &notes));
        assert!(!filter.matches("work/lisbon.md", day(12), &notes));
        assert!(!filter.matches("travel/lisbon.md", day(9), &notes));
        assert!(!filter.matches("travel/lisbon.md", day(20), &notes));
        assert!(!filter.matches("travel/lisbon.md", day(12), &SourceName("chat".to_string())));
        assert!(SearchFilter::default().matches("anything", day(1), &notes));
    }
}
