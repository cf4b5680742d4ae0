//! The encrypted secret store: named credentials sealed with AES-256-GCM under the master key, held in memory as
//! `SecretString` (zeroised on drop, never printed), and the resolution of `secret:NAME` config values.

mod rotate;

use std::collections::BTreeMap;

use secrecy::{ExposeSecret, SecretString};

use crate::crypto::{CryptoError, FieldCipher, MasterKey};
use crate::safety::StoredSecret;
use crate::store::{Store, StoreError};

pub use rotate::{KeySource, PENDING_KEY_FILE, Rotation, RotationError, forget_pending, rotate_master_key};

#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    #[error("secret {name} does not exist; add it with `chitin secret set {name}`")]
    Missing { name: String },
    #[error("invalid secret name `{name}`: use letters, digits, `-`, `_` and `.`")]
    InvalidName { name: String },
    #[error("cannot decrypt secret {name}: wrong master key")]
    WrongKey { name: String },
    #[error("cannot decrypt secret {name}")]
    Decrypt {
        name: String,
        #[source]
        source: CryptoError,
    },
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Named secrets in the store.
#[derive(Clone)]
pub struct SecretStore {
    store: Store,
    cipher: std::sync::Arc<FieldCipher>,
}

/// Associated data binds each ciphertext to its name: a value copied under another name will not open.
fn context(name: &str) -> Vec<u8> {
    crate::store::secret_context(name).into_bytes()
}

fn check_name(name: &str) -> Result<(), SecretError> {
    let valid = !name.is_empty()
        && name.len() <= 128
        && name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if valid { Ok(()) } else { Err(SecretError::InvalidName { name: name.to_string() }) }
}

impl SecretStore {
    pub fn new(store: Store, master_key: &MasterKey) -> Self {
        Self { store, cipher: std::sync::Arc::new(FieldCipher::new(master_key)) }
    }

    /// Stores (or replaces) a secret; every write uses a fresh random nonce.
    pub async fn set(&self, name: &str, value: &SecretString) -> Result<(), SecretError> {
        check_name(name)?;
        let sealed = self.cipher.seal(value.expose_secret().as_bytes(), &context(name));
        Ok(self.store.secrets().put(name, &sealed).await?)
    }

    pub async fn get(&self, name: &str) -> Result<SecretString, SecretError> {
        let row =
            self.store.secrets().get(name).await?.ok_or_else(|| SecretError::Missing { name: name.to_string() })?;
        let plain = self.cipher.open(&row.sealed, &context(name)).map_err(|source| match source {
            CryptoError::WrongKey { .. } => SecretError::WrongKey { name: name.to_string() },
            source => SecretError::Decrypt { name: name.to_string(), source },
        })?;
        let text = String::from_utf8(plain)
            .map_err(|_| SecretError::Decrypt { name: name.to_string(), source: CryptoError::Tampered })?;
        Ok(SecretString::from(text))
    }

    /// Names with their last update (Unix ms); never values.
    pub async fn list(&self) -> Result<Vec<(String, i64)>, SecretError> {
        let mut listed = Vec::new();
        for name in self.store.secrets().names().await? {
            if let Some(row) = self.store.secrets().get(&name).await? {
                listed.push((name, row.updated_at_ms));
            }
        }
        Ok(listed)
    }

    pub async fn remove(&self, name: &str) -> Result<bool, SecretError> {
        Ok(self.store.secrets().delete(name).await?)
    }

    /// Every secret decrypted, for the leak scanner's exact matching and the sandbox's injection.
    pub async fn load_all(&self) -> Result<BTreeMap<String, SecretString>, SecretError> {
        let mut all = BTreeMap::new();
        for name in self.store.secrets().names().await? {
            let value = self.get(&name).await?;
            all.insert(name, value);
        }
        Ok(all)
    }

    /// `secret:NAME` → the stored value; anything else is returned as the literal it is.
    pub async fn resolve(&self, value: &str) -> Result<String, SecretError> {
        match value.strip_prefix("secret:") {
            Some(name) => Ok(self.get(name).await?.expose_secret().to_string()),
            None => Ok(value.to_string()),
        }
    }
}

/// Stored secrets in the form the leak scanner matches exactly (with their encodings).
pub fn stored_for_scanner(all: &BTreeMap<String, SecretString>) -> Vec<StoredSecret> {
    all.iter()
        .map(|(name, value)| StoredSecret { name: name.clone(), value: value.expose_secret().to_string() })
        .collect()
}
