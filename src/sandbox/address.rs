//! Which network addresses a tool may reach: public ones, and private ones only when listed.
//!
//! Checked twice: once before sending, to give the tool a clear refusal, and again inside the
//! HTTP client's resolver at connect time, so a DNS answer that changes in between (rebinding)
//! cannot slip a private address through.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;

use reqwest::dns::{Addrs, Name, Resolve, Resolving};

use super::manifest::{HostPattern, HttpGrant};

/// True for addresses on the public internet; false for loopback, private, link-local (which
/// includes the 169.254.169.254 cloud metadata service), shared, reserved and similar ranges.
pub(crate) fn is_public(address: IpAddr) -> bool {
    match address {
        IpAddr::V4(v4) => is_public_v4(v4),
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_public_v4(v4);
            }
            let first = v6.segments()[0];
            !(v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (first & 0xfe00) == 0xfc00 // unique local, includes fd00:ec2::254 metadata
                || (first & 0xffc0) == 0xfe80 // link-local
                || (first == 0x2001 && v6.segments()[1] == 0x0db8) // documentation
                || v6.segments()[..6] == [0x64, 0xff9b, 0, 0, 0, 0]) // NAT64 of anything
        }
    }
}

fn is_public_v4(v4: Ipv4Addr) -> bool {
    let [a, b, c, _] = v4.octets();
    !(v4.is_loopback()
        || v4.is_private()
        || v4.is_link_local()
        || v4.is_broadcast()
        || v4.is_documentation()
        || v4.is_unspecified()
        || v4.is_multicast()
        || a == 0
        || (a == 100 && (64..128).contains(&b)) // shared address space (CGNAT)
        || (a == 192 && b == 0 && c == 0) // IETF protocol assignments
        || (a == 198 && (18..20).contains(&b)) // benchmarking
        || a >= 240) // reserved
}

/// The names a tool may resolve to private addresses, from its allowlist.
#[derive(Debug, Clone)]
pub(crate) struct PrivateAddressPolicy {
    allowed: Vec<HostPattern>,
}

impl PrivateAddressPolicy {
    pub(crate) fn from_grants(grants: &[HttpGrant]) -> Self {
        PrivateAddressPolicy {
            allowed: grants
                .iter()
                .filter(|grant| grant.allow_private_addresses)
                .map(|grant| grant.host.clone())
                .collect(),
        }
    }

    fn allows(&self, host: &str) -> bool {
        self.allowed.iter().any(|pattern| pattern.matches(host))
    }
}

/// reqwest resolver that refuses a name whose answer contains a non-public address, unless the
/// tool's allowlist lets that name reach private addresses.
pub(crate) struct GuardedResolver {
    pub(crate) policy: Arc<PrivateAddressPolicy>,
}

impl Resolve for GuardedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let policy = Arc::clone(&self.policy);
        Box::pin(async move {
            let host = name.as_str().to_string();
            let addresses: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            if !policy.allows(&host)
                && let Some(private) = addresses.iter().find(|address| !is_public(address.ip()))
            {
                return Err(format!("{host} resolved to non-public address {}", private.ip()).into());
            }
            let addresses: Addrs = Box::new(addresses.into_iter());
            Ok(addresses)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metadata_loopback_and_private_ranges_are_not_public() {
        for text in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "::1",
            "fe80::1",
            "fd00:ec2::254",
            "::ffff:127.0.0.1",
        ] {
            let address: IpAddr = text.parse().unwrap();
            assert!(!is_public(address), "{text} should not be public");
        }
        for text in ["93.184.216.34", "1.1.1.1", "2606:4700::1111"] {
            let address: IpAddr = text.parse().unwrap();
            assert!(is_public(address), "{text} should be public");
        }
    }
}
