//! The sandbox's typed errors: what went wrong, for which tool, and where.

use std::path::PathBuf;

use super::cache::ComponentHash;
use super::manifest::ToolName;
use super::usage::ResourceUsage;

/// Why a manifest was rejected; `path` is the TOML key path (`http[0].url`, `limits.fuel`).
#[derive(Debug, thiserror::Error)]
pub enum ManifestError {
    #[error("manifest {file}: {path}: {message}")]
    Invalid { file: String, path: String, message: String },
    #[error("could not read manifest {path}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// Failures of the tool catalog (the record of installed, approved tools).
#[derive(Debug, thiserror::Error)]
pub enum CatalogError {
    #[error("could not read tool catalog {path}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("could not write tool catalog {path}")]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("tool catalog {path} is not valid JSON")]
    Corrupt {
        path: PathBuf,
        #[source]
        source: serde_json::Error,
    },
}

/// Everything that can fail when loading or running a tool.
#[derive(Debug, thiserror::Error)]
pub enum SandboxError {
    #[error(transparent)]
    Manifest(#[from] ManifestError),
    #[error(transparent)]
    Catalog(#[from] CatalogError),
    #[error("could not set up the wasm engine: {reason}")]
    Engine { reason: String },
    #[error("could not read component {path}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path} is not a WebAssembly file")]
    NotWasm { path: PathBuf },
    #[error("{path} is a core wasm module, not a component (build for wasm32-wasip2)")]
    NotAComponent { path: PathBuf },
    #[error("could not compile component {path}: {reason}")]
    Compile { path: PathBuf, reason: String },
    #[error("component {path} does not implement the chitin:tool world: {reason}")]
    WrongWorld { path: PathBuf, reason: String },
    #[error("component {path} describes itself as {described:?} but its manifest names {manifest}")]
    NameMismatch { path: PathBuf, described: String, manifest: ToolName },
    #[error("tool {tool} declares a parameters schema that is not JSON")]
    BadSchema {
        tool: ToolName,
        #[source]
        source: serde_json::Error,
    },
    #[error("could not write compiled-component cache {path}")]
    CacheWrite {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("could not store tool files in {path}")]
    Install {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("installing tool {tool} was not approved")]
    NotApproved { tool: ToolName },
    #[error("tool {tool} changed since it was approved (hash {found}, approved {approved}); install it again")]
    ChangedSinceApproval { tool: ToolName, approved: ComponentHash, found: ComponentHash },
    #[error("no tool named {tool} is installed")]
    UnknownTool { tool: ToolName },
    #[error("params for tool {tool} are not serialisable JSON")]
    Params {
        tool: ToolName,
        #[source]
        source: serde_json::Error,
    },
    #[error("tool {tool}: fuel exhausted (budget {budget})")]
    FuelExhausted { tool: ToolName, budget: u64 },
    #[error("tool {tool}: wall-clock limit of {limit_ms} ms exceeded")]
    Timeout { tool: ToolName, limit_ms: u64 },
    #[error("tool {tool}: memory limit of {limit_bytes} bytes exceeded")]
    MemoryExceeded { tool: ToolName, limit_bytes: u64 },
    #[error("tool {tool}: table limit exceeded")]
    TableExceeded { tool: ToolName },
    #[error("tool {tool}: stack overflow")]
    StackOverflow { tool: ToolName },
    #[error("tool {tool} trapped: {reason}")]
    Trapped { tool: ToolName, reason: String },
    #[error("tool {tool}: output of {size} bytes is over the {limit} byte limit")]
    OutputTooLarge { tool: ToolName, size: usize, limit: u64 },
    #[error("tool {tool} returned output that is not valid UTF-8")]
    InvalidUtf8Output { tool: ToolName },
    #[error("tool {tool} returned a result that is not JSON")]
    NonJsonOutput {
        tool: ToolName,
        #[source]
        source: serde_json::Error,
    },
    #[error("tool {tool} rejected its params: {message}")]
    InvalidParams { tool: ToolName, message: String },
    #[error("tool {tool} failed: {message}")]
    ToolFailed { tool: ToolName, message: String },
    #[error("tool {tool} was denied {capability}")]
    CapabilityDenied { tool: ToolName, capability: String },
    #[error("tool {tool} was rate limited: {limit}")]
    RateLimited { tool: ToolName, limit: String },
    #[error("tool {tool}: leak scan blocked {what}")]
    LeakBlocked { tool: ToolName, what: String },
    #[error("tool {tool}: host failure: {reason}")]
    Host { tool: ToolName, reason: String },
}

impl SandboxError {
    /// A stable snake_case name of the variant, for logs and audit records that must not carry
    /// the tool-controlled text some messages include.
    pub fn kind(&self) -> &'static str {
        match self {
            SandboxError::Manifest(_) => "manifest",
            SandboxError::Catalog(_) => "catalog",
            SandboxError::Engine { .. } => "engine",
            SandboxError::Read { .. } => "read",
            SandboxError::NotWasm { .. } => "not_wasm",
            SandboxError::NotAComponent { .. } => "not_a_component",
            SandboxError::Compile { .. } => "compile",
            SandboxError::WrongWorld { .. } => "wrong_world",
            SandboxError::NameMismatch { .. } => "name_mismatch",
            SandboxError::BadSchema { .. } => "bad_schema",
            SandboxError::CacheWrite { .. } => "cache_write",
            SandboxError::Install { .. } => "install",
            SandboxError::NotApproved { .. } => "not_approved",
            SandboxError::ChangedSinceApproval { .. } => "changed_since_approval",
            SandboxError::UnknownTool { .. } => "unknown_tool",
            SandboxError::Params { .. } => "params",
            SandboxError::FuelExhausted { .. } => "fuel_exhausted",
            SandboxError::Timeout { .. } => "timeout",
            SandboxError::MemoryExceeded { .. } => "memory_exceeded",
            SandboxError::TableExceeded { .. } => "table_exceeded",
            SandboxError::StackOverflow { .. } => "stack_overflow",
            SandboxError::Trapped { .. } => "trapped",
            SandboxError::OutputTooLarge { .. } => "output_too_large",
            SandboxError::InvalidUtf8Output { .. } => "invalid_utf8_output",
            SandboxError::NonJsonOutput { .. } => "non_json_output",
            SandboxError::InvalidParams { .. } => "invalid_params",
            SandboxError::ToolFailed { .. } => "tool_failed",
            SandboxError::CapabilityDenied { .. } => "capability_denied",
            SandboxError::RateLimited { .. } => "rate_limited",
            SandboxError::LeakBlocked { .. } => "leak_blocked",
            SandboxError::Host { .. } => "host",
        }
    }
}

/// A failed call together with what it used, so the audit log records denials and cost
/// even when the call did not succeed.
#[derive(Debug)]
pub struct ExecutionFailure {
    pub error: SandboxError,
    pub usage: ResourceUsage,
}

impl std::fmt::Display for ExecutionFailure {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.error.fmt(formatter)
    }
}

impl std::error::Error for ExecutionFailure {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        std::error::Error::source(&self.error)
    }
}

impl From<SandboxError> for ExecutionFailure {
    fn from(error: SandboxError) -> Self {
        ExecutionFailure { error, usage: ResourceUsage::default() }
    }
}
