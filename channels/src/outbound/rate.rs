//! Outbound rate limits: a global rate, a per-chat rate and a slower per-group rate, by reserving send slots.

use std::collections::HashMap;
use std::time::Duration;

use serde::Deserialize;
use tokio::time::Instant;

/// How fast a channel may send. Defaults are Telegram's published limits; Slack's are about the same
/// (one message per second per channel, short bursts tolerated).
#[derive(Debug, Clone, PartialEq, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct RateLimits {
    /// Messages per second across all chats; 0 turns the limit off.
    pub global_per_second: f64,
    /// Messages per second into one chat; 0 turns the limit off.
    pub per_chat_per_second: f64,
    /// Messages per minute into one group chat, on top of the per-chat rate; 0 turns the limit off.
    pub per_group_per_minute: f64,
}

impl Default for RateLimits {
    fn default() -> Self {
        Self { global_per_second: 30.0, per_chat_per_second: 1.0, per_group_per_minute: 20.0 }
    }
}

/// Forget chats idle for longer than this once the table grows past [`PRUNE_ABOVE`] entries.
const PRUNE_ABOVE: usize = 1024;

/// Decides when the next message may go out so that every limit holds.
///
/// `try_acquire` either takes a send slot now or says when to ask again, without taking anything: a chat that
/// must wait (or was paused by a 429) never holds up other chats' share of the global rate. One caller per chat
/// asks at a time (the delivery loop has one worker per conversation), which keeps each chat's messages in order.
#[derive(Debug)]
pub struct RateLimiter {
    global_interval: Duration,
    chat_interval: Duration,
    group_interval: Duration,
    global_next: Option<Instant>,
    chat_next: HashMap<String, Instant>,
}

impl RateLimiter {
    pub fn new(limits: &RateLimits) -> Self {
        Self {
            global_interval: interval(limits.global_per_second),
            chat_interval: interval(limits.per_chat_per_second),
            group_interval: interval(limits.per_group_per_minute / 60.0),
            global_next: None,
            chat_next: HashMap::new(),
        }
    }

    /// Takes the slot for one message to `chat` at `now`, or returns the instant to try again at.
    pub fn try_acquire(&mut self, chat: &str, is_group: bool, now: Instant) -> Result<(), Instant> {
        if self.chat_next.len() > PRUNE_ABOVE {
            self.chat_next.retain(|_, next| *next > now);
        }
        let chat_next = self.chat_next.get(chat).copied().unwrap_or(now);
        let ready_at = chat_next.max(self.global_next.unwrap_or(now));
        if ready_at > now {
            return Err(ready_at);
        }
        self.global_next = Some(now + self.global_interval);
        let spacing = if is_group { self.chat_interval.max(self.group_interval) } else { self.chat_interval };
        self.chat_next.insert(chat.to_string(), now + spacing);
        Ok(())
    }

    /// The platform said "too many requests, retry after": nothing more goes to `chat` before `until`.
    pub fn pause(&mut self, chat: &str, until: Instant) {
        let next = self.chat_next.entry(chat.to_string()).or_insert(until);
        *next = (*next).max(until);
    }
}

fn interval(per_second: f64) -> Duration {
    if per_second > 0.0 && per_second.is_finite() { Duration::from_secs_f64(1.0 / per_second) } else { Duration::ZERO }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn telegram() -> RateLimiter {
        RateLimiter::new(&RateLimits::default())
    }

    /// Sends `count` messages to `chat` as fast as the limiter allows; returns their send times after `start`.
    fn drain(limiter: &mut RateLimiter, chats: &[&str], is_group: bool, start: Instant) -> Vec<Duration> {
        let mut now = start;
        let mut sent = Vec::new();
        for chat in chats {
            loop {
                match limiter.try_acquire(chat, is_group, now) {
                    Ok(()) => break,
                    Err(retry_at) => now = retry_at,
                }
            }
            sent.push(now - start);
        }
        sent
    }

    #[test]
    fn one_message_per_second_per_chat() {
        let start = Instant::now();
        let sent = drain(&mut telegram(), &["42", "42", "42"], false, start);
        assert_eq!(sent, vec![Duration::ZERO, Duration::from_secs(1), Duration::from_secs(2)]);
    }

    #[test]
    fn thirty_per_second_overall() {
        let chats: Vec<String> = (0..60).map(|chat| chat.to_string()).collect();
        let chats: Vec<&str> = chats.iter().map(String::as_str).collect();
        let sent = drain(&mut telegram(), &chats, false, Instant::now());
        let expected = Duration::from_secs_f64(59.0 / 30.0);
        let last = sent.last().copied().unwrap_or_default();
        assert!(last.abs_diff(expected) < Duration::from_millis(5), "{last:?}");
    }

    #[test]
    fn twenty_per_minute_in_a_group() {
        let sent = drain(&mut telegram(), &["-100", "-100"], true, Instant::now());
        assert_eq!(sent[1], Duration::from_secs(3));
    }

    #[test]
    fn a_paused_chat_waits_without_holding_up_others() {
        let mut limiter = RateLimiter::new(&RateLimits {
            global_per_second: 10.0,
            per_chat_per_second: 0.0,
            per_group_per_minute: 0.0,
        });
        let now = Instant::now();
        limiter.pause("a", now + Duration::from_secs(7));
        assert_eq!(limiter.try_acquire("a", false, now), Err(now + Duration::from_secs(7)));
        assert_eq!(limiter.try_acquire("b", false, now), Ok(()));
        assert_eq!(limiter.try_acquire("c", false, now), Err(now + Duration::from_millis(100)));
    }

    #[test]
    fn later_requests_are_not_held_back_by_old_slots() {
        let mut limiter = telegram();
        let now = Instant::now();
        assert_eq!(limiter.try_acquire("42", false, now), Ok(()));
        assert_eq!(limiter.try_acquire("42", false, now + Duration::from_secs(10)), Ok(()));
    }
}
