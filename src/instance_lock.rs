//! One `chitin run` per SQLite database.
//!
//! SQLite is the single-node backend: a second service on the same file would run its own channel pollers,
//! schedulers and repairer, and its in-process caches (session histories, the memory vector copy) would miss the
//! other's writes. An OS lock on a file beside the database, held for the service's life and released by the OS
//! if the process dies, makes the second `chitin run` stop at start with a clear message instead. Other `chitin`
//! commands do not take it. PostgreSQL runs several nodes on purpose and takes none.

use std::fs::{File, OpenOptions, TryLockError};
use std::path::{Path, PathBuf};

/// Held while this process serves the database.
#[derive(Debug)]
pub struct InstanceLock {
    _file: File,
}

#[derive(Debug, thiserror::Error)]
#[error(
    "another `chitin run` is already serving {}; stop it first (`chitin status` shows it), or give this one its own data_dir",
    database.display()
)]
pub struct AlreadyRunning {
    pub database: PathBuf,
}

impl InstanceLock {
    /// Takes the lock for `database`, or says another process holds it. A lock file that cannot be made or locked
    /// (a read-only directory, a file system without locks) is logged and not enforced: the service then starts
    /// as it would without this check, and storage reports what is really wrong.
    pub fn acquire(database: &Path) -> Result<Option<InstanceLock>, AlreadyRunning> {
        let path = lock_path(database, ".run-lock");
        let file = match open_lock_file(&path) {
            Ok(file) => file,
            Err(error) => {
                tracing::warn!(lock = %path.display(), %error, "cannot create the instance lock; not enforcing one instance");
                return Ok(None);
            }
        };
        match file.try_lock() {
            Ok(()) => Ok(Some(InstanceLock { _file: file })),
            Err(TryLockError::WouldBlock) => Err(AlreadyRunning { database: database.to_path_buf() }),
            Err(TryLockError::Error(error)) => {
                tracing::warn!(lock = %path.display(), %error, "cannot take the instance lock; not enforcing one instance");
                Ok(None)
            }
        }
    }
}

/// `<database><suffix>`: a lock file beside a SQLite database (its run lock here, its migration lock in the store).
pub(crate) fn lock_path(database: &Path, suffix: &str) -> PathBuf {
    let mut name = database.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}

/// Opens the lock file at `path`, creating it empty if needed; its content never matters, only the OS lock on it.
pub(crate) fn open_lock_file(path: &Path) -> std::io::Result<File> {
    OpenOptions::new().create(true).truncate(false).write(true).open(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_holder_is_refused_until_the_first_lets_go() {
        let dir = tempfile::tempdir().unwrap();
        let database = dir.path().join("chitin.db");
        let first = InstanceLock::acquire(&database).unwrap().expect("lock taken");
        let refused = InstanceLock::acquire(&database).unwrap_err();
        assert!(refused.to_string().contains("chitin.db"), "{refused}");
        drop(first);
        assert!(InstanceLock::acquire(&database).unwrap().is_some(), "free again once the first holder is gone");
    }
}
