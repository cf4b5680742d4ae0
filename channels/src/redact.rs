//! Serializing credentials for `config show`: a `secret:NAME` reference is shown, a literal never is.

use serde::Serializer;

pub(crate) fn credential<S: Serializer>(value: &str, serializer: S) -> Result<S::Ok, S::Error> {
    if value.is_empty() || value.starts_with("secret:") {
        serializer.serialize_str(value)
    } else {
        serializer.serialize_str("<redacted>")
    }
}

#[allow(clippy::ptr_arg)]
pub(crate) fn credential_string<S: Serializer>(value: &String, serializer: S) -> Result<S::Ok, S::Error> {
    credential(value, serializer)
}

pub(crate) fn credential_option<S: Serializer>(value: &Option<String>, serializer: S) -> Result<S::Ok, S::Error> {
    match value {
        Some(value) => credential(value, serializer),
        None => serializer.serialize_none(),
    }
}
