//! Health reports: what each actor says about itself, assembled by supervisors into a tree.

use std::fmt;

use ractor::{ActorRef, Message, RpcReplyPort};
use serde::{Deserialize, Serialize};

/// How long a supervisor waits for a child's own report before calling it unresponsive.
pub const PROBE_TIMEOUT_MS: u64 = 1_000;

/// Coarse state of one actor, as its supervisor sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ActorState {
    /// Running and answering.
    Running,
    /// Running but its own report says something is wrong (e.g. storage unreachable).
    Degraded,
    /// Alive but did not answer a health probe in time (busy or stuck).
    Unresponsive,
    /// Failed and waiting for its backoff to expire before a restart.
    Restarting,
    /// Stopped on purpose.
    Stopped,
    /// Failed and will not be restarted (budget spent).
    Failed,
}

impl fmt::Display for ActorState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let word = match self {
            ActorState::Running => "running",
            ActorState::Degraded => "degraded",
            ActorState::Unresponsive => "unresponsive",
            ActorState::Restarting => "restarting",
            ActorState::Stopped => "stopped",
            ActorState::Failed => "failed",
        };
        f.write_str(word)
    }
}

/// What an actor reports about itself when probed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SelfReport {
    /// `Running` or `Degraded`; supervisors fill in the other states.
    pub state: ActorState,
    /// One short line for `chitin status` (e.g. "3 sessions", "no store connected").
    pub detail: String,
    /// Children this actor owns that its supervisor does not know about (sessions, workers).
    pub children: Vec<HealthNode>,
}

impl SelfReport {
    pub fn running(detail: impl Into<String>) -> Self {
        Self { state: ActorState::Running, detail: detail.into(), children: Vec::new() }
    }
}

/// One node of the health tree printed by `chitin status`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HealthNode {
    pub name: String,
    pub state: ActorState,
    /// Restarts since the process started.
    pub restarts: u64,
    pub detail: String,
    pub children: Vec<HealthNode>,
}

impl HealthNode {
    /// True when this node and every node below it is running.
    pub fn all_running(&self) -> bool {
        self.state == ActorState::Running && self.children.iter().all(HealthNode::all_running)
    }

    /// Finds a node by its name anywhere in the tree.
    pub fn find(&self, name: &str) -> Option<&HealthNode> {
        if self.name == name {
            return Some(self);
        }
        self.children.iter().find_map(|child| child.find(name))
    }

    /// Renders the tree with box-drawing guides, one actor per line.
    pub fn render(&self) -> String {
        let mut out = String::new();
        self.render_into(&mut out, "", true, true);
        out
    }

    fn render_into(&self, out: &mut String, prefix: &str, last: bool, root: bool) {
        let (branch, next_prefix) = if root {
            ("", String::new())
        } else if last {
            ("└── ", format!("{prefix}    "))
        } else {
            ("├── ", format!("{prefix}│   "))
        };
        let detail = if self.detail.is_empty() { String::new() } else { format!("  {}", self.detail) };
        out.push_str(&format!("{prefix}{branch}{} [{}, restarts {}]{detail}\n", self.name, self.state, self.restarts));
        for (index, child) in self.children.iter().enumerate() {
            child.render_into(out, &next_prefix, index + 1 == self.children.len(), false);
        }
    }
}

/// A message type that can carry a health probe, so supervisors can ask any child how it is.
pub trait HealthProbe: Message + Sized {
    fn health_probe(reply: RpcReplyPort<SelfReport>) -> Self;
}

/// Asks one actor for its report, bounded by [`PROBE_TIMEOUT_MS`].
pub async fn probe<M: HealthProbe>(actor: &ActorRef<M>) -> Option<SelfReport> {
    ractor::call_t!(actor, M::health_probe, PROBE_TIMEOUT_MS).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn leaf(name: &str, state: ActorState) -> HealthNode {
        HealthNode { name: name.into(), state, restarts: 0, detail: String::new(), children: vec![] }
    }

    #[test]
    fn render_draws_a_tree_and_finds_nodes() {
        let tree = HealthNode {
            name: "root".into(),
            state: ActorState::Running,
            restarts: 0,
            detail: String::new(),
            children: vec![leaf("a", ActorState::Running), leaf("b", ActorState::Restarting)],
        };
        let text = tree.render();
        assert_eq!(text, "root [running, restarts 0]\n├── a [running, restarts 0]\n└── b [restarting, restarts 0]\n");
        assert!(!tree.all_running());
        assert_eq!(tree.find("b").map(|n| n.state), Some(ActorState::Restarting));
    }
}
