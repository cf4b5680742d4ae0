//! Recency decay: newer chunks weigh more, with a configurable half-life and floor.

/// Weight in `floor..=1` for a chunk `age_seconds` old.
///
/// The exponential part halves every `half_life_seconds`. The floor keeps old knowledge
/// findable: a pure decay with a 30-day half-life would score a year-old exact answer at 1/4000
/// of a fresh passing mention, and a personal memory is often asked about old things. A chunk
/// dated in the future (clock skew) counts as new. A non-positive or non-finite half-life
/// disables decay.
pub fn recency_weight(age_seconds: f64, half_life_seconds: f64, floor: f64) -> f64 {
    if !(half_life_seconds.is_finite() && half_life_seconds > 0.0) {
        return 1.0;
    }
    let floor = if floor.is_finite() { floor.clamp(0.0, 1.0) } else { 0.0 };
    let age = if age_seconds.is_finite() { age_seconds.max(0.0) } else { f64::MAX };
    let decay = 0.5_f64.powf(age / half_life_seconds);
    floor + (1.0 - floor) * decay
}

#[cfg(test)]
mod tests {
    use super::*;

    const DAY: f64 = 86_400.0;

    #[test]
    fn halves_the_decaying_part_each_half_life() {
        assert!((recency_weight(0.0, 30.0 * DAY, 0.0) - 1.0).abs() < 1e-12);
        assert!((recency_weight(30.0 * DAY, 30.0 * DAY, 0.0) - 0.5).abs() < 1e-12);
        assert!((recency_weight(60.0 * DAY, 30.0 * DAY, 0.0) - 0.25).abs() < 1e-12);
    }

    #[test]
    fn floor_bounds_old_chunks() {
        let ancient = recency_weight(10_000.0 * DAY, 30.0 * DAY, 0.3);
        assert!((ancient - 0.3).abs() < 1e-9);
        assert!((recency_weight(30.0 * DAY, 30.0 * DAY, 0.3) - 0.65).abs() < 1e-12);
    }

    #[test]
    fn future_dates_and_disabled_decay_weigh_one() {
        assert_eq!(recency_weight(-5.0 * DAY, 30.0 * DAY, 0.0), 1.0);
        assert_eq!(recency_weight(400.0 * DAY, 0.0, 0.0), 1.0);
        assert_eq!(recency_weight(400.0 * DAY, f64::NAN, 0.0), 1.0);
    }
}
