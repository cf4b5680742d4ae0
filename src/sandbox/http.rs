//! The `http-fetch` request path: allowlist → address check → leak scan → secret injection →
//! HTTP → leak scan → tool, with every redirect hop going through the same checks.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use secrecy::ExposeSecret;
use url::Url;

use super::address::{GuardedResolver, PrivateAddressPolicy, is_public};
use super::bindings::{HostError, HttpRequest, HttpResponse};
use super::error::SandboxError;
use super::limits::RateWindow;
use super::manifest::{HttpGrant, Injection, Manifest, SecretGrant, ToolName, normalise_host};
use super::ports::{LeakDirection, LeakGuard, SecretSource};
use super::usage::{RefusalKind, ResourceUsage};

const MAX_REDIRECTS: usize = 5;

/// Headers the tool may not set: the host controls framing and the target host.
const RESERVED_HEADERS: &[&str] = &["host", "content-length", "transfer-encoding", "connection", "upgrade"];

/// One tool's HTTP egress: its allowlist, secret grants, client and request rate.
pub(crate) struct HttpGateway {
    tool: ToolName,
    grants: Vec<HttpGrant>,
    secrets: Vec<SecretGrant>,
    /// Absent when the manifest grants no HTTP at all, which keeps loading such tools cheap.
    client: Option<reqwest::Client>,
    max_response_bytes: u64,
    rate: RateWindow,
}

/// A refusal or failure, with how the audit log should classify it.
pub(crate) struct FetchError {
    pub kind: Option<RefusalKind>,
    pub error: HostError,
}

impl FetchError {
    fn denied(message: String) -> Self {
        FetchError { kind: Some(RefusalKind::Denied), error: HostError::Denied(message) }
    }
    fn failed(message: String) -> Self {
        FetchError { kind: None, error: HostError::Failed(message) }
    }
}

impl HttpGateway {
    pub(crate) fn new(manifest: &Manifest) -> Result<Self, SandboxError> {
        let client = if manifest.http.is_empty() { None } else { Some(build_client(manifest)?) };
        Ok(HttpGateway {
            tool: manifest.name.clone(),
            grants: manifest.http.clone(),
            secrets: manifest.secrets.clone(),
            client,
            max_response_bytes: manifest.limits.max_response_bytes,
            rate: RateWindow::per_minute(manifest.rate_limit.http_requests_per_minute),
        })
    }

    pub(crate) async fn fetch(
        &self,
        request: HttpRequest,
        secrets: &dyn SecretSource,
        leak_guard: &dyn LeakGuard,
        usage: &mut ResourceUsage,
    ) -> Result<HttpResponse, FetchError> {
        let mut method = request.method.to_ascii_uppercase();
        let mut url = Url::parse(&request.url)
            .map_err(|error| FetchError::denied(format!("the request url does not parse: {error}")))?;
        let mut body = request.body;
        for _hop in 0..=MAX_REDIRECTS {
            let grant = self.authorize(&method, &url)?;
            check_addresses(&url, grant).await?;
            if !self.rate.try_acquire() {
                return Err(FetchError {
                    kind: Some(RefusalKind::RateLimited),
                    error: HostError::RateLimited(format!(
                        "more than {} HTTP requests per minute",
                        self.rate.capacity()
                    )),
                });
            }
            scan_request(leak_guard, &url, &request.headers, body.as_deref())?;
            let host = url.host_str().map(normalise_host).unwrap_or_default();
            let (url_to_send, injected_headers) = self.inject_secrets(&host, &url, secrets, usage)?;
            let headers = outgoing_headers(&request.headers, injected_headers)?;
            let method_value = reqwest::Method::from_bytes(method.as_bytes())
                .map_err(|_| FetchError::denied(format!("{method:?} is not an HTTP method")))?;
            let Some(client) = &self.client else {
                return Err(FetchError::denied("no HTTP access is granted".into()));
            };
            let mut builder = client.request(method_value, url_to_send).headers(headers);
            if let Some(bytes) = &body {
                builder = builder.body(bytes.clone());
            }
            usage.http_requests += 1;
            usage.record_host(format!("{host}:{}", url.port_or_known_default().unwrap_or(0)));
            usage.record_capability(format!("http {method} {host}"));
            tracing::debug!(tool = %self.tool, %method, %host, path = url.path(), "sending tool HTTP request");
            let response = builder.send().await.map_err(|error| {
                FetchError::failed(format!("request to {host} failed: {}", crate::error_chain::describe(&error)))
            })?;
            let status = response.status();
            if status.is_redirection()
                && let Some(location) = response.headers().get(reqwest::header::LOCATION)
            {
                let location =
                    location.to_str().map_err(|_| FetchError::failed("redirect location is not text".into()))?;
                url = url
                    .join(location)
                    .map_err(|error| FetchError::failed(format!("the redirect location does not parse: {error}")))?;
                if status == reqwest::StatusCode::SEE_OTHER || (method == "POST" && status.as_u16() <= 302) {
                    method = "GET".into();
                    body = None;
                }
                continue;
            }
            let response_headers: Vec<(String, String)> = response
                .headers()
                .iter()
                .filter_map(|(name, value)| Some((name.to_string(), value.to_str().ok()?.to_string())))
                .collect();
            let response_body = self.read_capped(response, &host).await?;
            for (name, value) in &response_headers {
                check_leak(
                    leak_guard,
                    LeakDirection::Response,
                    format!("{name}: {value}").as_bytes(),
                    "response header",
                )?;
            }
            check_leak(leak_guard, LeakDirection::Response, &response_body, "response body")?;
            return Ok(HttpResponse { status: status.as_u16(), headers: response_headers, body: response_body });
        }
        Err(FetchError::failed(format!("more than {MAX_REDIRECTS} redirects")))
    }

