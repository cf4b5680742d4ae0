//! The WASM tool sandbox: runs untrusted tools with only the capabilities their manifest grants.
//!
//! A tool is a wasm component built against `wit/tool.wit`. Its manifest (TOML next to the
//! `.wasm`) lists what it may reach; [`Sandbox`] compiles it once (cached on disk), then runs
//! every call in a fresh store with fuel, memory, wall-clock and output limits. All network
//! access goes through the host's `http-fetch`, which enforces the allowlist, refuses private
//! addresses, runs the leak scan and injects secrets the tool never sees.

mod address;
mod bindings;
mod cache;
mod call;
mod catalog;
mod commands;
mod config;
mod engine;
mod error;
mod host;
mod http;
mod limits;
mod manifest;
mod outcome;
mod ports;
mod runtime;
mod usage;

pub use cache::{ComponentHash, content_hash};
pub use call::{CallContext, CallId, InspectedComponent, SandboxServices, SandboxStats, ToolDescription, ToolOutcome};
pub use catalog::{InstalledTool, JsonFileCatalog, ToolCatalog};
pub use commands::{
    Approver, CapabilityRequest, InstallRequest, ToolInfoReport, ToolListEntry, load_installed, tool_info,
    tool_install, tool_list, tool_remove, tool_run,
};
pub use config::{MAX_CONCURRENT_CALLS, SandboxConfig};
pub use error::{CatalogError, ExecutionFailure, ManifestError, SandboxError};
pub use limits::{Limits, RateLimits};
pub use manifest::{HostPattern, HttpGrant, Injection, Manifest, SecretGrant, ToolName};
pub use ports::{LeakBlocked, LeakDirection, LeakGuard, SecretSource};
pub use runtime::Sandbox;
pub use usage::{Refusal, RefusalKind, ResourceUsage};
