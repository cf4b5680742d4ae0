//! Per-tool resource limits and rate limits, always on, with safe defaults.

use std::collections::VecDeque;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

/// Resource limits for one call; a manifest may lower or raise them up to the host's ceilings.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct Limits {
    /// Wasm fuel per call (about one unit per instruction); stops runaway computation
    /// deterministically, independent of machine load.
    pub fuel: u64,
    /// Linear memory a call may grow to, in bytes.
    pub memory_bytes: u64,
    /// Wall-clock budget per call, including time spent in host imports.
    pub wall_clock_ms: u64,
    /// Largest result the tool may return, so one call cannot flood the model's context.
    pub max_output_bytes: u64,
    /// Timeout of one HTTP request made through `http-fetch`.
    pub http_timeout_ms: u64,
    /// Largest HTTP response body (and workspace file) handed to the tool.
    pub max_response_bytes: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            fuel: 2_000_000_000,
            memory_bytes: 64 << 20,
            wall_clock_ms: 10_000,
            max_output_bytes: 256 << 10,
            http_timeout_ms: 10_000,
            max_response_bytes: 4 << 20,
        }
    }
}

impl Limits {
    pub(crate) fn validate(&self) -> Result<(), (&'static str, String)> {
        let positive = [
            ("fuel", self.fuel),
            ("memory_bytes", self.memory_bytes),
            ("wall_clock_ms", self.wall_clock_ms),
            ("max_output_bytes", self.max_output_bytes),
            ("http_timeout_ms", self.http_timeout_ms),
            ("max_response_bytes", self.max_response_bytes),
        ];
        for (field, value) in positive {
            if value == 0 {
                return Err((field, "must be greater than zero".into()));
            }
        }
        Ok(())
    }
}

/// Calls and HTTP requests per minute for one tool, across all its concurrent calls.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct RateLimits {
    /// Calls of this tool per minute.
    pub calls_per_minute: u32,
    /// HTTP requests (each redirect hop counts) per minute.
    pub http_requests_per_minute: u32,
}

impl Default for RateLimits {
    fn default() -> Self {
        RateLimits { calls_per_minute: 60, http_requests_per_minute: 60 }
    }
}

impl RateLimits {
    pub(crate) fn validate(&self) -> Result<(), (&'static str, String)> {
        if self.calls_per_minute == 0 {
            return Err(("calls_per_minute", "must be greater than zero".into()));
        }
        if self.http_requests_per_minute == 0 {
            return Err(("http_requests_per_minute", "must be greater than zero".into()));
        }
        Ok(())
    }
}

/// A sliding one-minute window of events; `try_acquire` refuses once `capacity` is reached.
#[derive(Debug)]
pub(crate) struct RateWindow {
    capacity: usize,
    window: Duration,
    events: Mutex<VecDeque<Instant>>,
}

impl RateWindow {
    pub(crate) fn per_minute(capacity: u32) -> Self {
        RateWindow { capacity: capacity as usize, window: Duration::from_secs(60), events: Mutex::new(VecDeque::new()) }
    }

    pub(crate) fn capacity(&self) -> usize {
        self.capacity
    }

    pub(crate) fn try_acquire(&self) -> bool {
        let now = Instant::now();
        // A poisoned lock only means another call panicked mid-update; the queue is still usable.
        let mut events = self.events.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        while events.front().is_some_and(|&at| now.duration_since(at) >= self.window) {
            events.pop_front();
        }
        if events.len() >= self.capacity {
            return false;
        }
        events.push_back(now);
        true
    }
}
