//! Config values that are credentials: never printed, never logged.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// What `config show` prints in place of a credential.
pub const REDACTED: &str = "<redacted>";

/// A credential from the config: a literal, or `secret:NAME` naming an entry of the encrypted secret store.
///
/// `Debug`, `Display` and `Serialize` all print [`REDACTED`] (or the `secret:NAME` reference, which is not secret),
/// so the value cannot leak through `config show`, a log line or a panic message.
#[derive(Clone, PartialEq, Eq)]
pub struct SecretValue(String);

impl SecretValue {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The name in the secret store, when the value is a `secret:NAME` reference.
    pub fn secret_name(&self) -> Option<&str> {
        self.0.strip_prefix("secret:")
    }

    /// The literal value. Call only where the credential is used (an HTTP header, a signature check).
    pub fn expose(&self) -> &str {
        &self.0
    }

    fn shown(&self) -> String {
        match self.secret_name() {
            Some(name) => format!("secret:{name}"),
            None => REDACTED.to_string(),
        }
    }
}

impl From<&str> for SecretValue {
    fn from(value: &str) -> Self {
        Self(value.to_string())
    }
}

impl From<String> for SecretValue {
    fn from(value: String) -> Self {
        Self(value)
    }
}

impl fmt::Debug for SecretValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SecretValue({})", self.shown())
    }
}

impl fmt::Display for SecretValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.shown())
    }
}

impl Serialize for SecretValue {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.shown())
    }
}

impl<'de> Deserialize<'de> for SecretValue {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        String::deserialize(deserializer).map(SecretValue)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literal_values_never_print() {
        let secret = SecretValue::new("sk-live-abcdef");
        for shown in [format!("{secret:?}"), secret.to_string(), serde_json::to_string(&secret).expect("json")] {
            assert!(!shown.contains("abcdef"), "{shown}");
        }
        assert_eq!(secret.expose(), "sk-live-abcdef");
    }

    #[test]
    fn references_print_their_name() {
        let secret = SecretValue::new("secret:telegram");
        assert_eq!(secret.secret_name(), Some("telegram"));
        assert_eq!(secret.to_string(), "secret:telegram");
    }
}
