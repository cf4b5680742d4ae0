//! Retry delays: exponential in the attempt number, capped, with jitter so jobs that failed together spread out.

use std::time::Duration;

use rand::Rng;

/// How long a failed attempt waits before the next one.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Backoff {
    pub initial: Duration,
    pub max: Duration,
    /// Fraction randomised either way (0.2 = ±20 %).
    pub jitter: f64,
}

impl Backoff {
    /// The delay after attempt `attempt` (1 = the first attempt failed): `initial * 2^(attempt-1)`, capped.
    pub fn delay(&self, attempt: i64, rng: &mut impl Rng) -> Duration {
        let exponent = attempt.saturating_sub(1).clamp(0, 62) as i32;
        let base = (self.initial.as_secs_f64() * 2f64.powi(exponent)).min(self.max.as_secs_f64());
        let jitter = self.jitter.clamp(0.0, 1.0);
        let factor = if jitter > 0.0 { rng.random_range(1.0 - jitter..=1.0 + jitter) } else { 1.0 };
        Duration::from_secs_f64((base * factor).min(self.max.as_secs_f64()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doubles_per_attempt_and_caps() {
        let backoff = Backoff { initial: Duration::from_millis(100), max: Duration::from_millis(1000), jitter: 0.0 };
        let mut rng = rand::rng();
        let delays: Vec<u128> = (1..=6).map(|attempt| backoff.delay(attempt, &mut rng).as_millis()).collect();
        assert_eq!(delays, vec![100, 200, 400, 800, 1000, 1000]);
    }

    #[test]
    fn jitter_stays_within_its_band() {
        let backoff = Backoff { initial: Duration::from_millis(100), max: Duration::from_secs(10), jitter: 0.2 };
        let mut rng = rand::rng();
        for _ in 0..1000 {
            let delay = backoff.delay(2, &mut rng).as_millis();
            assert!((160..=240).contains(&delay), "{delay} ms outside 200 ms ± 20 %");
        }
    }
}
