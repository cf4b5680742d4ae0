//! `chitin status`: asks the running instance for its actor tree.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::process::ExitCode;
use std::time::Duration;

use chitin_actors::HealthNode;

use crate::config::Config;

pub async fn status(config: &Config, json: bool) -> ExitCode {
    let addr = loopback_for(config.gateway.bind);
    let url = format!("http://{addr}/admin/status");
    let client = match reqwest::Client::builder().timeout(Duration::from_secs(5)).build() {
        Ok(client) => client,
        Err(error) => {
            eprintln!("error: cannot build an HTTP client: {error}");
            return ExitCode::FAILURE;
        }
    };
    let response = match client.get(&url).send().await {
        Ok(response) => response,
        Err(error) => {
            eprintln!(
                "no running Chitin answered at {url} ({error}); start one with `chitin run`, or check gateway.bind"
            );
            return ExitCode::from(3);
        }
    };
    if !response.status().is_success() {
        let code = response.status();
        let body = response.text().await.unwrap_or_default();
        eprintln!("error: {url} answered {code}: {}", body.trim());
        return ExitCode::FAILURE;
    }
    let tree: HealthNode = match response.json().await {
        Ok(tree) => tree,
        Err(error) => {
            eprintln!("error: {url} sent a status this chitin cannot read: {error}");
            return ExitCode::FAILURE;
        }
    };
    if json {
        match serde_json::to_string_pretty(&tree) {
            Ok(text) => println!("{text}"),
            Err(error) => {
                eprintln!("error: cannot print the status as JSON: {error}");
                return ExitCode::FAILURE;
            }
        }
    } else {
        print!("{}", tree.render());
    }
    ExitCode::SUCCESS
}

/// The admin route answers loopback callers only; a wildcard bind is reached through loopback.
fn loopback_for(bind: SocketAddr) -> SocketAddr {
    match bind.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), bind.port()),
        IpAddr::V6(ip) if ip.is_unspecified() => SocketAddr::new(IpAddr::V6(Ipv6Addr::LOCALHOST), bind.port()),
        _ => bind,
    }
}
