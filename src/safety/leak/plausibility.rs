//! Decides whether a string that has a credential's shape is plausibly a real secret rather than a stand-in.
//!
//! Documentation is full of `AKIAIOSFODNN7EXAMPLE`, `sk-xxxxxxxx…`, `Bearer <token>` and
//! `postgres://user:password@localhost`; flagging those would teach people to ignore the detector.

use super::patterns::Check;

/// Words that only occur in stand-ins, compared case-insensitively.
const PLACEHOLDER_WORDS: &[&str] = &[
    "example",
    "placeholder",
    "your_",
    "your-",
    "yourkey",
    "yourtoken",
    "xxxx",
    "redacted",
    "dummy",
    "changeme",
    "change_me",
    "replace",
    "insert",
    "_here",
    "-here",
    "sample",
    "notreal",
    "not_real",
    "fake",
];

/// Signatures of the well-known example tokens published in vendor documentation.
const PUBLISHED_EXAMPLES: &[&str] = &[
    // jwt.io's default token, reproduced in countless tutorials.
    "SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c",
];

/// Passwords that documentation uses as stand-ins inside connection strings.
const PLACEHOLDER_PASSWORDS: &[&str] = &[
    "password",
    "passwd",
    "pass",
    "pwd",
    "pw",
    "secret",
    "changeme",
    "mypassword",
    "yourpassword",
    "user",
    "username",
    "example",
    "test",
    "p@ssword",
    "p%40ssword",
];

/// True when `secret` passes `check`.
pub(crate) fn is_plausible(secret: &str, check: Check) -> bool {
    if looks_like_placeholder(secret) {
        return false;
    }
    match check {
        Check::Placeholder => true,
        Check::Mixed(classes) => character_classes(secret) >= classes,
        Check::Password => is_plausible_password(secret),
        Check::Entropy(min_bits) => character_classes(secret) >= 2 && shannon_entropy(secret) >= min_bits,
    }
}

fn looks_like_placeholder(secret: &str) -> bool {
    let lower = secret.to_ascii_lowercase();
    if PLACEHOLDER_WORDS.iter().any(|word| lower.contains(word)) {
        return true;
    }
    if PUBLISHED_EXAMPLES.iter().any(|example| secret.contains(example)) {
        return true;
    }
    if secret.contains(['<', '>', '{', '}']) || secret.contains("**") || secret.contains("...") || secret.contains('…')
    {
        return true;
    }
    longest_run(secret.as_bytes()) >= 6 || has_counting_sequence(&lower)
}

fn is_plausible_password(password: &str) -> bool {
    let lower = password.to_ascii_lowercase();
    if password.len() < 3 || PLACEHOLDER_PASSWORDS.contains(&lower.as_str()) {
        return false;
    }
    // `$DB_PASSWORD`, `%s`, `%(password)s`: template variables, not values.
    !(password.starts_with('$') || password.starts_with('%') || password.starts_with(':'))
}

/// How many of {lower case, upper case, digit} occur.
fn character_classes(secret: &str) -> u8 {
    let bytes = secret.as_bytes();
    u8::from(bytes.iter().any(u8::is_ascii_lowercase))
        + u8::from(bytes.iter().any(u8::is_ascii_uppercase))
        + u8::from(bytes.iter().any(u8::is_ascii_digit))
}

fn longest_run(bytes: &[u8]) -> usize {
    let mut longest = 0;
    let mut current = 0;
    let mut previous = None;
    for &byte in bytes {
        current = if Some(byte) == previous { current + 1 } else { 1 };
        previous = Some(byte);
        longest = longest.max(current);
    }
    longest
}

/// `0123456`, `1234567`, `abcdefg`: keyboard filler that random tokens essentially never contain.
fn has_counting_sequence(lower: &str) -> bool {
    lower.as_bytes().windows(7).any(|window| window.windows(2).all(|pair| pair[1] == pair[0].wrapping_add(1)))
}

/// Shannon entropy in bits per byte.
pub(crate) fn shannon_entropy(text: &str) -> f32 {
    if text.is_empty() {
        return 0.0;
    }
    let mut counts = [0u32; 256];
    for &byte in text.as_bytes() {
        counts[usize::from(byte)] += 1;
    }
    let total = text.len() as f32;
    counts
        .iter()
        .filter(|&&count| count > 0)
        .map(|&count| {
            let share = count as f32 / total;
            -share * share.log2()
        })
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documented_placeholders_are_rejected() {
        assert!(!is_plausible("AKIAIOSFODNN7EXAMPLE", Check::Mixed(2)));
        assert!(!is_plausible("sk-xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx", Check::Mixed(3)));
        assert!(!is_plausible("password", Check::Password));
        assert!(!is_plausible("${DB_PASSWORD}", Check::Password));
        assert!(!is_plausible("abcdefghijklmnopqrstuvwxyz012345", Check::Entropy(3.0)));
    }

    #[test]
    fn random_tokens_are_accepted() {
        assert!(is_plausible("q7Rk2LmZp9XwT4vB8nJc3HdF6sYa1EgU", Check::Mixed(3)));
        assert!(is_plausible("Zk8#pq2!Lm", Check::Password));
        assert!(is_plausible("dGhpcyBpcyBhIHRva2VuIHdpdGggZW50cm9weQ", Check::Entropy(3.0)));
    }
}
