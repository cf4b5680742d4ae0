//! A channel's own view of its health: written by its background tasks, read by its health probe.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use chitin_actors::{ActorState, SelfReport};

/// Problems reported by the tasks of one channel, keyed by the task that saw them.
///
/// Shared rather than messaged to the actor because the tasks report on every request; the actor only reads it
/// when probed. A task clears its entry on its next success, so a recovered channel reports `Running` again.
#[derive(Clone, Default)]
pub struct ChannelHealth {
    problems: Arc<Mutex<BTreeMap<&'static str, String>>>,
}

impl ChannelHealth {
    pub fn new() -> Self {
        Self::default()
    }

    /// Records that `task` (e.g. `polling`, `delivery`) is failing, with a short reason without secrets.
    pub fn degrade(&self, task: &'static str, reason: impl Into<String>) {
        self.with_problems(|problems| {
            problems.insert(task, reason.into());
        });
    }

    /// Records that `task` works again.
    pub fn recover(&self, task: &'static str) {
        self.with_problems(|problems| {
            problems.remove(task);
        });
    }

    /// The report the channel actor answers a probe with; `healthy_detail` describes a running channel.
    pub fn report(&self, healthy_detail: String) -> SelfReport {
        let problems = self.with_problems(|problems| {
            problems.iter().map(|(task, reason)| format!("{task}: {reason}")).collect::<Vec<_>>()
        });
        if problems.is_empty() {
            SelfReport::running(healthy_detail)
        } else {
            SelfReport { state: ActorState::Degraded, detail: problems.join("; "), children: Vec::new() }
        }
    }

    fn with_problems<T>(&self, f: impl FnOnce(&mut BTreeMap<&'static str, String>) -> T) -> T {
        // A poisoned lock only means a reporter panicked between two map operations; the map is still whole.
        match self.problems.lock() {
            Ok(mut guard) => f(&mut guard),
            Err(poisoned) => f(&mut poisoned.into_inner()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn degrades_until_every_task_recovered() {
        let health = ChannelHealth::new();
        assert_eq!(health.report("ok".into()).state, ActorState::Running);
        health.degrade("polling", "bot token rejected (401)");
        health.degrade("delivery", "bot token rejected (401)");
        let report = health.report("ok".into());
        assert_eq!(report.state, ActorState::Degraded);
        assert!(report.detail.contains("polling: bot token rejected"), "{}", report.detail);
        health.recover("polling");
        assert_eq!(health.report("ok".into()).state, ActorState::Degraded);
        health.recover("delivery");
        assert_eq!(health.report("ok".into()).detail, "ok");
    }
}
