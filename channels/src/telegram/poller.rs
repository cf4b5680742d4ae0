//! The long-polling loop: fetches updates, has the channel actor record them, and only then moves the offset.

use std::sync::Arc;
use std::time::Duration;

use ractor::ActorRef;
use ractor::rpc::CallResult;
use teloxide::payloads::GetUpdatesSetters;
use teloxide::prelude::Requester;
use teloxide::{ApiError, Bot, RequestError};
use tracing::{debug, info, warn};

use crate::channel_health::ChannelHealth;
use crate::telegram::actor::TelegramMsg;

/// How long the actor may take to record one batch before the poller retries it (duplicates are harmless).
const RECORD_TIMEOUT: Duration = Duration::from_secs(60);

#[derive(Debug, Clone)]
pub struct PollOptions {
    pub timeout_secs: u32,
    pub retry_initial: Duration,
    pub retry_max: Duration,
}

/// Doubling delay between failed attempts, reset by a success.
struct Backoff {
    initial: Duration,
    max: Duration,
    next: Duration,
}

impl Backoff {
    fn new(options: &PollOptions) -> Self {
        Self { initial: options.retry_initial, max: options.retry_max, next: options.retry_initial }
    }

    fn failed(&mut self) -> Duration {
        let delay = self.next;
        self.next = (self.next * 2).min(self.max);
        delay
    }

    fn succeeded(&mut self) {
        self.next = self.initial;
    }
}

/// Runs until aborted by the channel actor that owns the task.
///
/// Telegram keeps an update until a `getUpdates` call passes an offset beyond it, so the offset only moves past
/// updates the actor has recorded: a crash in between makes Telegram send them again, and the store's dedup
/// drops the copies. The offset itself therefore needs no storage.
pub async fn run_polling(bot: Bot, channel: ActorRef<TelegramMsg>, health: ChannelHealth, options: PollOptions) {
    let mut backoff = Backoff::new(&options);
    let bot_username: Arc<str> = loop {
        match bot.get_me().await {
            Ok(me) => {
                health.recover("polling");
                info!(bot = %me.username(), "telegram bot identified");
                break me.username().into();
            }
            Err(error) => failed(&health, &mut backoff, "getMe", error).await,
        }
    };
    backoff.succeeded();
    let mut offset = 0;
    loop {
        let batch = bot.get_updates().offset(offset).timeout(options.timeout_secs).await;
        let updates = match batch {
            Ok(updates) => {
                health.recover("polling");
                backoff.succeeded();
                updates
            }
            Err(error) => {
                failed(&health, &mut backoff, "getUpdates", error).await;
                continue;
            }
        };
        if updates.is_empty() {
            continue;
        }
        debug!(count = updates.len(), offset, "telegram updates received");
        let username = Arc::clone(&bot_username);
        let outcome = channel
            .call(|reply| TelegramMsg::Updates { updates, bot_username: username, reply }, Some(RECORD_TIMEOUT))
            .await;
        match outcome {
            Ok(CallResult::Success(handled)) => {
                if let Some(next) = handled.next_offset {
                    offset = next;
                }
                match handled.failure {
                    None => health.recover("inbound"),
                    Some(error) => {
                        warn!(%error, "recording telegram updates failed; they will be fetched again");
                        health.degrade("inbound", error.to_string());
                        tokio::time::sleep(backoff.failed()).await;
                    }
                }
            }
            Ok(CallResult::Timeout) | Ok(CallResult::SenderError) | Err(_) => {
                warn!("the telegram channel did not record the batch; it will be fetched again");
                tokio::time::sleep(backoff.failed()).await;
            }
        }
    }
}

/// Reports a failed Bot API call and waits before the next attempt (or as long as Telegram asked).
async fn failed(health: &ChannelHealth, backoff: &mut Backoff, method: &'static str, error: RequestError) {
    let (reason, delay) = match &error {
        RequestError::RetryAfter(seconds) => ("rate limited".to_string(), seconds.duration()),
        RequestError::Api(ApiError::InvalidToken) => {
            ("bot token rejected (401); check channels.telegram.bot_token".to_string(), backoff.failed())
        }
        other => (format!("{method} failed: {other}"), backoff.failed()),
    };
    warn!(method, %error, retry_in = ?delay, "telegram bot api call failed");
    health.degrade("polling", reason);
    tokio::time::sleep(delay).await;
}
