//! The data directory: created on first use, private to the user.

use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
#[error("cannot prepare the data directory {path} (set data_dir or CHITIN_DATA_DIR to another place)")]
pub struct DataDirError {
    pub path: PathBuf,
    #[source]
    pub source: std::io::Error,
}

/// Creates `path` (and parents) with mode 0700 when missing; an existing directory is left as the user set it.
pub fn ensure(path: &Path) -> Result<(), DataDirError> {
    use std::os::unix::fs::DirBuilderExt;
    let wrap = |source| DataDirError { path: path.to_path_buf(), source };
    if path.is_dir() {
        return Ok(());
    }
    std::fs::DirBuilder::new().recursive(true).mode(0o700).create(path).map_err(wrap)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn creates_missing_directory_private() {
        let temp = tempfile::tempdir().expect("tempdir");
        let path = temp.path().join("a/b/chitin");
        ensure(&path).expect("created");
        let mode = std::fs::metadata(&path).expect("metadata").permissions().mode() & 0o777;
        assert_eq!(mode, 0o700);
    }

    #[test]
    fn a_file_in_the_way_is_a_clear_error() {
        let temp = tempfile::tempdir().expect("tempdir");
        let path = temp.path().join("taken");
        std::fs::write(&path, b"not a directory").expect("write");
        let error = ensure(&path).expect_err("must fail");
        assert!(error.to_string().contains("taken"), "{error}");
    }
}
