//! The `chitin tool …` commands as library functions; the CLI front-end parses and prints.

use std::path::{Path, PathBuf};

use serde::Serialize;

use super::cache::{ComponentHash, content_hash};
use super::call::{CallContext, CallId, InspectedComponent, ToolOutcome};
use super::catalog::{InstalledTool, ToolCatalog};
use super::error::{ExecutionFailure, ManifestError, SandboxError};
use super::limits::{Limits, RateLimits};
use super::manifest::{Manifest, ToolName};
use super::runtime::Sandbox;

/// `chitin tool install PATH [--manifest FILE]`; the manifest defaults to PATH with `.toml`.
#[derive(Debug, Clone)]
pub struct InstallRequest {
    pub wasm_path: PathBuf,
    pub manifest_path: Option<PathBuf>,
}

/// What the user is asked to approve at install time.
#[derive(Debug, Clone, Serialize)]
pub struct CapabilityRequest {
    pub name: ToolName,
    pub version: String,
    pub hash: ComponentHash,
    pub description: String,
    pub capabilities: Vec<String>,
    pub limits: Limits,
    pub rate_limit: RateLimits,
    /// Hash of the version being replaced, when there is one.
    pub replaces_hash: Option<ComponentHash>,
}

/// The text of the install prompt: what the tool is and everything it asks for.
impl std::fmt::Display for CapabilityRequest {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(formatter, "{} {} ({})", self.name, self.version, self.description)?;
        writeln!(formatter, "  sha256 {}", self.hash)?;
        if let Some(previous) = &self.replaces_hash {
            writeln!(formatter, "  replaces sha256 {previous}")?;
        }
        if self.capabilities.is_empty() {
            writeln!(formatter, "  capabilities: none")?;
        } else {
            writeln!(formatter, "  capabilities:")?;
            for capability in &self.capabilities {
                writeln!(formatter, "    - {capability}")?;
            }
        }
        write!(
            formatter,
            "  limits: fuel {}, memory {} bytes, {} ms, output {} bytes; {} calls/min, {} requests/min",
            self.limits.fuel,
            self.limits.memory_bytes,
            self.limits.wall_clock_ms,
            self.limits.max_output_bytes,
            self.rate_limit.calls_per_minute,
            self.rate_limit.http_requests_per_minute
        )
    }
}

/// Decides whether a tool may be installed; the CLI asks on the terminal, `--yes` approves.
pub trait Approver {
    fn approve(&self, request: &CapabilityRequest) -> bool;
}

/// One element of `chitin tool list --json` (a fixed output contract).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ToolListEntry {
    pub name: ToolName,
    pub version: String,
    pub hash: ComponentHash,
    pub capabilities: Vec<String>,
}

/// `chitin tool info NAME`.
#[derive(Debug, Clone, Serialize)]
pub struct ToolInfoReport {
    pub name: ToolName,
    pub version: String,
    pub hash: ComponentHash,
    pub approved: bool,
    pub wasm_path: PathBuf,
    pub capabilities: Vec<String>,
    pub limits: Limits,
    pub rate_limit: RateLimits,
}

fn read_manifest_file(path: &Path) -> Result<(String, Manifest), SandboxError> {
    let text =
        std::fs::read_to_string(path).map_err(|source| ManifestError::Read { path: path.to_path_buf(), source })?;
    let manifest = Manifest::parse(&text, &path.display().to_string())?;
    Ok((text, manifest))
}

