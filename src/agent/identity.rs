//! Identity files (`AGENTS.md`, `SOUL.md`, `USER.md`) kept in memory and re-read only when they change on disk.

use std::path::{Path, PathBuf};
use std::sync::{Arc, LazyLock};
use std::time::SystemTime;

use dashmap::DashMap;

/// What a file looked like when it was read: a changed length or modification time means read it again.
struct Cached {
    modified: Option<SystemTime>,
    len: u64,
    text: Arc<str>,
}

static FILES: LazyLock<DashMap<PathBuf, Cached>> = LazyLock::new(DashMap::new);

/// The file's text: from memory while its size and modification time are unchanged, otherwise from disk.
///
/// One `stat` per file per turn instead of open, read and close; the user's edits still apply on the next turn.
pub fn read(path: &Path) -> std::io::Result<Arc<str>> {
    let metadata = std::fs::metadata(path)?;
    let (modified, len) = (metadata.modified().ok(), metadata.len());
    if let Some(cached) = FILES.get(path)
        && cached.modified == modified
        && cached.len == len
        && modified.is_some()
    {
        return Ok(Arc::clone(&cached.text));
    }
    let text: Arc<str> = std::fs::read_to_string(path)?.into();
    FILES.insert(path.to_path_buf(), Cached { modified, len, text: Arc::clone(&text) });
    Ok(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_edit_is_seen_on_the_next_read() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("USER.md");
        std::fs::write(&path, "My name is Ada.").expect("write");
        assert_eq!(&*read(&path).expect("read"), "My name is Ada.");
        std::fs::write(&path, "My name is Grace Hopper.").expect("edit");
        assert_eq!(&*read(&path).expect("read again"), "My name is Grace Hopper.");
        std::fs::remove_file(&path).expect("remove");
        assert!(read(&path).is_err(), "a deleted file is not served from memory");
    }
}
