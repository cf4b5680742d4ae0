//! `GET /readyz`: is Chitin ready to take traffic — storage reachable and every enabled channel running?
//!
//! Load balancers and service managers call it without credentials, so it names components and their states
//! but never the details (`/admin/status` keeps those for loopback callers).

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use chitin_actors::{ActorState, HealthNode};
use serde::Serialize;

use super::StatusPort;

/// Name of the storage node the status port puts at the top of the tree.
const STORAGE: &str = "storage";
/// Name of the supervisor whose children are the channel actors.
const CHANNELS: &str = "channels";

#[derive(Debug, Serialize, PartialEq)]
pub struct Readiness {
    pub ready: bool,
    pub checks: Vec<Check>,
}

#[derive(Debug, Serialize, PartialEq)]
pub struct Check {
    pub name: String,
    pub state: ActorState,
}

/// `GET /readyz`: 200 when ready, 503 with the failing checks otherwise.
pub fn readiness_routes(status: Arc<dyn StatusPort>) -> Router {
    Router::new().route("/readyz", get(readyz)).with_state(status)
}

async fn readyz(State(status): State<Arc<dyn StatusPort>>) -> Response {
    let readiness = match status.status().await {
        Ok(tree) => assess(&tree),
        Err(_) => Readiness { ready: false, checks: Vec::new() },
    };
    let code = if readiness.ready { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE };
    (code, Json(readiness)).into_response()
}

/// Storage must be running, and so must the channels supervisor and every channel under it.
pub fn assess(tree: &HealthNode) -> Readiness {
    let mut checks = Vec::new();
    match tree.find(STORAGE) {
        Some(storage) => checks.push(Check { name: STORAGE.into(), state: storage.state }),
        None => checks.push(Check { name: STORAGE.into(), state: ActorState::Failed }),
    }
    match tree.find(CHANNELS) {
        Some(channels) => {
            checks.push(Check { name: CHANNELS.into(), state: channels.state });
            checks.extend(
                channels
                    .children
                    .iter()
                    .map(|channel| Check { name: format!("{CHANNELS}/{}", channel.name), state: channel.state }),
            );
        }
        None => checks.push(Check { name: CHANNELS.into(), state: ActorState::Failed }),
    }
    let ready = checks.iter().all(|check| check.state == ActorState::Running);
    Readiness { ready, checks }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(name: &str, state: ActorState, children: Vec<HealthNode>) -> HealthNode {
        HealthNode { name: name.into(), state, restarts: 0, detail: "secret-ish detail".into(), children }
    }

    fn tree(storage: ActorState, telegram: ActorState) -> HealthNode {
        node(
            "chitin",
            ActorState::Running,
            vec![
                node(STORAGE, storage, vec![]),
                node(CHANNELS, ActorState::Running, vec![node("telegram", telegram, vec![])]),
                node("jobs", ActorState::Degraded, vec![]),
            ],
        )
    }

    #[test]
    fn ready_only_when_storage_and_every_channel_run() {
        assert!(assess(&tree(ActorState::Running, ActorState::Running)).ready);
        let degraded_channel = assess(&tree(ActorState::Running, ActorState::Degraded));
        assert!(!degraded_channel.ready);
        assert!(
            degraded_channel.checks.contains(&Check { name: "channels/telegram".into(), state: ActorState::Degraded })
        );
        assert!(!assess(&tree(ActorState::Degraded, ActorState::Running)).ready);
    }

    #[test]
    fn components_outside_storage_and_channels_do_not_gate_readiness() {
        // `jobs` is degraded in the fixture; readiness is about taking messages in.
        let readiness = assess(&tree(ActorState::Running, ActorState::Running));
        assert!(readiness.ready);
        assert!(!readiness.checks.iter().any(|check| check.name == "jobs"));
    }

    #[test]
    fn never_shows_details() {
        let json = serde_json::to_string(&assess(&tree(ActorState::Running, ActorState::Degraded))).unwrap();
        assert!(!json.contains("secret-ish"), "{json}");
    }
}
