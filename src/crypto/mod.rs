//! Keys and ciphers that protect data at rest: the master-key provider and the AES-256-GCM field cipher.

mod field_cipher;
mod master_key;

pub use field_cipher::{FieldCipher, Sealed};
pub use master_key::{KeyId, MASTER_KEY_ENV, MASTER_KEY_FILE, MasterKey};

use std::path::PathBuf;

/// Why a key could not be loaded or a value could not be sealed or opened.
#[derive(Debug, thiserror::Error)]
pub enum CryptoError {
    /// The environment variable is set but is not 64 hex digits; its value is never echoed.
    #[error("{MASTER_KEY_ENV} must be 64 hex digits (32 bytes)")]
    MalformedEnvKey,
    #[error("master key file {path} must hold 64 hex digits (32 bytes)")]
    MalformedKeyFile { path: PathBuf },
    #[error("could not read master key file {path}")]
    ReadKeyFile {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("could not create master key file {path}")]
    CreateKeyFile {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("master key file {path} is readable by other users (mode {mode:o}); run `chmod 600 {path}`")]
    KeyFileTooOpen { path: PathBuf, mode: u32 },
    /// Sealed under another master key: the data is intact, the key in use is not the one that wrote it.
    #[error("value was encrypted with master key {stored}, but the current key is {current}: wrong master key")]
    WrongKey { stored: String, current: KeyId },
    /// Right key id but the tag does not verify: the stored bytes were changed.
    #[error("encrypted value failed authentication: it was altered or truncated")]
    Tampered,
    #[error("nonce must be 12 bytes, found {len}")]
    BadNonce { len: usize },
}
