//! Socket Mode: a WebSocket from Chitin to Slack; each event is acknowledged only after it was recorded.

use std::sync::Arc;

use ractor::ActorRef;
use ractor::rpc::CallResult;
use slack_morphism::prelude::{
    SlackApiToken, SlackApiTokenValue, SlackClientEventsListenerEnvironment, SlackClientEventsUserState,
    SlackClientHyperHttpsConnector, SlackClientSocketModeConfig, SlackClientSocketModeListener, SlackHyperClient,
    SlackPushEventCallback, SlackSocketModeListenerCallbacks, UserCallbackResult,
};
use tracing::{info, warn};

use crate::channel_health::ChannelHealth;
use crate::slack::SlackError;
use crate::slack::actor::{EVENT_TIMEOUT, SlackMsg};

/// What the callbacks (plain `fn`s in slack-morphism) need, kept in the listener's user state.
#[derive(Clone)]
struct SocketContext {
    channel: ActorRef<SlackMsg>,
    health: ChannelHealth,
}

/// A running Socket Mode listener; dropping it (with the channel actor's state) closes the connection.
pub struct SocketMode {
    listener: Arc<SlackClientSocketModeListener<SlackClientHyperHttpsConnector>>,
}

impl SocketMode {
    /// Opens the connection (`apps.connections.open`, then the WebSocket) and keeps it open: slack-morphism
    /// reconnects when Slack sends `disconnect` or the socket drops, waiting `reconnect_secs` between failed tries.
    pub async fn start(
        client: Arc<SlackHyperClient>,
        app_token: &str,
        channel: ActorRef<SlackMsg>,
        health: ChannelHealth,
        reconnect_secs: u64,
    ) -> Result<Self, SlackError> {
        let context = SocketContext { channel, health };
        let environment = Arc::new(
            SlackClientEventsListenerEnvironment::new(client)
                // Anything but success withholds the ack, so Slack delivers the event again.
                .with_error_handler(|_error, _client, _state| axum::http::StatusCode::SERVICE_UNAVAILABLE)
                .with_user_state(context),
        );
        let callbacks = SlackSocketModeListenerCallbacks::new()
            .with_hello_events(|_hello, _client, state| on_hello(state))
            .with_push_events(on_event);
        let config = SlackClientSocketModeConfig::new()
            .with_max_connections_count(1)
            .with_initial_backoff_in_seconds(reconnect_secs.max(1))
            .with_reconnect_timeout_in_seconds(reconnect_secs.max(1));
        let listener = Arc::new(SlackClientSocketModeListener::new(&config, environment, callbacks));
        let token = SlackApiToken::new(SlackApiTokenValue::new(app_token.to_string()));
        listener.listen_for(&token).await.map_err(|source| SlackError::SocketMode { reason: source.to_string() })?;
        listener.start().await;
        Ok(Self { listener })
    }
}

impl Drop for SocketMode {
    fn drop(&mut self) {
        let listener = Arc::clone(&self.listener);
        // Its connection tasks are slack-morphism's, not ours: they stop only when told.
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(async move { listener.shutdown().await });
        }
    }
}

async fn context(state: &SlackClientEventsUserState) -> Option<SocketContext> {
    state.read().await.get_user_state::<SocketContext>().cloned()
}

/// Slack's `hello` opens every connection, including each reconnect.
async fn on_hello(state: SlackClientEventsUserState) {
    if let Some(context) = context(&state).await {
        info!("slack socket mode connected");
        context.health.recover("socket");
    }
}

async fn on_event(
    callback: SlackPushEventCallback,
    _client: Arc<SlackHyperClient>,
    state: SlackClientEventsUserState,
) -> UserCallbackResult<()> {
    let context = context(&state).await.ok_or_else(|| SlackError::SocketMode { reason: "no channel state".into() })?;
    let event_id = callback.event_id.0.clone();
    let outcome = context
        .channel
        .call(|reply| SlackMsg::Event { callback: Box::new(callback), reply }, Some(EVENT_TIMEOUT))
        .await;
    match outcome {
        Ok(CallResult::Success(Ok(()))) => Ok(()),
        Ok(CallResult::Success(Err(error))) => {
            warn!(%error, event = %event_id, "slack event not recorded; not acknowledging it");
            context.health.degrade("socket", error.to_string());
            Err(Box::new(error))
        }
        _ => {
            warn!(event = %event_id, "the slack channel did not answer; not acknowledging the event");
            Err(Box::new(SlackError::ChannelDown))
        }
    }
}
