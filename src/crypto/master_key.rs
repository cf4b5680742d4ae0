//! Loads the one master key Chitin derives every data-at-rest key from.

use std::fmt;
use std::fs::{self, OpenOptions};
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use hkdf::Hkdf;
use rand::RngCore;
use sha2::Sha256;
use zeroize::Zeroizing;

use super::CryptoError;

/// Environment variable that, when set, holds the master key as 64 hex digits.
pub const MASTER_KEY_ENV: &str = "CHITIN_MASTER_KEY";
/// Name of the key file inside `data_dir`, created on first run when the variable is unset.
pub const MASTER_KEY_FILE: &str = "master.key";

/// Short public fingerprint of a master key, stored next to every ciphertext.
///
/// It lets a wrong key be reported as "wrong master key" instead of as corruption, and it
/// reveals nothing about the key (it is an HKDF output under its own label).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct KeyId(String);

impl KeyId {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The 32-byte root secret. Never printed; its memory is wiped on drop.
///
/// Purpose keys (SQLCipher, field encryption, the secrets store) are derived with HKDF so
/// that no two uses ever share key material.
#[derive(Clone)]
pub struct MasterKey {
    bytes: Zeroizing<[u8; 32]>,
    key_id: KeyId,
}

impl fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MasterKey").field("key_id", &self.key_id).finish_non_exhaustive()
    }
}

impl MasterKey {
    /// Takes the key from `env_value` (the caller reads [`MASTER_KEY_ENV`]) or else from
    /// `data_dir/master.key`, creating that file with mode 0600 when it does not exist yet.
    pub fn load(env_value: Option<&str>, data_dir: &Path) -> Result<MasterKey, CryptoError> {
        if let Some(value) = env_value.filter(|value| !value.trim().is_empty()) {
            let bytes = parse_hex_key(value).ok_or(CryptoError::MalformedEnvKey)?;
            return Ok(MasterKey::from_bytes(bytes));
        }
        let path = data_dir.join(MASTER_KEY_FILE);
        match fs::read_to_string(&path) {
            Ok(text) => {
                let mode = fs::metadata(&path)
                    .map_err(|source| CryptoError::ReadKeyFile { path: path.clone(), source })?
                    .permissions()
                    .mode()
                    & 0o777;
                if mode & 0o077 != 0 {
                    return Err(CryptoError::KeyFileTooOpen { path, mode });
                }
                let bytes = parse_hex_key(&text).ok_or(CryptoError::MalformedKeyFile { path })?;
                Ok(MasterKey::from_bytes(bytes))
            }
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => create_key_file(&path),
            Err(source) => Err(CryptoError::ReadKeyFile { path, source }),
        }
    }

    /// Builds a key from raw bytes, for tests and for keys handed over by another tool.
    pub fn from_bytes(bytes: [u8; 32]) -> MasterKey {
        let bytes = Zeroizing::new(bytes);
        let mut id = [0u8; 8];
        derive_into(&bytes, b"chitin key id v1", &mut id);
        MasterKey { bytes, key_id: KeyId(hex::encode(id)) }
    }

    pub fn key_id(&self) -> &KeyId {
        &self.key_id
    }

    /// A fresh random key, for `chitin secret rotate-key`.
    pub fn generate() -> MasterKey {
        let mut bytes = [0u8; 32];
        rand::rng().fill_bytes(&mut bytes);
        let key = MasterKey::from_bytes(bytes);
        bytes.fill(0);
        key
    }

    /// The key as 64 hex digits, the form `CHITIN_MASTER_KEY` and the key file hold. Shown to the user only when
    /// a rotated key must go back into the environment variable.
    pub fn to_hex(&self) -> Zeroizing<String> {
        Zeroizing::new(hex::encode(self.bytes.as_ref()))
    }

    /// Writes the key to `path` with mode 0600 (replacing what was there) and syncs it to disk.
    pub fn write_key_file(&self, path: &Path) -> Result<(), CryptoError> {
        let create_error = |source| CryptoError::CreateKeyFile { path: path.to_path_buf(), source };
        let mut file =
            OpenOptions::new().write(true).create(true).truncate(true).mode(0o600).open(path).map_err(create_error)?;
        // An existing file keeps its mode on truncate: make sure it is private.
        fs::set_permissions(path, fs::Permissions::from_mode(0o600)).map_err(create_error)?;
        let text = Zeroizing::new(format!("{}\n", hex::encode(self.bytes.as_ref())));
        file.write_all(text.as_bytes()).and_then(|()| file.sync_all()).map_err(create_error)
    }

