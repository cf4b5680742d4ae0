//! The Slack channel actor: owns delivery (and Socket Mode) and turns each event into a stored message.

use std::sync::Arc;
use std::time::Duration;

use chitin_actors::{ChannelKind, HealthProbe, SelfReport};
use ractor::{Actor, ActorProcessingErr, ActorRef, RpcReplyPort};
use slack_morphism::prelude::SlackPushEventCallback;
use tokio_util::task::AbortOnDropHandle;
use tracing::{Instrument, debug, info, info_span, warn};

use crate::channel_health::ChannelHealth;
use crate::outbound::{DeliveryOptions, NoticeThrottle, run_delivery};
use crate::ports::{ChannelPorts, NewMessage, PortError, Recorded};
use crate::slack::config::{SlackConfig, SlackMode};
use crate::slack::event::{SlackAction, SlackText, classify};
use crate::slack::platform::{SlackPlatform, client};
use crate::slack::socket_mode::SocketMode;
use crate::slack::{SlackError, mrkdwn};

/// Slack wants an answer (HTTP 200 or the Socket Mode ack) within 3 s; recording must fit well inside that.
pub const EVENT_TIMEOUT: Duration = Duration::from_millis(2_500);
/// A stranger who keeps writing sees the pairing notice again only after this long.
const PAIRING_NOTICE_EVERY: Duration = Duration::from_secs(60);
const UNSUPPORTED_NOTICE: &str = "Sorry, I can only read text messages for now. Please send your request as text.";

pub struct SlackChannel;

pub enum SlackMsg {
    /// An event from the Events API or Socket Mode; answered once recorded, and only then acknowledged to Slack.
    Event {
        callback: Box<SlackPushEventCallback>,
        reply: RpcReplyPort<Result<(), PortError>>,
    },
    Health(RpcReplyPort<SelfReport>),
}

impl HealthProbe for SlackMsg {
    fn health_probe(reply: RpcReplyPort<SelfReport>) -> Self {
        SlackMsg::Health(reply)
    }
}

pub struct SlackArgs {
    pub config: SlackConfig,
    pub ports: ChannelPorts,
}

pub struct SlackState {
    config: SlackConfig,
    ports: ChannelPorts,
    platform: Arc<SlackPlatform>,
    health: ChannelHealth,
    accepted: u64,
    /// At most one pairing notice per conversation per [`PAIRING_NOTICE_EVERY`], however often a stranger writes.
    notices: NoticeThrottle,
    _delivery: AbortOnDropHandle<()>,
    /// Present in Socket Mode; dropping it closes the connection.
    _socket: Option<SocketMode>,
}

impl Actor for SlackChannel {
    type Msg = SlackMsg;
    type State = SlackState;
    type Arguments = SlackArgs;

    async fn pre_start(&self, me: ActorRef<SlackMsg>, args: SlackArgs) -> Result<SlackState, ActorProcessingErr> {
        let SlackArgs { config, ports } = args;
        let mode = match config.mode {
            SlackMode::Events => "events",
            SlackMode::Socket => "socket",
        };
        require(&config.bot_token, "bot_token", mode)?;
        match config.mode {
            SlackMode::Events => require(&config.signing_secret, "signing_secret", mode)?,
            SlackMode::Socket => require(&config.app_token, "app_token", mode)?,
        }
        let client = client(&config.api_url).map_err(SlackError::Client)?;
        let platform = Arc::new(SlackPlatform::new(Arc::clone(&client), &config.bot_token));
        let health = ChannelHealth::new();
        let options = DeliveryOptions {
            channel: ChannelKind::Slack,
            limits: config.rate_limits.clone(),
            max_in_flight: 64,
            poll_every: Duration::from_secs(1),
            retry_initial: config.retry_initial(),
            retry_max: config.retry_max(),
            max_rate_limited: 5,
        };
        let delivery = tokio::spawn(
            run_delivery(Arc::clone(&platform), Arc::clone(&ports.replies), health.clone(), options)
                .instrument(info_span!("slack_delivery")),
        );
        let socket = match config.mode {
            SlackMode::Events => None,
            SlackMode::Socket => {
                health.degrade("socket", "connecting");
                let socket = SocketMode::start(
                    client,
                    &config.app_token,
                    me.clone(),
                    health.clone(),
                    config.socket_reconnect_secs,
                );
                Some(socket.await?)
            }
        };
        info!(mode, api_url = %config.api_url, "slack channel started");
        Ok(SlackState {
            config,
            ports,
            platform,
            health,
            accepted: 0,
            notices: NoticeThrottle::new(PAIRING_NOTICE_EVERY),
            _delivery: AbortOnDropHandle::new(delivery),
            _socket: socket,
        })
    }

