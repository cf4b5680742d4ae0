//! One error with all its causes on a line (`outer: inner: root`), for logs and replies that must say what went wrong.

/// `error` followed by each of its sources, joined by ": ".
pub fn describe(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}
