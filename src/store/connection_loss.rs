//! When this process last saw a database connection die, so that pooled connections which sat
//! idle through it are checked before they are used again.
//!
//! The PostgreSQL pools ping a connection before handing it out only when it has been idle long
//! enough to have been cut unnoticed (`open.rs`); pinging every hand-out is a round trip before
//! every statement. A cut the store has already seen (a server restart, a network drop) is the
//! other case: every connection idle since before it is suspect, however briefly it sat.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// Start of this process's clock for [`LAST_LOSS_MICROS`].
static EPOCH: OnceLock<Instant> = OnceLock::new();

/// Microseconds after [`EPOCH`] of the last lost connection, plus one; zero: none seen.
static LAST_LOSS_MICROS: AtomicU64 = AtomicU64::new(0);

fn micros_since_epoch(at: Instant) -> u64 {
    let epoch = *EPOCH.get_or_init(Instant::now);
    u64::try_from(at.saturating_duration_since(epoch).as_micros()).unwrap_or(u64::MAX)
}

/// Records that a connection was just found dead.
pub(crate) fn note() {
    LAST_LOSS_MICROS.fetch_max(micros_since_epoch(Instant::now()) + 1, Ordering::Relaxed);
}

/// Whether a connection idle for `idle_for` went idle no later than the last lost connection.
pub(crate) fn idle_through_a_loss(idle_for: Duration) -> bool {
    let idle_since = Instant::now().checked_sub(idle_for).map_or(0, micros_since_epoch);
    went_idle_before_loss(idle_since, LAST_LOSS_MICROS.load(Ordering::Relaxed))
}

/// Both in [`LAST_LOSS_MICROS`]'s units; a connection that went idle in the microsecond of the
/// loss counts as before it.
fn went_idle_before_loss(idle_since: u64, last_loss: u64) -> bool {
    last_loss != 0 && idle_since < last_loss
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connections_idle_since_before_a_loss_are_suspect_and_later_ones_are_not() {
        assert!(!went_idle_before_loss(10, 0), "no loss seen");
        assert!(went_idle_before_loss(10, 500 + 1), "idle since 10 µs, loss at 500 µs");
        assert!(went_idle_before_loss(500, 500 + 1), "idle from the loss's own microsecond");
        assert!(!went_idle_before_loss(501, 500 + 1), "went idle after the loss");
    }

    #[test]
    fn a_noted_loss_makes_connections_idle_since_before_it_suspect() {
        note();
        assert!(idle_through_a_loss(Duration::from_secs(1)));
    }
}
