//! Decides whether raw file bytes are text the indexer may chunk, and says why not.

use std::path::{Path, PathBuf};

/// Why a file was not indexed; the indexer logs it and moves on to the next file.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum DocumentError {
    #[error("{path} looks binary (NUL byte at offset {offset}); skipped")]
    Binary { path: PathBuf, offset: usize },
    #[error("{path} is not valid UTF-8 (bad byte at offset {offset}); skipped")]
    InvalidUtf8 { path: PathBuf, offset: usize },
    #[error("{path} is {size} bytes, over the {limit} byte limit for one document; skipped")]
    TooLarge { path: PathBuf, size: usize, limit: usize },
}

/// Returns the document's text, without a UTF-8 byte-order mark.
///
/// Binary detection uses a NUL byte in the first 8 KiB, the same test git and ripgrep use: text
/// formats never contain NUL, almost every binary format does early on. Files that pass that
/// test but are not UTF-8 (Latin-1 exports, truncated downloads) are rejected rather than lossily
/// decoded, because replacement characters would end up in the index and in prompts.
pub fn decode_document<'a>(path: &Path, bytes: &'a [u8], max_bytes: usize) -> Result<&'a str, DocumentError> {
    if bytes.len() > max_bytes {
        return Err(DocumentError::TooLarge { path: path.to_path_buf(), size: bytes.len(), limit: max_bytes });
    }
    let head = &bytes[..bytes.len().min(8 * 1024)];
    if let Some(offset) = head.iter().position(|byte| *byte == 0) {
        return Err(DocumentError::Binary { path: path.to_path_buf(), offset });
    }
    let text = std::str::from_utf8(bytes)
        .map_err(|error| DocumentError::InvalidUtf8 { path: path.to_path_buf(), offset: error.valid_up_to() })?;
    Ok(text.strip_prefix('\u{feff}').unwrap_or(text))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strips_byte_order_mark() {
        let bytes = "\u{feff}# Title".as_bytes();
        assert_eq!(decode_document(Path::new("a.md"), bytes, 1024), Ok("# Title"));
    }
}