/// Validates the component and manifest, asks for approval, copies both into the tools dir,
/// records them in the catalog and loads the tool into `sandbox`.
pub async fn tool_install<C: ToolCatalog>(
    sandbox: &Sandbox,
    catalog: &C,
    tools_dir: &Path,
    request: &InstallRequest,
    approver: &dyn Approver,
) -> Result<InstalledTool, SandboxError> {
    let manifest_path = request.manifest_path.clone().unwrap_or_else(|| request.wasm_path.with_extension("toml"));
    let (manifest_text, manifest) = read_manifest_file(&manifest_path)?;
    let InspectedComponent { description, hash } = sandbox.inspect(&request.wasm_path, &manifest).await?;
    let previous = catalog.get(&manifest.name).await?;
    let capability_request = CapabilityRequest {
        name: manifest.name.clone(),
        version: manifest.version.clone(),
        hash: hash.clone(),
        description: description.description,
        capabilities: manifest.capabilities(),
        limits: manifest.limits.clone(),
        rate_limit: manifest.rate_limit.clone(),
        replaces_hash: previous.map(|tool| tool.hash),
    };
    if !approver.approve(&capability_request) {
        return Err(SandboxError::NotApproved { tool: manifest.name });
    }
    let install_error = |source| SandboxError::Install { path: tools_dir.to_path_buf(), source };
    tokio::fs::create_dir_all(tools_dir).await.map_err(install_error)?;
    let wasm_bytes = tokio::fs::read(&request.wasm_path)
        .await
        .map_err(|source| SandboxError::Read { path: request.wasm_path.clone(), source })?;
    // The file could have changed since it was inspected; only the approved bytes are kept.
    let found = content_hash(&wasm_bytes);
    if found != hash {
        return Err(SandboxError::ChangedSinceApproval { tool: manifest.name, approved: hash, found });
    }
    let wasm_path = tools_dir.join(format!("{}.wasm", manifest.name));
    tokio::fs::write(&wasm_path, &wasm_bytes).await.map_err(install_error)?;
    tokio::fs::write(tools_dir.join(format!("{}.toml", manifest.name)), &manifest_text).await.map_err(install_error)?;
    let installed = InstalledTool {
        name: manifest.name.clone(),
        version: manifest.version.clone(),
        hash,
        manifest: manifest_text,
        wasm_path: wasm_path.clone(),
        approved: true,
    };
    catalog.put(installed.clone()).await?;
    sandbox.load_tool(&wasm_path, manifest).await?;
    tracing::info!(tool = %installed.name, hash = %installed.hash, "tool installed");
    Ok(installed)
}

pub async fn tool_list<C: ToolCatalog>(catalog: &C) -> Result<Vec<ToolListEntry>, SandboxError> {
    let mut entries = Vec::new();
    for tool in catalog.list().await? {
        let manifest = Manifest::parse(&tool.manifest, tool.name.as_str())?;
        entries.push(ToolListEntry {
            name: tool.name,
            version: tool.version,
            hash: tool.hash,
            capabilities: manifest.capabilities(),
        });
    }
    Ok(entries)
}

pub async fn tool_info<C: ToolCatalog>(catalog: &C, name: &ToolName) -> Result<ToolInfoReport, SandboxError> {
    let tool = catalog.get(name).await?.ok_or_else(|| SandboxError::UnknownTool { tool: name.clone() })?;
    let manifest = Manifest::parse(&tool.manifest, tool.name.as_str())?;
    Ok(ToolInfoReport {
        name: tool.name,
        version: tool.version,
        hash: tool.hash,
        approved: tool.approved,
        wasm_path: tool.wasm_path,
        capabilities: manifest.capabilities(),
        limits: manifest.limits,
        rate_limit: manifest.rate_limit,
    })
}

/// Removes the catalog record, unloads the tool and deletes its installed files.
pub async fn tool_remove<C: ToolCatalog>(
    sandbox: &Sandbox,
    catalog: &C,
    name: &ToolName,
) -> Result<InstalledTool, SandboxError> {
    let removed = catalog.remove(name).await?.ok_or_else(|| SandboxError::UnknownTool { tool: name.clone() })?;
    sandbox.unload_tool(name);
    for path in [removed.wasm_path.clone(), removed.wasm_path.with_extension("toml")] {
        if let Err(error) = tokio::fs::remove_file(&path).await
            && error.kind() != std::io::ErrorKind::NotFound
        {
            return Err(SandboxError::Install { path, source: error });
        }
    }
    Ok(removed)
}

/// Loads an installed tool after checking that the binary is still the approved one.
pub async fn load_installed<C: ToolCatalog>(
    sandbox: &Sandbox,
    catalog: &C,
    name: &ToolName,
) -> Result<(), SandboxError> {
    let tool = catalog.get(name).await?.ok_or_else(|| SandboxError::UnknownTool { tool: name.clone() })?;
    if !tool.approved {
        return Err(SandboxError::NotApproved { tool: tool.name });
    }
    let bytes = tokio::fs::read(&tool.wasm_path)
        .await
        .map_err(|source| SandboxError::Read { path: tool.wasm_path.clone(), source })?;
    let found = content_hash(&bytes);
    if found != tool.hash {
        return Err(SandboxError::ChangedSinceApproval { tool: tool.name, approved: tool.hash, found });
    }
    let manifest = Manifest::parse(&tool.manifest, tool.name.as_str())?;
    sandbox.load_tool(&tool.wasm_path, manifest).await?;
    Ok(())
}

/// `chitin tool run NAME --params JSON`: one call with the tool's real limits.
pub async fn tool_run<C: ToolCatalog>(
    sandbox: &Sandbox,
    catalog: &C,
    name: &ToolName,
    params: &serde_json::Value,
) -> Result<ToolOutcome, ExecutionFailure> {
    load_installed(sandbox, catalog, name).await?;
    sandbox.execute(name, params, CallContext::new(CallId(format!("cli-{}", std::process::id())))).await
}