    /// The first allowlist entry that permits this method on this URL, or a denial saying
    /// which part did not match.
    fn authorize(&self, method: &str, url: &Url) -> Result<&HttpGrant, FetchError> {
        if !url.username().is_empty() || url.password().is_some() {
            return Err(FetchError::denied("URLs with credentials are not allowed".into()));
        }
        let host =
            url.host_str().map(normalise_host).ok_or_else(|| FetchError::denied(format!("url {url} has no host")))?;
        let port = url.port_or_known_default().unwrap_or(0);
        let for_host: Vec<&HttpGrant> = self
            .grants
            .iter()
            .filter(|grant| grant.scheme == url.scheme() && grant.port == port && grant.host.matches(&host))
            .collect();
        if for_host.is_empty() {
            return Err(FetchError::denied(format!("host {}://{host}:{port} is not on the allowlist", url.scheme())));
        }
        let path = url.path();
        let for_path: Vec<&HttpGrant> =
            for_host.into_iter().filter(|grant| path_has_prefix(path, &grant.path_prefix)).collect();
        if for_path.is_empty() {
            return Err(FetchError::denied(format!("path {path} on {host} is not under an allowed prefix")));
        }
        for_path
            .into_iter()
            .find(|grant| grant.methods.iter().any(|allowed| allowed == method))
            .ok_or_else(|| FetchError::denied(format!("method {method} on {host}{path} is not allowed")))
    }

    /// Applies every secret granted for `host`; returns the URL to send and headers to set.
    fn inject_secrets(
        &self,
        host: &str,
        url: &Url,
        secrets: &dyn SecretSource,
        usage: &mut ResourceUsage,
    ) -> Result<(Url, HeaderMap), FetchError> {
        let mut url = url.clone();
        let mut headers = HeaderMap::new();
        for grant in self.secrets.iter().filter(|grant| grant.hosts.iter().any(|allowed| allowed == host)) {
            let Some(secret) = secrets.get(&grant.name) else {
                continue;
            };
            let value = secret.expose_secret();
            let header_value = |text: &str| {
                let mut header = HeaderValue::from_str(text)
                    .map_err(|_| FetchError::failed(format!("secret {} is not a valid header value", grant.name)))?;
                header.set_sensitive(true);
                Ok::<_, FetchError>(header)
            };
            match &grant.injection {
                Injection::Header(name) => {
                    let name = HeaderName::from_bytes(name.as_bytes())
                        .map_err(|_| FetchError::failed(format!("bad header name for secret {}", grant.name)))?;
                    headers.insert(name, header_value(value)?);
                }
                Injection::Bearer => {
                    headers.insert(reqwest::header::AUTHORIZATION, header_value(&format!("Bearer {value}"))?);
                }
                Injection::Query(param) => {
                    url.query_pairs_mut().append_pair(param, value);
                }
            }
            usage.record_capability(format!("secret {}", grant.name));
        }
        Ok((url, headers))
    }

    async fn read_capped(&self, mut response: reqwest::Response, host: &str) -> Result<Vec<u8>, FetchError> {
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(|error| {
            FetchError::failed(format!("reading response from {host} failed: {}", crate::error_chain::describe(&error)))
        })? {
            if (body.len() + chunk.len()) as u64 > self.max_response_bytes {
                return Err(FetchError::failed(format!(
                    "response from {host} is larger than {} bytes",
                    self.max_response_bytes
                )));
            }
            body.extend_from_slice(&chunk);
        }
        Ok(body)
    }
}

