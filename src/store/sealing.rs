//! Envelopes for columns that must not be readable on a database server: sealed on PostgreSQL, plain inside SQLCipher.

use crate::crypto::{CryptoError, FieldCipher, Sealed};

/// First byte of a stored value: how the rest is to be read.
const PLAIN: u8 = 0;
const AES_GCM_V1: u8 = 1;

/// Turns plaintext into the bytes stored in a `sealed` column and back.
///
/// Each value says how it was written, so a database moved between backends (or written before
/// encryption was on) still reads correctly. `associated_data` binds the value to its column and
/// owner, so a ciphertext pasted into another conversation fails to open.
#[derive(Clone)]
pub(crate) struct Sealer {
    cipher: Option<FieldCipher>,
}

impl Sealer {
    /// PostgreSQL: seal every value. The server, its backups and its logs see only ciphertext.
    pub(crate) fn encrypting(cipher: FieldCipher) -> Sealer {
        Sealer { cipher: Some(cipher) }
    }

    /// SQLite: SQLCipher already encrypts every page of the file; sealing again would only cost time.
    pub(crate) fn plain() -> Sealer {
        Sealer { cipher: None }
    }

    pub(crate) fn seal(&self, plaintext: &[u8], associated_data: &str) -> Vec<u8> {
        match &self.cipher {
            None => {
                let mut out = Vec::with_capacity(plaintext.len() + 1);
                out.push(PLAIN);
                out.extend_from_slice(plaintext);
                out
            }
            Some(cipher) => {
                let sealed = cipher.seal(plaintext, associated_data.as_bytes());
                let mut out = Vec::with_capacity(2 + sealed.key_id.len() + 12 + sealed.ciphertext.len());
                out.push(AES_GCM_V1);
                out.push(sealed.key_id.len() as u8);
                out.extend_from_slice(sealed.key_id.as_bytes());
                out.extend_from_slice(&sealed.nonce);
                out.extend_from_slice(&sealed.ciphertext);
                out
            }
        }
    }

    pub(crate) fn open(&self, stored: &[u8], associated_data: &str) -> Result<Vec<u8>, CryptoError> {
        match stored.split_first() {
            Some((&PLAIN, rest)) => Ok(rest.to_vec()),
            Some((&AES_GCM_V1, rest)) => {
                let (&id_len, rest) = rest.split_first().ok_or(CryptoError::Tampered)?;
                let id_len = usize::from(id_len);
                if rest.len() < id_len + 12 {
                    return Err(CryptoError::Tampered);
                }
                let (key_id, rest) = rest.split_at(id_len);
                let (nonce, ciphertext) = rest.split_at(12);
                let sealed = Sealed {
                    ciphertext: ciphertext.to_vec(),
                    nonce: nonce.to_vec(),
                    key_id: String::from_utf8_lossy(key_id).into_owned(),
                };
                let cipher = self.cipher.as_ref().ok_or(CryptoError::Tampered)?;
                cipher.open(&sealed, associated_data.as_bytes())
            }
            _ => Err(CryptoError::Tampered),
        }
    }

    pub(crate) fn open_text(
        &self,
        stored: &[u8],
        associated_data: &str,
        op: &'static str,
    ) -> Result<String, super::StoreError> {
        let bytes = self.open(stored, associated_data).map_err(|source| super::StoreError::Decrypt { op, source })?;
        String::from_utf8(bytes).map_err(|_| super::StoreError::NotUtf8 { op })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::MasterKey;

    #[test]
    fn sealed_values_hide_text_and_plain_values_still_read() {
        let sealer = Sealer::encrypting(FieldCipher::new(&MasterKey::from_bytes([1; 32])));
        let stored = sealer.seal(b"the secret phrase", "messages:1");
        assert!(!stored.windows(6).any(|window| window == b"secret"));
        assert_eq!(sealer.open(&stored, "messages:1").unwrap(), b"the secret phrase");
        assert!(sealer.open(&stored, "messages:2").is_err());
        let plain = Sealer::plain().seal(b"hello", "x");
        assert_eq!(sealer.open(&plain, "x").unwrap(), b"hello");
        assert!(Sealer::plain().open(&stored, "messages:1").is_err());
    }
}
