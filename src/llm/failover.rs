//! Tries the configured providers in order, retrying each, and rests the ones that keep failing.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use backon::Retryable;
use futures::future::BoxFuture;
use futures::{FutureExt, StreamExt};
use tokio::time::Instant;
use tracing::Instrument;

use super::config::LlmConfig;
use super::error::{LlmError, ProviderId};
use super::provider::{LlmProvider, build_provider};
use super::retry::RetryPolicy;
use super::streaming::ChatStream;
use super::types::{ChatRequest, ChatResponse, StreamEvent};

/// One provider of the chain and until when it is being rested.
struct Slot {
    provider: Arc<dyn LlmProvider>,
    /// Guarded by a plain mutex: held only to read or set the instant, never across an await.
    cooling_until: Mutex<Option<Instant>>,
}

impl Slot {
    fn cooling_for(&self, now: Instant) -> Option<Duration> {
        let until = *self.cooling_until.lock().unwrap_or_else(PoisonError::into_inner);
        until.and_then(|until| until.checked_duration_since(now).filter(|left| !left.is_zero()))
    }

    fn set_cooling_until(&self, until: Option<Instant>) {
        *self.cooling_until.lock().unwrap_or_else(PoisonError::into_inner) = until;
    }
}

/// The provider the agent actually holds: the primary, then `llm.fallbacks`, behind one
/// [`LlmProvider`]. Retryable failures are retried with backoff on the same provider; when
/// retries run out (or a 429 arrives while another provider is ready) the provider is cooled
/// down and the next one is tried. A request the provider rejects as invalid is not retried
/// anywhere, because every provider would reject it.
pub struct FailoverChain {
    id: ProviderId,
    slots: Vec<Slot>,
    policy: RetryPolicy,
    cooldown: Duration,
}

impl FailoverChain {
    /// A chain over `providers`, tried in the given order.
    pub fn new(
        providers: Vec<Arc<dyn LlmProvider>>,
        policy: RetryPolicy,
        cooldown: Duration,
    ) -> Result<Self, LlmError> {
        if providers.is_empty() {
            return Err(LlmError::NoProviders);
        }
        let names: Vec<String> = providers.iter().map(|p| p.id().to_string()).collect();
        Ok(FailoverChain {
            id: ProviderId(names.join(" then ")),
            slots: providers.into_iter().map(|provider| Slot { provider, cooling_until: Mutex::new(None) }).collect(),
            policy,
            cooldown,
        })
    }

    /// The chain described by the `llm` section. Api keys must already be resolved.
    pub fn from_config(config: &LlmConfig) -> Result<Self, LlmError> {
        let providers = config.provider_settings().iter().map(build_provider).collect::<Result<Vec<_>, _>>()?;
        FailoverChain::new(providers, RetryPolicy::from_config(config), Duration::from_secs(config.cooldown_secs))
    }

    /// Providers currently being rested, for `chitin status`.
    pub fn cooling_down(&self) -> Vec<ProviderId> {
        let now = Instant::now();
        self.slots
            .iter()
            .filter(|slot| slot.cooling_for(now).is_some())
            .map(|slot| slot.provider.id().clone())
            .collect()
    }

    /// Runs `call` against each ready provider in turn until one succeeds.
    async fn run<'a, T: Send>(
        &'a self,
        call: impl Fn(&'a dyn LlmProvider) -> BoxFuture<'a, Result<T, LlmError>> + Sync,
    ) -> Result<T, LlmError> {
        let attempts = AtomicU32::new(0);
        let mut last_error = None;
        let mut shortest_cooldown: Option<Duration> = None;
        for (index, slot) in self.slots.iter().enumerate() {
            let now = Instant::now();
            if let Some(left) = slot.cooling_for(now) {
                shortest_cooldown = Some(shortest_cooldown.map_or(left, |s| s.min(left)));
                continue;
            }
            let has_alternative = self.slots[index + 1..].iter().any(|later| later.cooling_for(now).is_none());
            let provider = slot.provider.as_ref();
            let span = tracing::info_span!("llm_provider", provider = %provider.id());
            let outcome = (|| {
                attempts.fetch_add(1, Ordering::Relaxed);
                call(provider)
            })
            .retry(self.policy.backoff())
            .when(LlmError::is_retryable)
            .adjust(|error, backoff| self.policy.next_delay(error, backoff, has_alternative))
            .notify(|error, delay| {
                tracing::warn!(%error, delay_ms = delay.as_millis() as u64, "model call failed; retrying");
            })
            .instrument(span)
            .await;
            match outcome {
                Ok(value) => {
                    slot.set_cooling_until(None);
                    return Ok(value);
                }
                // The request itself is at fault (bad schema, prompt too long): every provider
                // would refuse it. A 404 is not here: it usually means this provider's URL or model.
                Err(error @ LlmError::Rejected { status: 400 | 413 | 422, .. }) => return Err(error),
                Err(error) => {
                    let rest = error.retry_after().unwrap_or_default().max(self.cooldown);
                    tracing::warn!(
                        provider = %provider.id(),
                        %error,
                        cooldown_secs = rest.as_secs(),
                        "model provider failed; cooling it down"
                    );
                    slot.set_cooling_until(Some(Instant::now() + rest));
                    last_error = Some(error);
                }
            }
        }
        match last_error {
            Some(last) => Err(LlmError::Unavailable { attempts: attempts.into_inner(), last: Box::new(last) }),
            None => Err(LlmError::AllCoolingDown { retry_in: shortest_cooldown.unwrap_or_default() }),
        }
    }
}

impl LlmProvider for FailoverChain {
    fn id(&self) -> &ProviderId {
        &self.id
    }

    fn complete<'a>(&'a self, request: &'a ChatRequest) -> BoxFuture<'a, Result<ChatResponse, LlmError>> {
        async move {
            let response = self.run(|provider| provider.complete(request)).await?;
            crate::metrics::llm_tokens(response.usage.input_tokens, response.usage.output_tokens);
            tracing::info!(
                input_tokens = response.usage.input_tokens,
                output_tokens = response.usage.output_tokens,
                tool_calls = response.tool_calls.len(),
                "model call complete"
            );
            Ok(response)
        }
        .boxed()
    }

    /// Retries and failover cover starting the stream; once events flow, an error ends the
    /// stream, because text already shown to the user cannot be taken back.
    fn stream<'a>(&'a self, request: &'a ChatRequest) -> BoxFuture<'a, Result<ChatStream, LlmError>> {
        async move {
            let stream = self.run(|provider| provider.stream(request)).await?;
            let logged = stream.inspect(|event| {
                if let Ok(StreamEvent::Done(response)) = event {
                    crate::metrics::llm_tokens(response.usage.input_tokens, response.usage.output_tokens);
                    // Per model call, so debug: the turn's own line (info) carries the turn's totals.
                    tracing::debug!(
                        input_tokens = response.usage.input_tokens,
                        output_tokens = response.usage.output_tokens,
                        tool_calls = response.tool_calls.len(),
                        "model stream complete"
                    );
                }
            });
            Ok(logged.boxed())
        }
        .boxed()
    }
}
