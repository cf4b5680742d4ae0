//! Restart policy: how long to wait before restarting a child, and when to give up and escalate.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use rand::Rng;

/// How a supervisor reacts to a failing child.
///
/// Delays grow exponentially so a child that fails on every start does not spin the CPU; jitter spreads restarts
/// of many children that failed together (say, after the database came back). The budget bounds how often a child
/// may fail before the supervisor stops trying and lets its own parent decide.
#[derive(Debug, Clone, PartialEq)]
pub struct RestartPolicy {
    /// Delay before the first restart.
    pub initial_backoff: Duration,
    /// Upper bound of the delay, however many failures came before.
    pub max_backoff: Duration,
    /// Factor applied to the delay after each failure within the window.
    pub multiplier: f64,
    /// Fraction of the delay that is randomised (0.0 = none, 0.5 = ±50 %).
    pub jitter: f64,
    /// At most this many restarts within `window`; one more failure escalates.
    pub max_restarts: u32,
    /// The sliding window the budget counts in.
    pub window: Duration,
}

impl Default for RestartPolicy {
    fn default() -> Self {
        Self {
            initial_backoff: Duration::from_millis(50),
            max_backoff: Duration::from_secs(30),
            multiplier: 2.0,
            jitter: 0.2,
            max_restarts: 5,
            window: Duration::from_secs(60),
        }
    }
}

/// What a supervisor should do after a child failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RestartDecision {
    /// Restart after this delay.
    RestartAfter(Duration),
    /// The budget is spent: fail upwards.
    Escalate,
}

/// Per-child bookkeeping of recent failures, so the policy can be applied.
#[derive(Debug, Clone, Default)]
pub struct RestartHistory {
    failures: VecDeque<Instant>,
    total_restarts: u64,
}

impl RestartHistory {
    /// Records a failure at `now` and decides what to do about it.
    pub fn on_failure(&mut self, policy: &RestartPolicy, now: Instant) -> RestartDecision {
        while let Some(oldest) = self.failures.front() {
            if now.duration_since(*oldest) > policy.window {
                self.failures.pop_front();
            } else {
                break;
            }
        }
        if self.failures.len() >= policy.max_restarts as usize {
            return RestartDecision::Escalate;
        }
        let attempt = self.failures.len() as u32;
        self.failures.push_back(now);
        self.total_restarts += 1;
        RestartDecision::RestartAfter(policy.backoff(attempt, &mut rand::rng()))
    }

    /// Restarts since the supervisor started, for status reports.
    pub fn total_restarts(&self) -> u64 {
        self.total_restarts
    }
}

impl RestartPolicy {
    /// The delay before restart number `attempt` (0-based) within the window.
    pub fn backoff(&self, attempt: u32, rng: &mut impl Rng) -> Duration {
        let base = self.initial_backoff.as_secs_f64() * self.multiplier.powi(attempt.min(64) as i32);
        let capped = base.min(self.max_backoff.as_secs_f64());
        let jitter = self.jitter.clamp(0.0, 1.0);
        let factor = if jitter > 0.0 { rng.random_range(1.0 - jitter..=1.0 + jitter) } else { 1.0 };
        Duration::from_secs_f64((capped * factor).min(self.max_backoff.as_secs_f64()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn no_jitter() -> RestartPolicy {
        RestartPolicy {
            initial_backoff: Duration::from_millis(10),
            max_backoff: Duration::from_millis(70),
            multiplier: 2.0,
            jitter: 0.0,
            max_restarts: 3,
            window: Duration::from_secs(10),
        }
    }

    #[test]
    fn delays_grow_then_cap() {
        let policy = no_jitter();
        let mut rng = rand::rng();
        let delays: Vec<_> = (0..5).map(|n| policy.backoff(n, &mut rng).as_millis()).collect();
        assert_eq!(delays, vec![10, 20, 40, 70, 70]);
    }

    #[test]
    fn jitter_stays_within_bounds() {
        let policy = RestartPolicy { jitter: 0.5, ..no_jitter() };
        let mut rng = rand::rng();
        for _ in 0..1000 {
            let d = policy.backoff(1, &mut rng).as_millis();
            assert!((10..=30).contains(&d), "delay {d} ms outside 20 ms ± 50 %");
        }
    }

    #[test]
    fn budget_escalates_within_window_and_recovers_after_it() {
        let policy = no_jitter();
        let mut history = RestartHistory::default();
        let start = Instant::now();
        for n in 0..3 {
            assert!(matches!(history.on_failure(&policy, start), RestartDecision::RestartAfter(_)), "failure {n}");
        }
        assert_eq!(history.on_failure(&policy, start), RestartDecision::Escalate);
        let later = start + Duration::from_secs(11);
        assert_eq!(history.on_failure(&policy, later), RestartDecision::RestartAfter(Duration::from_millis(10)));
        assert_eq!(history.total_restarts(), 4);
    }
}
