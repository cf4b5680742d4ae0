//! The record of installed tools (hash, manifest, approval), behind a trait the store can implement.

use std::future::Future;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::cache::ComponentHash;
use super::error::CatalogError;
use super::manifest::ToolName;

/// One installed tool. `approved` holds for exactly this `hash`: a changed binary is refused
/// until it is installed (and approved) again.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InstalledTool {
    pub name: ToolName,
    pub version: String,
    /// Hex sha256 of the `.wasm` that was approved.
    pub hash: ComponentHash,
    /// The manifest text as approved, so later edits to the file on disk change nothing.
    pub manifest: String,
    pub wasm_path: PathBuf,
    pub approved: bool,
}

/// Persistence of installed tools; the storage module can add a database-backed one.
pub trait ToolCatalog: Send + Sync {
    fn put(&self, tool: InstalledTool) -> impl Future<Output = Result<(), CatalogError>> + Send;
    fn get(&self, name: &ToolName) -> impl Future<Output = Result<Option<InstalledTool>, CatalogError>> + Send;
    fn list(&self) -> impl Future<Output = Result<Vec<InstalledTool>, CatalogError>> + Send;
    fn remove(&self, name: &ToolName) -> impl Future<Output = Result<Option<InstalledTool>, CatalogError>> + Send;
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct CatalogFile {
    tools: Vec<InstalledTool>,
}

/// A catalog in one JSON file in the data dir, rewritten atomically on every change.
pub struct JsonFileCatalog {
    path: PathBuf,
    // Serialises read-modify-write cycles within this process.
    lock: tokio::sync::Mutex<()>,
}

impl JsonFileCatalog {
    pub fn new(path: impl Into<PathBuf>) -> Self {
        JsonFileCatalog { path: path.into(), lock: tokio::sync::Mutex::new(()) }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    async fn read(&self) -> Result<CatalogFile, CatalogError> {
        match tokio::fs::read(&self.path).await {
            Ok(bytes) => serde_json::from_slice(&bytes)
                .map_err(|source| CatalogError::Corrupt { path: self.path.clone(), source }),
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(CatalogFile::default()),
            Err(source) => Err(CatalogError::Read { path: self.path.clone(), source }),
        }
    }

    async fn write(&self, mut file: CatalogFile) -> Result<(), CatalogError> {
        let write_error = |source| CatalogError::Write { path: self.path.clone(), source };
        file.tools.sort_by(|a, b| a.name.cmp(&b.name));
        let bytes = serde_json::to_vec_pretty(&file).map_err(|error| write_error(std::io::Error::other(error)))?;
        if let Some(parent) = self.path.parent() {
            tokio::fs::create_dir_all(parent).await.map_err(write_error)?;
        }
        let temporary = self.path.with_extension("json.tmp");
        tokio::fs::write(&temporary, bytes).await.map_err(write_error)?;
        tokio::fs::rename(&temporary, &self.path).await.map_err(write_error)
    }
}

impl ToolCatalog for JsonFileCatalog {
    async fn put(&self, tool: InstalledTool) -> Result<(), CatalogError> {
        let _guard = self.lock.lock().await;
        let mut file = self.read().await?;
        file.tools.retain(|existing| existing.name != tool.name);
        file.tools.push(tool);
        self.write(file).await
    }

    async fn get(&self, name: &ToolName) -> Result<Option<InstalledTool>, CatalogError> {
        let _guard = self.lock.lock().await;
        Ok(self.read().await?.tools.into_iter().find(|tool| &tool.name == name))
    }

    async fn list(&self) -> Result<Vec<InstalledTool>, CatalogError> {
        let _guard = self.lock.lock().await;
        Ok(self.read().await?.tools)
    }

    async fn remove(&self, name: &ToolName) -> Result<Option<InstalledTool>, CatalogError> {
        let _guard = self.lock.lock().await;
        let mut file = self.read().await?;
        let position = file.tools.iter().position(|tool| &tool.name == name);
        let removed = position.map(|index| file.tools.remove(index));
        if removed.is_some() {
            self.write(file).await?;
        }
        Ok(removed)
    }
}