/// A client that follows no redirects, ignores proxy settings and resolves names through the
/// private-address guard.
fn build_client(manifest: &Manifest) -> Result<reqwest::Client, SandboxError> {
    let timeout = Duration::from_millis(manifest.limits.http_timeout_ms);
    let resolver = GuardedResolver { policy: Arc::new(PrivateAddressPolicy::from_grants(&manifest.http)) };
    reqwest::Client::builder()
        // Redirects are followed by hand so each hop is re-checked against the allowlist.
        .redirect(reqwest::redirect::Policy::none())
        // A proxy from the environment would bypass the address checks.
        .no_proxy()
        .timeout(timeout)
        .connect_timeout(timeout.min(Duration::from_secs(5)))
        .dns_resolver(Arc::new(resolver))
        .build()
        .map_err(|error| SandboxError::Engine {
            reason: format!("could not build the HTTP client for {}: {error}", manifest.name),
        })
}

/// `/v1/` matches `/v1/x`; `/v1` matches `/v1` and `/v1/x` but not `/v10`.
fn path_has_prefix(path: &str, prefix: &str) -> bool {
    path.starts_with(prefix)
        && (prefix.ends_with('/') || path.len() == prefix.len() || path[prefix.len()..].starts_with('/'))
}

async fn check_addresses(url: &Url, grant: &HttpGrant) -> Result<(), FetchError> {
    let port = url.port_or_known_default().unwrap_or(0);
    let addresses: Vec<IpAddr> = match url.host() {
        Some(url::Host::Ipv4(v4)) => vec![IpAddr::V4(v4)],
        Some(url::Host::Ipv6(v6)) => vec![IpAddr::V6(v6)],
        Some(url::Host::Domain(domain)) => tokio::net::lookup_host((domain, port))
            .await
            .map_err(|error| FetchError::failed(format!("could not resolve {domain}: {error}")))?
            .map(|address| address.ip())
            .collect(),
        None => return Err(FetchError::denied(format!("url {url} has no host"))),
    };
    for address in addresses {
        if !is_public(address) && !grant.allow_private_addresses && !grant.names_address(address) {
            return Err(FetchError::denied(format!(
                "{} resolves to non-public address {address}, which the allowlist does not list",
                url.host_str().unwrap_or_default()
            )));
        }
    }
    Ok(())
}

fn scan_request(
    guard: &dyn LeakGuard,
    url: &Url,
    headers: &[(String, String)],
    body: Option<&[u8]>,
) -> Result<(), FetchError> {
    check_leak(guard, LeakDirection::Request, url.as_str().as_bytes(), "request url")?;
    for (name, value) in headers {
        check_leak(guard, LeakDirection::Request, format!("{name}: {value}").as_bytes(), "request header")?;
    }
    if let Some(body) = body {
        check_leak(guard, LeakDirection::Request, body, "request body")?;
    }
    Ok(())
}

fn check_leak(guard: &dyn LeakGuard, direction: LeakDirection, bytes: &[u8], what: &str) -> Result<(), FetchError> {
    guard.check(direction, bytes).map_err(|blocked| FetchError {
        kind: Some(RefusalKind::LeakBlocked),
        error: HostError::Blocked(format!("{what}: {}", blocked.reason)),
    })
}

fn outgoing_headers(from_tool: &[(String, String)], injected: HeaderMap) -> Result<HeaderMap, FetchError> {
    let mut headers = HeaderMap::new();
    for (name, value) in from_tool {
        let header_name = HeaderName::from_bytes(name.as_bytes())
            .map_err(|_| FetchError::failed(format!("{name:?} is not a valid header name")))?;
        // The tool cannot pre-empt an injected credential or the host's framing headers.
        if RESERVED_HEADERS.contains(&header_name.as_str()) || injected.contains_key(&header_name) {
            continue;
        }
        let header_value = HeaderValue::from_str(value)
            .map_err(|_| FetchError::failed(format!("value of header {name} is not valid")))?;
        headers.append(header_name, header_value);
    }
    headers.extend(injected);
    Ok(headers)
}

#[cfg(test)]
mod tests {
    use super::path_has_prefix;

    #[test]
    fn path_prefixes_match_whole_segments() {
        assert!(path_has_prefix("/v1/users", "/v1/"));
        assert!(path_has_prefix("/v1", "/v1"));
        assert!(path_has_prefix("/v1/users", "/v1"));
        assert!(!path_has_prefix("/v10/users", "/v1"));
        assert!(!path_has_prefix("/v2/users", "/v1/"));
        assert!(path_has_prefix("/anything", "/"));
    }
}
