//! Names files as memory documents and finds the files under folders the user adds.

use std::path::{Component, Path, PathBuf};

/// Where a document came from; stored with it and usable as a search filter.
pub mod source {
    /// A file inside the workspace folder.
    pub const WORKSPACE: &str = "workspace";
    /// A file added with `chitin memory add` from outside the workspace.
    pub const IMPORT: &str = "import";
    /// Written by the agent (`memory_write`, the daily log).
    pub const AGENT: &str = "agent";
    /// A conversation summary written by compaction.
    pub const COMPACTION: &str = "compaction";
}

/// Why a workspace-relative path was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum WorkspacePathError {
    #[error("memory path `{0}` must be relative to the workspace and may not contain `..`")]
    Escapes(String),
    #[error("memory path is empty")]
    Empty,
}

/// The document path and source for `file`: relative to the workspace (with `/` separators) when
/// the file is inside it, else its absolute path. `file` must exist (it is canonicalised).
pub fn document_path(file: &Path, workspace_dir: &Path) -> std::io::Result<(String, &'static str)> {
    let file = file.canonicalize()?;
    if let Ok(workspace) = workspace_dir.canonicalize()
        && let Ok(relative) = file.strip_prefix(&workspace)
    {
        let parts: Vec<String> =
            relative.components().map(|part| part.as_os_str().to_string_lossy().into_owned()).collect();
        return Ok((parts.join("/"), source::WORKSPACE));
    }
    Ok((file.to_string_lossy().into_owned(), source::IMPORT))
}

/// Resolves a path the agent gave (`logs/2026-03-01.md`) inside the workspace, refusing any that
/// would leave it, so a tool call can never read or write elsewhere on disk.
pub fn workspace_file(workspace_dir: &Path, relative: &str) -> Result<PathBuf, WorkspacePathError> {
    let relative = relative.trim();
    if relative.is_empty() {
        return Err(WorkspacePathError::Empty);
    }
    let path = Path::new(relative);
    if !path.components().all(|component| matches!(component, Component::Normal(_))) {
        return Err(WorkspacePathError::Escapes(relative.to_string()));
    }
    Ok(workspace_dir.join(path))
}

/// Every regular file under `paths` (files as given, folders recursively), sorted, without
/// hidden files and folders (`.git`, editor swap files). Unreadable folders are reported and skipped.
pub fn collect_files(paths: &[PathBuf]) -> (Vec<PathBuf>, Vec<(PathBuf, std::io::Error)>) {
    let mut files = Vec::new();
    let mut problems = Vec::new();
    let mut pending: Vec<PathBuf> = paths.to_vec();
    while let Some(path) = pending.pop() {
        match std::fs::metadata(&path) {
            Ok(metadata) if metadata.is_dir() => match std::fs::read_dir(&path) {
                Ok(entries) => {
                    for entry in entries.flatten() {
                        let hidden = entry.file_name().to_string_lossy().starts_with('.');
                        if !hidden {
                            pending.push(entry.path());
                        }
                    }
                }
                Err(error) => problems.push((path, error)),
            },
            Ok(metadata) if metadata.is_file() => files.push(path),
            Ok(_) => {}
            Err(error) => problems.push((path, error)),
        }
    }
    files.sort();
    files.dedup();
    (files, problems)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn workspace_paths_cannot_escape() {
        let root = Path::new("/w");
        assert_eq!(workspace_file(root, "logs/a.md"), Ok(PathBuf::from("/w/logs/a.md")));
        assert!(matches!(workspace_file(root, "../etc/passwd"), Err(WorkspacePathError::Escapes(_))));
        assert!(matches!(workspace_file(root, "/etc/passwd"), Err(WorkspacePathError::Escapes(_))));
        assert_eq!(workspace_file(root, " "), Err(WorkspacePathError::Empty));
    }
}
