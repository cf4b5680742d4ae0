//! When to try a failing provider again, and how long to wait first.

use std::time::Duration;

use backon::{ExponentialBackoff, ExponentialBuilder};

use super::config::LlmConfig;
use super::error::LlmError;

/// How patiently one provider is retried before the chain moves on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Retries after the first attempt.
    pub max_retries: u32,
    /// Wait before the first retry; doubles each time, plus up to 100 % random jitter so many
    /// conversations failing together do not retry in lockstep.
    pub base_delay: Duration,
    /// Ceiling for the doubling.
    pub max_delay: Duration,
    /// Longest `Retry-After` honoured in place. A provider asking for more is given up on (and
    /// cooled down) rather than leaving the user waiting.
    pub max_retry_after: Duration,
}

impl RetryPolicy {
    /// The policy for a config: its retry count with the built-in delays.
    pub fn from_config(config: &LlmConfig) -> Self {
        RetryPolicy { max_retries: config.max_retries, ..RetryPolicy::default() }
    }

    pub(crate) fn backoff(&self) -> ExponentialBackoff {
        use backon::BackoffBuilder;
        ExponentialBuilder::default()
            .with_min_delay(self.base_delay)
            .with_max_delay(self.max_delay)
            .with_max_times(self.max_retries as usize)
            .with_jitter()
            .build()
    }

    /// The wait before retrying after `error`, or `None` to stop retrying this provider.
    ///
    /// `backoff` is the next exponential delay, `None` once retries are used up. A 429 moves
    /// straight on when another provider is ready (`has_alternative`), since waiting out a rate
    /// limit helps nobody when a fallback can answer now; otherwise its `Retry-After` replaces
    /// the backoff, if it is within [`RetryPolicy::max_retry_after`].
    pub(crate) fn next_delay(
        &self,
        error: &LlmError,
        backoff: Option<Duration>,
        has_alternative: bool,
    ) -> Option<Duration> {
        let backoff = backoff?;
        if !matches!(error, LlmError::RateLimited { .. }) {
            return Some(backoff);
        }
        if has_alternative {
            return None;
        }
        match error.retry_after() {
            Some(wait) if wait > self.max_retry_after => None,
            Some(wait) => Some(wait),
            None => Some(backoff),
        }
    }
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_retries: 2,
            base_delay: Duration::from_millis(500),
            max_delay: Duration::from_secs(8),
            max_retry_after: Duration::from_secs(30),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::llm::error::ProviderId;

    fn rate_limited(retry_after: Option<Duration>) -> LlmError {
        LlmError::RateLimited { provider: ProviderId("p".to_owned()), retry_after }
    }

    #[test]
    fn backoff_doubles_with_jitter_up_to_the_cap_and_stops_after_max_retries() {
        let policy = RetryPolicy {
            max_retries: 5,
            base_delay: Duration::from_millis(100),
            max_delay: Duration::from_millis(400),
            max_retry_after: Duration::from_secs(1),
        };
        let delays: Vec<Duration> = policy.backoff().collect();
        assert_eq!(delays.len(), 5);
        let floors = [100, 200, 400, 400, 400];
        for (delay, floor) in delays.iter().zip(floors) {
            let floor = Duration::from_millis(floor);
            assert!(*delay >= floor && *delay <= floor * 2, "{delay:?} vs {floor:?}");
        }
    }

    #[test]
    fn retry_after_replaces_backoff_unless_too_long_or_a_fallback_is_ready() {
        let policy = RetryPolicy::default();
        let backoff = Some(Duration::from_millis(700));
        let short = rate_limited(Some(Duration::from_secs(3)));
        assert_eq!(policy.next_delay(&short, backoff, false), Some(Duration::from_secs(3)));
        assert_eq!(policy.next_delay(&short, backoff, true), None);
        assert_eq!(policy.next_delay(&short, None, false), None);
        let long = rate_limited(Some(Duration::from_secs(600)));
        assert_eq!(policy.next_delay(&long, backoff, false), None);
        assert_eq!(policy.next_delay(&rate_limited(None), backoff, false), backoff);
        let timeout = LlmError::Timeout { provider: ProviderId("p".to_owned()), after: Duration::from_secs(1) };
        assert_eq!(policy.next_delay(&timeout, backoff, true), backoff);
    }
}