    async fn handle(
        &self,
        me: ActorRef<SlackMsg>,
        msg: SlackMsg,
        st: &mut SlackState,
    ) -> Result<(), ActorProcessingErr> {
        let span = info_span!("actor", kind = "slack", id = %me.get_id());
        async move {
            match msg {
                SlackMsg::Event { callback, reply } => {
                    let event_id = callback.event_id.0.clone();
                    let outcome = act(st, classify(&callback)).instrument(info_span!("event", id = %event_id)).await;
                    // The asker may have timed out; Slack then retries and dedup absorbs the copy.
                    let _ = reply.send(outcome);
                }
                SlackMsg::Health(reply) => {
                    let _ = reply.send(st.health.report(format!("{} messages accepted", st.accepted)));
                }
            }
            Ok(())
        }
        .instrument(span)
        .await
    }
}

fn require(value: &str, key: &'static str, mode: &'static str) -> Result<(), SlackError> {
    if value.is_empty() { Err(SlackError::MissingSetting { key, mode }) } else { Ok(()) }
}

async fn act(st: &mut SlackState, action: SlackAction) -> Result<(), PortError> {
    match action {
        SlackAction::Ignore(reason) => {
            debug!(reason, "slack event ignored");
            Ok(())
        }
        SlackAction::Unsupported { conversation, user } => {
            if is_allowed(st, &user).await? {
                send_notice(st, conversation, UNSUPPORTED_NOTICE.to_string());
                Ok(())
            } else {
                offer_pairing(st, conversation, &user).await
            }
        }
        SlackAction::Text(message) => {
            if is_allowed(st, &message.user).await? {
                accept(st, message).await
            } else {
                offer_pairing(st, message.conversation, &message.user).await
            }
        }
    }
}

async fn is_allowed(st: &SlackState, user: &str) -> Result<bool, PortError> {
    if st.config.allowed_users.iter().any(|allowed| allowed == user) {
        return Ok(true);
    }
    st.ports.pairing.is_approved(ChannelKind::Slack, user).await
}

/// Records the message (dedup by conversation + `ts`, which absorbs Slack's retries), then hands it over.
async fn accept(st: &mut SlackState, message: SlackText) -> Result<(), PortError> {
    let new_message = NewMessage {
        channel: ChannelKind::Slack,
        external_conversation_id: message.conversation,
        platform_message_id: message.ts,
        sender: message.user,
        text: message.text,
    };
    match st.ports.inbound.record(new_message).await? {
        Recorded::Duplicate => {
            debug!("slack message already recorded (a retry)");
            Ok(())
        }
        Recorded::Inserted(inbound) => {
            st.accepted += 1;
            info!(conversation = %inbound.conversation, "slack message accepted");
            if let Err(error) = st.ports.inbound.deliver(inbound).await {
                warn!(%error, "stored slack message not handed to its session; it resumes from the store");
            }
            Ok(())
        }
    }
}

async fn offer_pairing(st: &mut SlackState, conversation: String, user: &str) -> Result<(), PortError> {
    if !st.notices.allow(&conversation, tokio::time::Instant::now()) {
        debug!(%conversation, "pairing notice sent recently; not repeated");
        return Ok(());
    }
    let code = st.ports.pairing.pending_code(ChannelKind::Slack, user).await?;
    info!(%conversation, "unknown slack user; pairing code offered");
    let text = format!(
        "Hi! I don't know you yet. To talk to me, ask my owner to run `chitin pairing approve {code}` \
         and then write again."
    );
    send_notice(st, conversation, text);
    Ok(())
}

/// Posts a short channel-made message (not an agent reply) without holding up the actor.
fn send_notice(st: &SlackState, conversation: String, markdown_text: String) {
    let platform = Arc::clone(&st.platform);
    tokio::spawn(async move {
        let text = mrkdwn::render(&markdown_text);
        match tokio::time::timeout(Duration::from_secs(10), platform.post(&conversation, &text)).await {
            Ok(Ok(_)) => {}
            Ok(Err(error)) => warn!(%error, %conversation, "slack notice not sent"),
            Err(_) => warn!(%conversation, "slack notice timed out"),
        }
    });
}
