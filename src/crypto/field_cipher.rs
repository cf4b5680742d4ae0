//! AES-256-GCM for single values (message bodies, tool payloads) stored where the database itself is not encrypted.

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use rand::RngCore;

use super::{CryptoError, KeyId, MasterKey};

/// A value as it is stored: ciphertext with its tag, the random nonce, and the key that sealed it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sealed {
    pub ciphertext: Vec<u8>,
    pub nonce: Vec<u8>,
    pub key_id: String,
}

/// Seals values under a key derived from the master key for this one purpose.
///
/// Callers pass associated data that names where the value lives (e.g. `message:42`), so a
/// ciphertext copied into another row fails to open instead of showing up in the wrong place.
#[derive(Clone)]
pub struct FieldCipher {
    cipher: Aes256Gcm,
    key_id: KeyId,
}

impl FieldCipher {
    pub fn new(master_key: &MasterKey) -> FieldCipher {
        let key = master_key.derive("chitin field aes-256-gcm v1");
        let cipher = Aes256Gcm::new((&*key).into());
        FieldCipher { cipher, key_id: master_key.key_id().clone() }
    }

    pub fn key_id(&self) -> &KeyId {
        &self.key_id
    }

    pub fn seal(&self, plaintext: &[u8], associated_data: &[u8]) -> Sealed {
        let mut nonce = [0u8; 12];
        rand::rng().fill_bytes(&mut nonce);
        let payload = Payload { msg: plaintext, aad: associated_data };
        // Encryption fails only past GCM's 64 GiB message limit, which no stored value reaches.
        let ciphertext = self.cipher.encrypt(&Nonce::from(nonce), payload).unwrap_or_default();
        Sealed { ciphertext, nonce: nonce.to_vec(), key_id: self.key_id.as_str().to_owned() }
    }

    pub fn open(&self, sealed: &Sealed, associated_data: &[u8]) -> Result<Vec<u8>, CryptoError> {
        if sealed.key_id != self.key_id.as_str() {
            return Err(CryptoError::WrongKey { stored: sealed.key_id.clone(), current: self.key_id.clone() });
        }
        let nonce: [u8; 12] =
            sealed.nonce.as_slice().try_into().map_err(|_| CryptoError::BadNonce { len: sealed.nonce.len() })?;
        let payload = Payload { msg: &sealed.ciphertext, aad: associated_data };
        self.cipher.decrypt(&Nonce::from(nonce), payload).map_err(|_| CryptoError::Tampered)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_failures_are_told_apart() {
        let cipher = FieldCipher::new(&MasterKey::from_bytes([7; 32]));
        let sealed = cipher.seal("héllo 🌍".as_bytes(), b"message:1");
        assert_ne!(sealed.ciphertext, "héllo 🌍".as_bytes());
        assert_eq!(cipher.open(&sealed, b"message:1").unwrap(), "héllo 🌍".as_bytes());
        assert!(matches!(cipher.open(&sealed, b"message:2"), Err(CryptoError::Tampered)));

        let other = FieldCipher::new(&MasterKey::from_bytes([8; 32]));
        assert!(matches!(other.open(&sealed, b"message:1"), Err(CryptoError::WrongKey { .. })));

        let mut flipped = sealed.clone();
        flipped.ciphertext[0] ^= 1;
        assert!(matches!(cipher.open(&flipped, b"message:1"), Err(CryptoError::Tampered)));
    }
}
