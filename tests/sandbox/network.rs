//! The `http-fetch` path: grants, address checks, secret injection and leak scanning, observed
//! from a fake server that records everything it receives.

use chitin::sandbox::SandboxError;
use serde_json::json;

use super::call;
use crate::support::sandbox_fake_http::FakeHttpServer;
use crate::support::sandbox_fixture::{MapSecrets, sandbox_with};

const SECRET: &str = "sk-test-7f3a9c1e5b";

fn allow_fake(server: &FakeHttpServer, path: &str, methods: &str) -> String {
    format!("[[http]]\nurl = \"http://127.0.0.1:{}{path}\"\nmethods = [{methods}]\n", server.port)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_granted_host_receives_the_injected_credentials() {
    let server = FakeHttpServer::start().await;
    let manifest = format!(
        "{}[[secrets]]\nname = \"api_token\"\ninject = \"bearer\"\nhosts = [\"127.0.0.1\"]\n\
         [[secrets]]\nname = \"api_key\"\ninject = \"header\"\nheader = \"X-Api-Key\"\nhosts = [\"127.0.0.1\"]\n\
         [[secrets]]\nname = \"query_key\"\ninject = \"query\"\nquery_param = \"key\"\nhosts = [\"127.0.0.1\"]\n",
        allow_fake(&server, "/api/", "\"GET\"")
    );
    let secrets = MapSecrets::with(&[("api_token", SECRET), ("api_key", "key-42-zz"), ("query_key", "q-99-yy")]);
    let sandbox = sandbox_with("http_get", &manifest, secrets).await;
    let outcome = call(&sandbox, "http_get", json!({"url": server.url("/api/weather")})).await.expect("granted fetch");
    assert_eq!(outcome.output["status"], 200);
    assert_eq!(outcome.output["body"], "hello from fake");
    let requests = server.requests();
    assert_eq!(requests.len(), 1);
    assert_eq!(requests[0].header("authorization"), Some(format!("Bearer {SECRET}").as_str()));
    assert_eq!(requests[0].header("x-api-key"), Some("key-42-zz"));
    assert!(requests[0].uri.ends_with("/api/weather?key=q-99-yy"), "query injected: {}", requests[0].uri);
    assert!(!outcome.output.to_string().contains(SECRET), "the tool never sees the secret");
    assert_eq!(outcome.usage.http_requests, 1);
    assert_eq!(outcome.usage.hosts_contacted, vec![format!("127.0.0.1:{}", server.port)]);
    assert!(outcome.usage.capabilities_used.contains(&"secret api_token".to_string()), "{:?}", outcome.usage);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn secrets_go_only_to_the_hosts_listed_for_them() {
    let server = FakeHttpServer::start().await;
    let manifest = format!(
        "{}[[http]]\nurl = \"http://localhost:{}/\"\nmethods = [\"GET\"]\nallow_private_addresses = true\n\
         [[secrets]]\nname = \"api_token\"\ninject = \"bearer\"\nhosts = [\"127.0.0.1\"]\n",
        allow_fake(&server, "/", "\"GET\""),
        server.port
    );
    let sandbox = sandbox_with("http_get", &manifest, MapSecrets::with(&[("api_token", SECRET)])).await;
    call(&sandbox, "http_get", json!({"url": format!("http://localhost:{}/other", server.port)}))
        .await
        .expect("fetch via localhost");
    call(&sandbox, "http_get", json!({"url": server.url("/granted")})).await.expect("fetch via 127.0.0.1");
    let requests = server.requests();
    assert_eq!(requests.len(), 2);
    for request in &requests {
        let carries_secret = request.as_text().contains(SECRET);
        assert_eq!(carries_secret, request.uri.starts_with("/granted"), "secret only on the granted host: {request:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn paths_and_methods_outside_the_grant_are_refused() {
    let server = FakeHttpServer::start().await;
    let sandbox = sandbox_with("hostile", &allow_fake(&server, "/api", "\"GET\""), MapSecrets::with(&[])).await;
    for (method, path) in
        [("GET", "/admin"), ("GET", "/api/../admin"), ("GET", "/apix"), ("POST", "/api/x"), ("DELETE", "/api")]
    {
        let failure = call(&sandbox, "hostile", json!({"attack": "fetch", "method": method, "url": server.url(path)}))
            .await
            .expect_err("outside the grant");
        assert!(matches!(failure.error, SandboxError::CapabilityDenied { .. }), "{method} {path}: {failure}");
        assert_eq!(failure.usage.refusals.len(), 1, "the refusal is recorded for the audit log");
    }
    call(&sandbox, "hostile", json!({"attack": "fetch", "url": server.url("/api/ok")}))
        .await
        .expect("inside the grant");
    let paths: Vec<String> = server.requests().iter().map(|request| request.uri.clone()).collect();
    assert_eq!(paths, vec!["/api/ok".to_string()], "refused requests never reached the server");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unlisted_hosts_and_redirects_to_them_are_refused() {
    let server = FakeHttpServer::start().await;
    let sandbox = sandbox_with("hostile", &allow_fake(&server, "/", "\"GET\""), MapSecrets::with(&[])).await;
    let failure = call(&sandbox, "hostile", json!({"attack": "fetch", "url": "http://unlisted.example/steal"}))
        .await
        .expect_err("unlisted host");
    assert!(
        matches!(&failure.error, SandboxError::CapabilityDenied { capability, .. } if capability.contains("unlisted.example")),
        "{failure}"
    );
    let redirect = server.url("/redirect?to=http://unlisted.example/steal");
    let failure = call(&sandbox, "hostile", json!({"attack": "fetch", "url": redirect}))
        .await
        .expect_err("redirect to unlisted host");
    assert!(
        matches!(&failure.error, SandboxError::CapabilityDenied { capability, .. } if capability.contains("unlisted.example")),
        "{failure}"
    );
    assert_eq!(server.requests().len(), 1, "only the first hop was sent");
    let same_host = server.url(&format!("/redirect?to=http://127.0.0.1:{}/landed", server.port));
    let outcome = call(&sandbox, "hostile", json!({"attack": "fetch", "url": same_host}))
        .await
        .expect("redirect within the grant");
    assert_eq!(outcome.output["body"], "hello from fake");
    assert_eq!(server.requests().last().map(|request| request.uri.clone()), Some("/landed".to_string()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn private_and_metadata_addresses_are_refused_unless_listed() {
    let server = FakeHttpServer::start().await;
    // `localhost` is listed by name without allow_private_addresses: refused after DNS.
    let by_name = format!("[[http]]\nurl = \"http://localhost:{}/\"\nmethods = [\"GET\"]\n", server.port);
    let sandbox = sandbox_with("hostile", &by_name, MapSecrets::with(&[])).await;
    let failure =
        call(&sandbox, "hostile", json!({"attack": "fetch", "url": format!("http://localhost:{}/", server.port)}))
            .await
            .expect_err("loopback by name");
    assert!(
        matches!(&failure.error, SandboxError::CapabilityDenied { capability, .. } if capability.contains("non-public address")),
        "{failure}"
    );
    // A wildcard grant does not open private ranges either.
    let wildcard = format!(
        "[[http]]\nurl = \"http://*/\"\nmethods = [\"GET\"]\n[[http]]\nurl = \"http://*:{}/\"\nmethods = [\"GET\"]\n",
        server.port
    );
    let sandbox = sandbox_with("hostile", &wildcard, MapSecrets::with(&[])).await;
    for url in [server.url("/"), "http://169.254.169.254/latest/meta-data/".to_string()] {
        let failure =
            call(&sandbox, "hostile", json!({"attack": "fetch", "url": url})).await.expect_err("private address");
        assert!(
            matches!(&failure.error, SandboxError::CapabilityDenied { capability, .. } if capability.contains("non-public address")),
            "{url}: {failure}"
        );
        assert_eq!(failure.usage.http_requests, 0, "nothing was sent to {url}");
    }
    assert!(server.requests().is_empty(), "no request reached the loopback server");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exfiltration_of_a_secret_value_is_blocked_in_every_channel() {
    let server = FakeHttpServer::start().await;
    let sandbox = sandbox_with(
        "hostile",
        &allow_fake(&server, "/", "\"GET\", \"POST\""),
        MapSecrets::with(&[("api_token", SECRET)]),
    )
    .await;
    for via in ["url", "header", "body", "base64"] {
        let params = json!({"attack": "exfiltrate", "via": via, "secret": SECRET, "url": server.url("/collect")});
        let failure = call(&sandbox, "hostile", params).await.expect_err("exfiltration");
        assert!(matches!(failure.error, SandboxError::LeakBlocked { .. }), "via {via}: {failure}");
    }
    assert!(server.requests().is_empty(), "no exfiltration attempt reached the server");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_response_echoing_the_injected_secret_never_reaches_the_tool() {
    let server = FakeHttpServer::start().await;
    let manifest = format!(
        "{}[[secrets]]\nname = \"api_token\"\ninject = \"bearer\"\nhosts = [\"127.0.0.1\"]\n",
        allow_fake(&server, "/", "\"GET\"")
    );
    let sandbox = sandbox_with("hostile", &manifest, MapSecrets::with(&[("api_token", SECRET)])).await;
    let failure = call(&sandbox, "hostile", json!({"attack": "fetch", "url": server.url("/echo-headers")}))
        .await
        .expect_err("echoed secret");
    assert!(
        matches!(&failure.error, SandboxError::LeakBlocked { what, .. } if what.contains("response body")),
        "{failure}"
    );
    assert!(!failure.to_string().contains(SECRET));
    assert_eq!(server.requests().len(), 1, "the request itself was sent, with the credential");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_flood_is_rate_limited() {
    let server = FakeHttpServer::start().await;
    let manifest = format!("{}[rate_limit]\nhttp_requests_per_minute = 3\n", allow_fake(&server, "/", "\"GET\""));
    let sandbox = sandbox_with("hostile", &manifest, MapSecrets::with(&[])).await;
    let failure = call(&sandbox, "hostile", json!({"attack": "flood", "url": server.url("/"), "count": 50}))
        .await
        .expect_err("flood");
    assert!(matches!(failure.error, SandboxError::RateLimited { .. }), "{failure}");
    assert_eq!(server.requests().len(), 3);
    assert_eq!(failure.usage.http_requests, 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversized_responses_are_cut_off() {
    let server = FakeHttpServer::start().await;
    let manifest = format!("{}[limits]\nmax_response_bytes = 1024\n", allow_fake(&server, "/", "\"GET\""));
    let sandbox = sandbox_with("http_get", &manifest, MapSecrets::with(&[])).await;
    let failure = call(&sandbox, "http_get", json!({"url": server.url("/big")})).await.expect_err("2 MiB body");
    assert!(
        matches!(&failure.error, SandboxError::ToolFailed { message, .. } if message.contains("larger than 1024 bytes")),
        "{failure}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hung_peer_ends_with_the_wall_clock_limit() {
    let server = FakeHttpServer::start().await;
    let manifest =
        format!("{}[limits]\nwall_clock_ms = 400\nhttp_timeout_ms = 20000\n", allow_fake(&server, "/", "\"GET\""));
    let sandbox = sandbox_with("http_get", &manifest, MapSecrets::with(&[])).await;
    let started = std::time::Instant::now();
    let failure = call(&sandbox, "http_get", json!({"url": server.url("/hang")})).await.expect_err("hung peer");
    assert!(matches!(failure.error, SandboxError::Timeout { limit_ms: 400, .. }), "{failure}");
    assert!(started.elapsed() < std::time::Duration::from_secs(5), "took {:?}", started.elapsed());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redirect_to_another_allowed_host_drops_the_credential() {
    let server = FakeHttpServer::start().await;
    let manifest = format!(
        "{}[[http]]\nurl = \"http://localhost:{}/\"\nmethods = [\"GET\"]\nallow_private_addresses = true\n\
         [[secrets]]\nname = \"api_token\"\ninject = \"bearer\"\nhosts = [\"127.0.0.1\"]\n",
        allow_fake(&server, "/", "\"GET\""),
        server.port
    );
    let sandbox = sandbox_with("http_get", &manifest, MapSecrets::with(&[("api_token", SECRET)])).await;
    let hop = server.url(&format!("/redirect?to=http://localhost:{}/second-hop", server.port));
    let outcome = call(&sandbox, "http_get", json!({"url": hop})).await.expect("redirect between allowed hosts");
    assert_eq!(outcome.output["body"], "hello from fake");
    let requests = server.requests();
    assert_eq!(requests.len(), 2);
    assert!(requests[0].as_text().contains(SECRET), "first hop is the granted host");
    assert_eq!(requests[1].uri, "/second-hop");
    assert!(!requests[1].as_text().contains(SECRET), "second hop must not carry the credential");
    assert_eq!(outcome.usage.http_requests, 2);
}
