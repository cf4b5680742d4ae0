//! Tool manifests: the TOML file next to a `.wasm` that lists every capability the tool gets.
//!
//! Nothing is granted unless listed here, and every limit has a safe default. Parsing is two
//! steps, raw serde structs then validation into typed grants, and every rejection names the
//! key path that was wrong (`http[1].url`, `limits.fuel`).

use std::fmt;
use std::net::IpAddr;

use serde::{Deserialize, Serialize};

use super::error::ManifestError;
use super::limits::{Limits, RateLimits};

/// A tool's name as it appears in manifests, the catalog and the model's tool list.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ToolName(String);

impl ToolName {
    /// Lowercase ASCII letters, digits, `_` and `-`, 1 to 64 characters: safe as a file name.
    pub fn new(name: impl Into<String>) -> Result<Self, String> {
        let name = name.into();
        let valid_chars = name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-');
        if name.is_empty() || name.len() > 64 || !valid_chars {
            return Err(format!("tool name {name:?} must be 1-64 characters of a-z, 0-9, '_' or '-'"));
        }
        Ok(ToolName(name))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for ToolName {
    type Error = String;
    fn try_from(name: String) -> Result<Self, String> {
        ToolName::new(name)
    }
}

impl From<ToolName> for String {
    fn from(name: ToolName) -> String {
        name.0
    }
}

impl fmt::Display for ToolName {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(&self.0)
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawManifest {
    name: ToolName,
    version: String,
    #[serde(default)]
    http: Vec<RawHttpGrant>,
    #[serde(default)]
    secrets: Vec<RawSecretGrant>,
    #[serde(default)]
    tools: Vec<ToolName>,
    #[serde(default)]
    workspace_read: Vec<String>,
    #[serde(default)]
    rate_limit: RateLimits,
    #[serde(default)]
    limits: Limits,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawHttpGrant {
    url: String,
    methods: Vec<String>,
    #[serde(default)]
    allow_private_addresses: bool,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSecretGrant {
    name: String,
    inject: InjectionKind,
    #[serde(default)]
    header: Option<String>,
    #[serde(default)]
    query_param: Option<String>,
    hosts: Vec<String>,
}

#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
enum InjectionKind {
    Header,
    Bearer,
    Query,
}

/// A validated manifest: the only source of a tool's capabilities.
#[derive(Debug, Clone)]
pub struct Manifest {
    pub name: ToolName,
    pub version: String,
    pub http: Vec<HttpGrant>,
    pub secrets: Vec<SecretGrant>,
    /// Tools this one may call through `invoke-tool`.
    pub tools: Vec<ToolName>,
    /// Workspace path prefixes (relative, `/`-separated) this tool may read.
    pub workspace_read: Vec<String>,
    pub rate_limit: RateLimits,
    pub limits: Limits,
}

/// One allowlist entry: a request must match scheme, host, port, path prefix and method.
#[derive(Debug, Clone)]
pub struct HttpGrant {
    pub scheme: String,
    pub host: HostPattern,
    pub port: u16,
    pub path_prefix: String,
    /// Upper-case method names.
    pub methods: Vec<String>,
    /// Lets this entry reach loopback/private/link-local addresses; an IP-literal host
    /// implies it for that address only.
    pub allow_private_addresses: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HostPattern {
    /// `*`: any host (private addresses still refused unless allowed).
    Any,
    /// `*.example.com`: subdomains of example.com, not example.com itself.
    Subdomains(String),
    Exact(String),
}

impl HostPattern {
    pub fn matches(&self, host: &str) -> bool {
        match self {
            HostPattern::Any => true,
            HostPattern::Subdomains(parent) => {
                host.strip_suffix(parent.as_str()).is_some_and(|rest| rest.len() > 1 && rest.ends_with('.'))
            }
            HostPattern::Exact(exact) => exact == host,
        }
    }
}

impl fmt::Display for HostPattern {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HostPattern::Any => formatter.write_str("*"),
            HostPattern::Subdomains(parent) => write!(formatter, "*.{parent}"),
            HostPattern::Exact(host) => formatter.write_str(host),
        }
    }
}

/// How the host puts a secret into a request; the tool only ever learns whether it exists.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Injection {
    Header(String),
    Bearer,
    Query(String),
}

#[derive(Debug, Clone)]
pub struct SecretGrant {
    pub name: String,
    pub injection: Injection,
    /// Exact host names the secret may be sent to; each must also be on the HTTP allowlist.
    pub hosts: Vec<String>,
}

impl Manifest {
    /// Parses and validates manifest text; `file` names the source in error messages.
    pub fn parse(text: &str, file: &str) -> Result<Manifest, ManifestError> {
        let invalid = |path: String, message: String| ManifestError::Invalid { file: file.to_string(), path, message };
        let deserializer =
            toml::Deserializer::parse(text).map_err(|error| invalid(String::new(), error.to_string()))?;
        let raw: RawManifest = serde_path_to_error::deserialize(deserializer).map_err(|error| {
            let path = error.path().to_string();
            invalid(path, error.into_inner().message().to_string())
        })?;
        if raw.version.trim().is_empty() {
            return Err(invalid("version".into(), "must not be empty".into()));
        }
        let mut http = Vec::with_capacity(raw.http.len());
        for (index, grant) in raw.http.iter().enumerate() {
            http.push(
                parse_http_grant(grant)
                    .map_err(|(field, message)| invalid(format!("http[{index}].{field}"), message))?,
            );
        }
        let mut secrets = Vec::with_capacity(raw.secrets.len());
        for (index, grant) in raw.secrets.into_iter().enumerate() {
            secrets.push(
                parse_secret_grant(grant, &http)
                    .map_err(|(field, message)| invalid(format!("secrets[{index}].{field}"), message))?,
            );
        }
        for (index, prefix) in raw.workspace_read.iter().enumerate() {
            if prefix.starts_with('/') || prefix.split('/').any(|part| part == "..") {
                return Err(invalid(format!("workspace_read[{index}]"), "must be a relative path without '..'".into()));
            }
        }
        raw.limits.validate().map_err(|(field, message)| invalid(format!("limits.{field}"), message))?;
        raw.rate_limit.validate().map_err(|(field, message)| invalid(format!("rate_limit.{field}"), message))?;
        Ok(Manifest {
            name: raw.name,
            version: raw.version,
            http,
            secrets,
            tools: raw.tools,
            workspace_read: raw.workspace_read,
            rate_limit: raw.rate_limit,
            limits: raw.limits,
        })
    }

    /// One line per capability, for the install prompt, `tool info` and `tool list --json`.
    pub fn capabilities(&self) -> Vec<String> {
        let mut lines = Vec::new();
        for grant in &self.http {
            lines.push(format!(
                "http {} {}://{}:{}{}{}",
                grant.methods.join(","),
                grant.scheme,
                grant.host,
                grant.port,
                grant.path_prefix,
                if grant.allow_private_addresses { " (private addresses allowed)" } else { "" }
            ));
        }
        for secret in &self.secrets {
            let how = match &secret.injection {
                Injection::Header(name) => format!("header {name}"),
                Injection::Bearer => "bearer token".to_string(),
                Injection::Query(param) => format!("query parameter {param}"),
            };
            lines.push(format!("secret {} as {how} to {}", secret.name, secret.hosts.join(",")));
        }
        for tool in &self.tools {
            lines.push(format!("invoke tool {tool}"));
        }
        for prefix in &self.workspace_read {
            lines.push(format!("read workspace {prefix}"));
        }
        lines
    }
}

fn parse_http_grant(raw: &RawHttpGrant) -> Result<HttpGrant, (&'static str, String)> {
    // `url` rejects `*` in hosts, so the wildcard is swapped for a placeholder label first.
    const PLACEHOLDER: &str = "chitin-wildcard-host";
    let (scheme, rest) = raw
        .url
        .split_once("://")
        .ok_or(("url", format!("{:?} has no scheme (expected http:// or https://)", raw.url)))?;
    let (wildcard, parse_text) = if let Some(after) = rest.strip_prefix("*.") {
        (Some(true), format!("{scheme}://{PLACEHOLDER}.{after}"))
    } else if rest == "*" || rest.starts_with("*/") || rest.starts_with("*:") {
        (Some(false), format!("{scheme}://{PLACEHOLDER}{}", &rest[1..]))
    } else {
        (None, raw.url.clone())
    };
    let url = url::Url::parse(&parse_text)
        .map_err(|error| ("url", format!("{:?} is not a valid URL pattern: {error}", raw.url)))?;
    if url.scheme() != "http" && url.scheme() != "https" {
        return Err(("url", format!("scheme {:?} is not http or https", url.scheme())));
    }
    if !url.username().is_empty() || url.password().is_some() || url.query().is_some() || url.fragment().is_some() {
        return Err(("url", "must not contain credentials, a query or a fragment".into()));
    }
    let host_text = normalise_host(url.host_str().ok_or(("url", "has no host".to_string()))?);
    let host = match wildcard {
        Some(false) => HostPattern::Any,
        Some(true) => HostPattern::Subdomains(
            host_text.strip_prefix(&format!("{PLACEHOLDER}.")).unwrap_or(&host_text).to_string(),
        ),
        None => HostPattern::Exact(host_text),
    };
    let port = url.port_or_known_default().ok_or(("url", "has no port and no default port".to_string()))?;
    if raw.methods.is_empty() {
        return Err(("methods", "must list at least one method".into()));
    }
    let mut methods = Vec::new();
    for method in &raw.methods {
        let upper = method.to_ascii_uppercase();
        if !["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"].contains(&upper.as_str()) {
            return Err(("methods", format!("{method:?} is not an HTTP method")));
        }
        methods.push(upper);
    }
    Ok(HttpGrant {
        scheme: url.scheme().to_string(),
        host,
        port,
        path_prefix: url.path().to_string(),
        methods,
        allow_private_addresses: raw.allow_private_addresses,
    })
}

fn parse_secret_grant(raw: RawSecretGrant, http: &[HttpGrant]) -> Result<SecretGrant, (&'static str, String)> {
    if raw.name.trim().is_empty() {
        return Err(("name", "must not be empty".into()));
    }
    let injection = match (raw.inject, raw.header, raw.query_param) {
        (InjectionKind::Header, Some(header), None) => {
            reqwest::header::HeaderName::from_bytes(header.as_bytes())
                .map_err(|_| ("header", format!("{header:?} is not a valid header name")))?;
            Injection::Header(header)
        }
        (InjectionKind::Bearer, None, None) => Injection::Bearer,
        (InjectionKind::Query, None, Some(param)) if !param.is_empty() => Injection::Query(param),
        (InjectionKind::Header, ..) => {
            return Err(("header", "inject = \"header\" needs `header` and nothing else".into()));
        }
        (InjectionKind::Query, ..) => {
            return Err(("query_param", "inject = \"query\" needs `query_param` and nothing else".into()));
        }
        (InjectionKind::Bearer, ..) => {
            return Err(("inject", "inject = \"bearer\" takes no `header` or `query_param`".into()));
        }
    };
    if raw.hosts.is_empty() {
        return Err(("hosts", "must list the hosts the secret may be sent to".into()));
    }
    let hosts: Vec<String> = raw.hosts.iter().map(|host| normalise_host(host)).collect();
    for host in &hosts {
        if !http.iter().any(|grant| grant.host == HostPattern::Exact(host.clone())) {
            return Err(("hosts", format!("{host} is not an exact host on the http allowlist")));
        }
    }
    Ok(SecretGrant { name: raw.name, injection, hosts })
}

/// Lower-case, no trailing dot, no IPv6 brackets: the form hosts are compared in.
pub fn normalise_host(host: &str) -> String {
    host.trim_end_matches('.').trim_start_matches('[').trim_end_matches(']').to_ascii_lowercase()
}

impl HttpGrant {
    /// Whether this entry names exactly `address` as its host (an explicit listing).
    pub fn names_address(&self, address: IpAddr) -> bool {
        matches!(&self.host, HostPattern::Exact(host) if host.parse::<IpAddr>().ok() == Some(address))
    }
}

#[cfg(test)]
mod tests {
    use super::HostPattern;

    #[test]
    fn host_patterns_match_as_documented() {
        let subdomains = HostPattern::Subdomains("example.com".into());
        assert!(subdomains.matches("api.example.com"));
        assert!(subdomains.matches("a.b.example.com"));
        assert!(!subdomains.matches("example.com"));
        assert!(!subdomains.matches("badexample.com"));
        assert!(HostPattern::Exact("example.com".into()).matches("example.com"));
        assert!(!HostPattern::Exact("example.com".into()).matches("api.example.com"));
        assert!(HostPattern::Any.matches("anything.test"));
    }
}
