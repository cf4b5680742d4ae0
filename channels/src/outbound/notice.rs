//! Throttling channel-made notices (pairing codes, "text only"), so a stranger who keeps writing cannot make
//! the bot flood a chat or use up the platform's rate limits.

use std::collections::HashMap;
use std::time::Duration;

use tokio::time::Instant;

/// Forget chats last noticed longer ago than the interval once the table grows past this.
const PRUNE_ABOVE: usize = 4096;

/// Allows one notice per chat per interval.
#[derive(Debug)]
pub struct NoticeThrottle {
    every: Duration,
    last: HashMap<String, Instant>,
}

impl NoticeThrottle {
    pub fn new(every: Duration) -> Self {
        Self { every, last: HashMap::new() }
    }

    /// True if a notice may go to `chat` now (and counts it); false if one went out within the interval.
    pub fn allow(&mut self, chat: &str, now: Instant) -> bool {
        if self.last.len() > PRUNE_ABOVE {
            let every = self.every;
            self.last.retain(|_, at| now.saturating_duration_since(*at) < every);
        }
        match self.last.get(chat) {
            Some(at) if now.saturating_duration_since(*at) < self.every => false,
            _ => {
                self.last.insert(chat.to_string(), now);
                true
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_notice_per_chat_per_interval() {
        let mut throttle = NoticeThrottle::new(Duration::from_secs(60));
        let now = Instant::now();
        assert!(throttle.allow("77", now));
        assert!(!throttle.allow("77", now + Duration::from_secs(59)));
        assert!(throttle.allow("78", now), "other chats are not affected");
        assert!(throttle.allow("77", now + Duration::from_secs(60)));
    }
}
