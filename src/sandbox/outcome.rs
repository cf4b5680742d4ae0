//! Turning how a call ended (trap, tool error, output) into the call's typed result.

use wasmtime::Trap;

use super::bindings::ToolError;
use super::error::SandboxError;
use super::host::CallLimiter;
use super::limits::Limits;
use super::manifest::ToolName;
use super::usage::{RefusalKind, ResourceUsage};

/// Raised from the epoch callback when a call's wall-clock budget runs out.
#[derive(Debug)]
pub(crate) struct WallClockExpired;

impl std::fmt::Display for WallClockExpired {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str("wall-clock deadline reached")
    }
}

impl std::error::Error for WallClockExpired {}

pub(crate) fn check_output(tool: &ToolName, output: &str, limits: &Limits) -> Result<serde_json::Value, SandboxError> {
    if output.len() as u64 > limits.max_output_bytes {
        return Err(SandboxError::OutputTooLarge {
            tool: tool.clone(),
            size: output.len(),
            limit: limits.max_output_bytes,
        });
    }
    serde_json::from_str(output).map_err(|source| SandboxError::NonJsonOutput { tool: tool.clone(), source })
}

/// A tool that failed right after the host refused it something most likely failed because
/// of that refusal, so the refusal (host-observed, not tool-claimed) becomes the call's error.
pub(crate) fn classify_tool_error(tool: ToolName, tool_error: ToolError, usage: &ResourceUsage) -> SandboxError {
    if let Some(refusal) = usage.refusals.first() {
        let detail = refusal.detail.clone();
        return match refusal.kind {
            RefusalKind::Denied => SandboxError::CapabilityDenied { tool, capability: detail },
            RefusalKind::RateLimited => SandboxError::RateLimited { tool, limit: detail },
            RefusalKind::LeakBlocked => SandboxError::LeakBlocked { tool, what: detail },
        };
    }
    match tool_error {
        ToolError::InvalidParams(message) => SandboxError::InvalidParams { tool, message },
        ToolError::Failed(message) => SandboxError::ToolFailed { tool, message },
    }
}

pub(crate) fn classify_trap(
    tool: &ToolName,
    error: wasmtime::Error,
    limiter: &CallLimiter,
    limits: &Limits,
) -> SandboxError {
    let tool = tool.clone();
    if error.downcast_ref::<WallClockExpired>().is_some() {
        return SandboxError::Timeout { tool, limit_ms: limits.wall_clock_ms };
    }
    if let Some(trap) = error.downcast_ref::<Trap>() {
        match trap {
            Trap::OutOfFuel => {
                return SandboxError::FuelExhausted { tool, budget: limits.fuel };
            }
            Trap::StackOverflow => return SandboxError::StackOverflow { tool },
            Trap::Interrupt => {
                return SandboxError::Timeout { tool, limit_ms: limits.wall_clock_ms };
            }
            _ => {}
        }
    }
    if limiter.memory_refused {
        return SandboxError::MemoryExceeded { tool, limit_bytes: limits.memory_bytes };
    }
    if limiter.table_refused {
        return SandboxError::TableExceeded { tool };
    }
    // Lifting a returned `string` validates it with `str::from_utf8`.
    if error.downcast_ref::<std::str::Utf8Error>().is_some() {
        return SandboxError::InvalidUtf8Output { tool };
    }
    // The trap itself, without the wasm backtrace wasmtime attaches as context.
    let reason = match error.downcast_ref::<Trap>() {
        Some(trap) => trap.to_string(),
        None => error.root_cause().to_string(),
    };
    SandboxError::Trapped { tool, reason }
}