    /// Reads a key file written by [`MasterKey::write_key_file`]; `None` when it does not exist.
    pub fn read_key_file(path: &Path) -> Result<Option<MasterKey>, CryptoError> {
        match fs::read_to_string(path) {
            Ok(text) => parse_hex_key(&text)
                .map(|bytes| Some(MasterKey::from_bytes(bytes)))
                .ok_or(CryptoError::MalformedKeyFile { path: path.to_path_buf() }),
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(source) => Err(CryptoError::ReadKeyFile { path: path.to_path_buf(), source }),
        }
    }

    /// A 32-byte key for one purpose; different `purpose` labels give unrelated keys.
    pub fn derive(&self, purpose: &str) -> Zeroizing<[u8; 32]> {
        let mut out = Zeroizing::new([0u8; 32]);
        derive_into(&self.bytes, purpose.as_bytes(), out.as_mut());
        out
    }

    /// The raw key SQLCipher gets through `PRAGMA key = "x'…'"`, as 64 hex digits.
    pub fn sqlcipher_key_hex(&self) -> Zeroizing<String> {
        Zeroizing::new(hex::encode(self.derive("chitin sqlcipher v1").as_ref()))
    }
}

fn derive_into(ikm: &[u8; 32], info: &[u8], out: &mut [u8]) {
    // HKDF-SHA256 can emit up to 8160 bytes; every caller asks for 32 or fewer.
    if Hkdf::<Sha256>::new(None, ikm).expand(info, out).is_err() {
        tracing::error!(len = out.len(), "hkdf output length out of range");
    }
}

fn parse_hex_key(text: &str) -> Option<[u8; 32]> {
    let mut bytes = [0u8; 32];
    hex::decode_to_slice(text.trim(), &mut bytes).ok()?;
    Some(bytes)
}

fn create_key_file(path: &Path) -> Result<MasterKey, CryptoError> {
    let create_error = |source| CryptoError::CreateKeyFile { path: path.to_path_buf(), source };
    if let Some(dir) = path.parent() {
        fs::create_dir_all(dir).map_err(create_error)?;
    }
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    let key = MasterKey::from_bytes(bytes);
    bytes.fill(0);
    // Written whole to a private file first and then linked into place, which fails if the key file exists: a
    // process that loses the race to another one starting at the same moment reads the winner's complete key,
    // never a half-written file.
    let mut staged_name = path.as_os_str().to_owned();
    staged_name.push(format!(".{}.new", std::process::id()));
    let staged = PathBuf::from(staged_name);
    let text = Zeroizing::new(format!("{}\n", hex::encode(key.bytes.as_ref())));
    let written = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&staged)
        .and_then(|mut file| file.write_all(text.as_bytes()).and_then(|()| file.sync_all()));
    let published = written.and_then(|()| match fs::hard_link(&staged, path) {
        // A file system without hard links: create the key file directly (the race window comes back there).
        Err(error)
            if matches!(error.kind(), std::io::ErrorKind::Unsupported | std::io::ErrorKind::PermissionDenied) =>
        {
            OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(path)
                .and_then(|mut file| file.write_all(text.as_bytes()).and_then(|()| file.sync_all()))
        }
        linked => linked,
    });
    let _ = fs::remove_file(&staged);
    match published {
        Ok(()) => {
            tracing::info!(path = %path.display(), key_id = %key.key_id, "created master key file");
            Ok(key)
        }
        Err(error) if error.kind() == std::io::ErrorKind::AlreadyExists => {
            MasterKey::load(None, path.parent().unwrap_or(Path::new(".")))
        }
        Err(source) => Err(create_error(source)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_key_wins_and_must_be_hex() {
        let dir = tempfile::tempdir().unwrap();
        let key = MasterKey::load(Some(&"ab".repeat(32)), dir.path()).unwrap();
        assert_eq!(key.key_id(), MasterKey::from_bytes([0xab; 32]).key_id());
        assert!(!dir.path().join(MASTER_KEY_FILE).exists());
        assert!(matches!(MasterKey::load(Some("not-hex"), dir.path()), Err(CryptoError::MalformedEnvKey)));
    }

    #[test]
    fn key_file_is_created_private_and_reused() {
        let dir = tempfile::tempdir().unwrap();
        let first = MasterKey::load(None, &dir.path().join("data")).unwrap();
        let path = dir.path().join("data").join(MASTER_KEY_FILE);
        assert_eq!(fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
        let second = MasterKey::load(None, &dir.path().join("data")).unwrap();
        assert_eq!(first.key_id(), second.key_id());
        assert_ne!(first.derive("a").as_ref(), first.derive("b").as_ref());
    }

    #[test]
    fn key_file_readable_by_others_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        MasterKey::load(None, dir.path()).unwrap();
        let path = dir.path().join(MASTER_KEY_FILE);
        fs::set_permissions(&path, fs::Permissions::from_mode(0o644)).unwrap();
        let error = MasterKey::load(None, dir.path()).unwrap_err();
        assert!(matches!(error, CryptoError::KeyFileTooOpen { mode: 0o644, .. }), "{error}");
    }
}
