//! The outbox loop: claims owed replies, sends them in order per conversation within the rate limits, and
//! reports each one delivered or due for a retry.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chitin_actors::ChannelKind;
use chitin_actors::ports::BoxFuture;
use tokio::sync::{OwnedSemaphorePermit, Semaphore, mpsc};
use tokio::task::JoinSet;
use tokio::time::Instant;
use tracing::{Instrument, debug, info, info_span, warn};

use crate::channel_health::ChannelHealth;
use crate::outbound::rate::{RateLimiter, RateLimits};
use crate::ports::{OwedReply, ReplySource};

/// Why one part of a reply was not sent.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SendError {
    #[error("the platform asked to slow down for {retry_after:?}")]
    RateLimited { retry_after: Duration },
    #[error("the platform rejected the bot token (401)")]
    Unauthorized,
    #[error("the platform refused the message: {reason}")]
    Refused { reason: String },
    #[error("could not reach the platform: {reason}")]
    Unreachable { reason: String },
}

/// What the outbox loop needs from one platform.
pub trait Platform: Send + Sync + 'static {
    /// Renders the agent's markdown into the parts to send, in order, each within the platform's length limit.
    fn render(&self, body: &str) -> Vec<String>;

    /// Group conversations get the slower per-group rate.
    fn is_group(&self, external_conversation_id: &str) -> bool;

    /// Sends one part and returns the platform's id for the message it created.
    fn send_part<'a>(
        &'a self,
        external_conversation_id: &'a str,
        text: &'a str,
        reply_to_platform_message_id: Option<&'a str>,
    ) -> BoxFuture<'a, Result<String, SendError>>;

    /// Called after a whole reply went out (Telegram stops its typing indicator here).
    fn reply_delivered(&self, _external_conversation_id: &str) {}
}

/// Tuning of the outbox loop.
#[derive(Debug, Clone)]
pub struct DeliveryOptions {
    pub channel: ChannelKind,
    pub limits: RateLimits,
    /// Replies leased but not yet finished, at most; bounds how long a lease waits in a chat's queue.
    pub max_in_flight: usize,
    /// Claim again after this long even without a wake-up, to pick up retries and expired leases.
    pub poll_every: Duration,
    /// First delay after a failed send or claim; doubles per consecutive failure up to `retry_max`.
    pub retry_initial: Duration,
    pub retry_max: Duration,
    /// 429s in a row for one reply before it goes back to the outbox instead of waiting in place.
    pub max_rate_limited: u32,
}

/// Parts of a reply already sent, so a reply that comes back after a failure resumes instead of repeating.
#[derive(Debug, Default, Clone)]
struct Progress {
    sent: usize,
    last_platform_message_id: Option<String>,
}

struct Shared<P> {
    platform: Arc<P>,
    replies: Arc<dyn ReplySource>,
    health: ChannelHealth,
    options: DeliveryOptions,
    limiter: Mutex<RateLimiter>,
    progress: Mutex<HashMap<String, Progress>>,
    consecutive_failures: AtomicU32,
}

type Queued = (OwedReply, OwnedSemaphorePermit);

/// Runs the outbox loop of one channel until the task is aborted (the channel actor owns and aborts it).
pub async fn run_delivery<P: Platform>(
    platform: Arc<P>,
    replies: Arc<dyn ReplySource>,
    health: ChannelHealth,
    options: DeliveryOptions,
) {
    let channel = options.channel;
    let in_flight = Arc::new(Semaphore::new(options.max_in_flight.max(1)));
    let shared = Arc::new(Shared {
        platform,
        replies: Arc::clone(&replies),
        health,
        limiter: Mutex::new(RateLimiter::new(&options.limits)),
        options,
        progress: Mutex::new(HashMap::new()),
        consecutive_failures: AtomicU32::new(0),
    });
    let wakeup = replies.wakeup(channel);
    let mut queues: HashMap<String, mpsc::UnboundedSender<Queued>> = HashMap::new();
    let mut workers = JoinSet::new();
    loop {
        // Registered before claiming, so a reply written while we claim still wakes us.
        let notified = wakeup.notified();
        tokio::pin!(notified);
        notified.as_mut().enable();
        if in_flight.available_permits() == 0 {
            // Every slot is taken: wait for one to free up before leasing more.
            drop(in_flight.acquire().await);
            continue;
        }
        let batch = match replies.claim(channel, in_flight.available_permits()).await {
            Ok(batch) => {
                shared.health.recover("outbox");
                batch
            }
            Err(error) => {
                warn!(%error, %channel, "claiming replies failed");
                shared.health.degrade("outbox", error.to_string());
                tokio::time::sleep(shared.failure_delay()).await;
                continue;
            }
        };
        if batch.is_empty() {
            tokio::select! {
                () = &mut notified => {}
                () = tokio::time::sleep(shared.options.poll_every) => {}
            }
            continue;
        }
        for reply in batch {
            let Ok(permit) = Arc::clone(&in_flight).try_acquire_owned() else {
                // Cannot happen (we claimed at most the free permits); the lease expires and it comes back.
                warn!(reply = %reply.id, "no delivery slot for a claimed reply; it will be claimed again");
                continue;
            };
            enqueue(&shared, &mut queues, &mut workers, reply, permit);
        }
        while let Some(finished) = workers.try_join_next() {
            if let Err(error) = finished {
                warn!(%error, %channel, "a conversation's delivery worker ended; it restarts on its next reply");
            }
        }
    }
}

