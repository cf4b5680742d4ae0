//! What one call used and was refused, returned with its result for the audit log.

use std::time::Duration;

use serde::Serialize;

/// A capability the host refused during a call.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Refusal {
    pub kind: RefusalKind,
    /// What was asked for (host, path, secret name, tool); never a secret value.
    pub detail: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RefusalKind {
    Denied,
    RateLimited,
    LeakBlocked,
}

/// Cost and reach of one call.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ResourceUsage {
    pub fuel_consumed: u64,
    #[serde(with = "duration_micros")]
    pub duration: Duration,
    pub http_requests: u32,
    /// `host:port` of every request sent, in order, without repeats.
    pub hosts_contacted: Vec<String>,
    /// Capabilities exercised successfully (`http GET host`, `secret NAME`, `invoke TOOL`).
    pub capabilities_used: Vec<String>,
    pub refusals: Vec<Refusal>,
}

impl ResourceUsage {
    pub(crate) fn record_host(&mut self, host: String) {
        if !self.hosts_contacted.contains(&host) {
            self.hosts_contacted.push(host);
        }
    }

    /// Adds a nested `invoke-tool` call's use to its caller's, so the top-level call reports
    /// everything done on its behalf (its duration already spans the nested call).
    pub(crate) fn absorb(&mut self, nested: ResourceUsage) {
        self.fuel_consumed += nested.fuel_consumed;
        self.http_requests += nested.http_requests;
        for host in nested.hosts_contacted {
            self.record_host(host);
        }
        for capability in nested.capabilities_used {
            self.record_capability(capability);
        }
        self.refusals.extend(nested.refusals);
    }

    pub(crate) fn record_capability(&mut self, capability: String) {
        if !self.capabilities_used.contains(&capability) {
            self.capabilities_used.push(capability);
        }
    }
}

mod duration_micros {
    use std::time::Duration;

    pub fn serialize<S: serde::Serializer>(duration: &Duration, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_u128(duration.as_micros())
    }
}
