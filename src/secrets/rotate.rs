//! `chitin secret rotate-key`: a new master key, every sealed value moved to it, the key stored where the old was.
//!
//! Crash safety comes from order and idempotence. The new key is written to `master.key.new` (0600) before any
//! data changes, and the old key stays in `master.key` (or the environment) until the database is done. Running
//! the command again after a crash picks up `master.key.new` and finishes: values already under the new key are
//! skipped, and a SQLite file already re-keyed is opened with the new key.

use std::path::{Path, PathBuf};

use crate::crypto::{CryptoError, MASTER_KEY_FILE, MasterKey};
use crate::store::{DatabaseConfig, RotationReport, Store, StoreError};

/// The new key waits here until the database no longer needs the old one.
pub const PENDING_KEY_FILE: &str = "master.key.new";

#[derive(Debug, thiserror::Error)]
pub enum RotationError {
    #[error(transparent)]
    Key(#[from] CryptoError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("cannot replace {path} with the new key")]
    Replace {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// Where the old key came from, which decides where the new one goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeySource {
    /// `data_dir/master.key`: replaced in place.
    File,
    /// `CHITIN_MASTER_KEY`: the user must put the new key there; it is shown once.
    Environment,
}

/// What a finished rotation did.
pub struct Rotation {
    pub report: RotationReport,
    pub source: KeySource,
    pub old_key_id: String,
    pub new_key: MasterKey,
    /// True when this run finished a rotation an earlier run had started.
    pub resumed: bool,
}

/// Rotates the master key of `data_dir`'s store; `env_key` is the value of `CHITIN_MASTER_KEY`, if set.
pub async fn rotate_master_key(
    database: &DatabaseConfig,
    data_dir: &Path,
    env_key: Option<&str>,
) -> Result<Rotation, RotationError> {
    let source = match env_key.filter(|value| !value.trim().is_empty()) {
        Some(_) => KeySource::Environment,
        None => KeySource::File,
    };
    let old = MasterKey::load(env_key, data_dir)?;
    let pending_path = data_dir.join(PENDING_KEY_FILE);
    let (new, resumed) = match MasterKey::read_key_file(&pending_path)? {
        Some(pending) if pending.key_id() != old.key_id() => (pending, true),
        _ => {
            let fresh = MasterKey::generate();
            fresh.write_key_file(&pending_path)?;
            (fresh, false)
        }
    };
    // A SQLite file re-keyed by an interrupted run opens only with the new key.
    let (store, rekey_file) = match Store::connect(database, data_dir, &old).await {
        Ok(store) => (store, true),
        Err(StoreError::WrongMasterKey { .. }) if resumed => (Store::connect(database, data_dir, &new).await?, false),
        Err(error) => return Err(error.into()),
    };
    let rotated = store.rotate_master_key(&old, &new, rekey_file).await;
    store.close().await;
    let report = rotated?;
    match source {
        KeySource::File => {
            let key_path = data_dir.join(MASTER_KEY_FILE);
            std::fs::rename(&pending_path, &key_path)
                .map_err(|source| RotationError::Replace { path: key_path.clone(), source })?;
            sync_dir(data_dir);
        }
        // The caller shows the key, then calls `forget_pending`: until the user has seen it, the file is the
        // only copy.
        KeySource::Environment => {}
    }
    Ok(Rotation { report, source, old_key_id: old.key_id().to_string(), new_key: new, resumed })
}

/// Makes the rename durable; failure only weakens durability, so it is logged, not returned.
fn sync_dir(dir: &Path) {
    if let Err(error) = std::fs::File::open(dir).and_then(|handle| handle.sync_all()) {
        tracing::warn!(%error, dir = %dir.display(), "could not sync the data dir after replacing the key");
    }
}

/// After the new key was shown to the user (environment source), the pending copy is removed.
pub fn forget_pending(data_dir: &Path) {
    if let Err(error) = std::fs::remove_file(data_dir.join(PENDING_KEY_FILE))
        && error.kind() != std::io::ErrorKind::NotFound
    {
        tracing::warn!(%error, "could not remove the pending key file");
    }
}