/// Puts a reply on its conversation's queue, starting the conversation's worker if it has none (or it died).
fn enqueue<P: Platform>(
    shared: &Arc<Shared<P>>,
    queues: &mut HashMap<String, mpsc::UnboundedSender<Queued>>,
    workers: &mut JoinSet<()>,
    reply: OwedReply,
    permit: OwnedSemaphorePermit,
) {
    let conversation = reply.external_conversation_id.clone();
    let item = match queues.get(&conversation) {
        Some(queue) => match queue.send((reply, permit)) {
            Ok(()) => return,
            Err(mpsc::error::SendError(item)) => item,
        },
        None => (reply, permit),
    };
    let (queue, mut receiver) = mpsc::unbounded_channel::<Queued>();
    let worker_shared = Arc::clone(shared);
    workers.spawn(async move {
        while let Some((reply, permit)) = receiver.recv().await {
            deliver(&worker_shared, reply).await;
            drop(permit);
        }
    });
    // The receiver is alive in the task we just spawned, so this send cannot fail.
    let _ = queue.send(item);
    queues.insert(conversation, queue);
}

/// Sends every part of one reply not yet sent, then reports the outcome to the outbox.
async fn deliver<P: Platform>(shared: &Shared<P>, reply: OwedReply) {
    let span = info_span!("deliver", channel = %shared.options.channel, reply = %reply.id,
        conversation = %reply.external_conversation_id);
    async {
        let parts = shared.platform.render(&reply.body);
        let conversation = reply.external_conversation_id.as_str();
        let is_group = shared.platform.is_group(conversation);
        let mut progress = shared.take_progress(&reply.idempotency_key);
        let mut rate_limited = 0;
        while progress.sent < parts.len() {
            shared.wait_for_slot(conversation, is_group).await;
            let reply_to = reply.reply_to_platform_message_id.as_deref();
            match shared.platform.send_part(conversation, &parts[progress.sent], reply_to).await {
                Ok(platform_message_id) => {
                    debug!(part = progress.sent + 1, of = parts.len(), "reply part sent");
                    progress.sent += 1;
                    progress.last_platform_message_id = Some(platform_message_id);
                    shared.consecutive_failures.store(0, Ordering::Relaxed);
                    shared.health.recover("delivery");
                }
                Err(SendError::RateLimited { retry_after }) if rate_limited < shared.options.max_rate_limited => {
                    rate_limited += 1;
                    warn!(?retry_after, attempt = rate_limited, "platform rate limit hit; waiting as asked");
                    shared.pause(conversation, retry_after);
                }
                Err(error) => {
                    let after = match &error {
                        SendError::RateLimited { retry_after } => *retry_after,
                        _ => shared.failure_delay(),
                    };
                    if error == SendError::Unauthorized {
                        shared.health.degrade("delivery", error.to_string());
                    }
                    warn!(%error, ?after, "reply not sent; back to the outbox");
                    shared.keep_progress(&reply.idempotency_key, progress);
                    if let Err(port_error) = shared.replies.retry_later(reply.id, after, error.to_string()).await {
                        warn!(error = %port_error, "could not release the reply; its lease will expire");
                    }
                    return;
                }
            }
        }
        let last_id = progress.last_platform_message_id.clone().unwrap_or_default();
        match shared.replies.delivered(reply.id, last_id).await {
            Ok(()) => {
                info!(parts = parts.len(), "reply delivered");
                shared.platform.reply_delivered(conversation);
            }
            Err(error) => {
                // Sent but not marked: remember, so the redelivered lease is marked without sending again.
                warn!(%error, "reply sent but not marked delivered");
                shared.keep_progress(&reply.idempotency_key, progress);
            }
        }
    }
    .instrument(span)
    .await;
}

impl<P> Shared<P> {
    /// Waits until the rate limits allow one more message to `conversation`, and takes that slot.
    async fn wait_for_slot(&self, conversation: &str, is_group: bool) {
        loop {
            let outcome = {
                let mut limiter = self.limiter.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
                limiter.try_acquire(conversation, is_group, Instant::now())
            };
            match outcome {
                Ok(()) => return,
                Err(retry_at) => tokio::time::sleep_until(retry_at).await,
            }
        }
    }

    fn pause(&self, conversation: &str, retry_after: Duration) {
        let mut limiter = self.limiter.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        limiter.pause(conversation, Instant::now() + retry_after);
    }

    fn take_progress(&self, key: &str) -> Progress {
        let mut progress = self.progress.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        progress.remove(key).unwrap_or_default()
    }

    fn keep_progress(&self, key: &str, value: Progress) {
        let mut progress = self.progress.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        progress.insert(key.to_string(), value);
    }

    /// Exponential backoff over consecutive failures of this channel, counting this one.
    fn failure_delay(&self) -> Duration {
        let failures = self.consecutive_failures.fetch_add(1, Ordering::Relaxed).min(16);
        let delay = self.options.retry_initial.saturating_mul(1 << failures);
        delay.min(self.options.retry_max)
    }
}
