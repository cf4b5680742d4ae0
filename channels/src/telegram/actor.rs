//! The Telegram channel actor: owns the polling and delivery tasks and turns each update into a stored message.

use std::sync::Arc;
use std::time::Duration;

use chitin_actors::{ChannelKind, HealthProbe, SelfReport};
use ractor::{Actor, ActorProcessingErr, ActorRef, RpcReplyPort};
use teloxide::Bot;
use teloxide::payloads::SendMessageSetters;
use teloxide::prelude::Requester;
use teloxide::types::{ChatId, MessageId, ParseMode, ReplyParameters, Update};
use tokio::time::Instant;
use tokio_util::task::AbortOnDropHandle;
use tracing::{Instrument, debug, info, info_span, warn};

use crate::channel_health::ChannelHealth;
use crate::outbound::{DeliveryOptions, NoticeThrottle, run_delivery};
use crate::ports::{ChannelPorts, NewMessage, PortError, Recorded};
use crate::telegram::config::TelegramConfig;
use crate::telegram::draft_relay::{DraftTurn, relay_drafts};
use crate::telegram::drafts::{DraftKey, DraftStep, Drafts};
use crate::telegram::platform::{TelegramPlatform, TypingChats};
use crate::telegram::poller::{PollOptions, run_polling};
use crate::telegram::updates::{TextMessage, UpdateAction, classify};
use crate::telegram::{TelegramError, markdown};

/// Telegram shows "typing…" for five seconds; refresh a little before it fades.
const TYPING_EVERY: Duration = Duration::from_secs(4);
/// A notice (pairing code, polite refusal) that takes longer than this is dropped; the user can write again.
const NOTICE_TIMEOUT: Duration = Duration::from_secs(10);
/// A stranger who keeps writing sees the pairing notice again only after this long.
const PAIRING_NOTICE_EVERY: Duration = Duration::from_secs(60);
const UNSUPPORTED_NOTICE: &str = "Sorry, I can only read text messages for now. Please send your request as text.";

pub struct TelegramChannel;

pub enum TelegramMsg {
    /// A batch from `getUpdates`, from the polling task; the answer says how far the offset may move.
    Updates {
        updates: Vec<Update>,
        bot_username: Arc<str>,
        reply: RpcReplyPort<Handled>,
    },
    /// Timer: refresh "typing…" in chats that wait for an answer.
    TypingTick,
    /// The answer so far to message `reply_to` in `chat_id`, shown as a draft that the final reply replaces.
    Draft {
        chat_id: i64,
        reply_to: i32,
        text: String,
    },
    /// Timer: show draft text that waited for the edit interval.
    DraftTick,
    Health(RpcReplyPort<SelfReport>),
}

impl HealthProbe for TelegramMsg {
    fn health_probe(reply: RpcReplyPort<SelfReport>) -> Self {
        TelegramMsg::Health(reply)
    }
}

/// How much of a batch was recorded.
#[derive(Debug)]
pub struct Handled {
    /// Offset for the next `getUpdates`: past every update recorded (or deliberately skipped), `None` if none was.
    pub next_offset: Option<i32>,
    /// Why recording stopped early; the updates from there on are fetched again.
    pub failure: Option<PortError>,
}

pub struct TelegramArgs {
    pub config: TelegramConfig,
    pub ports: ChannelPorts,
}

pub struct TelegramState {
    config: TelegramConfig,
    ports: ChannelPorts,
    platform: Arc<TelegramPlatform>,
    health: ChannelHealth,
    accepted: u64,
    /// At most one pairing notice per chat per [`PAIRING_NOTICE_EVERY`], however often a stranger writes.
    notices: NoticeThrottle,
    /// Polling and delivery; aborted when the actor ends, however it ends.
    _tasks: [AbortOnDropHandle<()>; 2],
}

impl Actor for TelegramChannel {
    type Msg = TelegramMsg;
    type State = TelegramState;
    type Arguments = TelegramArgs;

    async fn pre_start(
        &self,
        me: ActorRef<TelegramMsg>,
        args: TelegramArgs,
    ) -> Result<TelegramState, ActorProcessingErr> {
        let TelegramArgs { config, ports } = args;
        if config.bot_token.is_empty() {
            return Err(TelegramError::MissingToken.into());
        }
        let api_url = url::Url::parse(&config.api_url)
            .map_err(|source| TelegramError::InvalidApiUrl { url: config.api_url.clone(), source })?;
        let bot = Bot::new(&config.bot_token).set_api_url(api_url);
        let health = ChannelHealth::new();
        let draft_every = Duration::from_millis(config.draft_edit_interval_ms);
        let platform = Arc::new(TelegramPlatform {
            bot: bot.clone(),
            typing: TypingChats::default(),
            drafts: Drafts::new(draft_every),
        });
        let poll_options = PollOptions {
            timeout_secs: config.poll_timeout_secs,
            retry_initial: config.retry_initial(),
            retry_max: config.retry_max(),
        };
        let polling = tokio::spawn(
            run_polling(bot, me.clone(), health.clone(), poll_options).instrument(info_span!("telegram_polling")),
        );
        let delivery_options = DeliveryOptions {
            channel: ChannelKind::Telegram,
            limits: config.rate_limits.clone(),
            max_in_flight: 64,
            poll_every: Duration::from_secs(1),
            retry_initial: config.retry_initial(),
            retry_max: config.retry_max(),
            max_rate_limited: 5,
        };
        let delivery = tokio::spawn(run_delivery(
            Arc::clone(&platform),
            Arc::clone(&ports.replies),
            health.clone(),
            delivery_options,
        ));
        me.send_interval(TYPING_EVERY, || TelegramMsg::TypingTick);
        me.send_interval((draft_every / 2).max(Duration::from_millis(20)), || TelegramMsg::DraftTick);
        info!(api_url = %config.api_url, allowed_users = config.allowed_users.len(), "telegram channel started");
        Ok(TelegramState {
            config,
            ports,
            platform,
            health,
            accepted: 0,
            notices: NoticeThrottle::new(PAIRING_NOTICE_EVERY),
            _tasks: [AbortOnDropHandle::new(polling), AbortOnDropHandle::new(delivery)],
        })
    }

    async fn handle(
        &self,
        me: ActorRef<TelegramMsg>,
        msg: TelegramMsg,
        st: &mut TelegramState,
    ) -> Result<(), ActorProcessingErr> {
        let span = info_span!("actor", kind = "telegram", id = %me.get_id());
        async move {
            match msg {
                TelegramMsg::Updates { updates, bot_username, reply } => {
                    let handled = handle_batch(&me, st, updates, &bot_username).await;
                    // The poller may have timed out; it fetches the batch again and dedup absorbs it.
                    let _ = reply.send(handled);
                }
                TelegramMsg::TypingTick => {
                    for chat_id in st.platform.typing.waiting() {
                        let platform = Arc::clone(&st.platform);
                        tokio::spawn(async move { platform.send_typing(chat_id).await });
                    }
                }
                TelegramMsg::Draft { chat_id, reply_to, text } => {
                    if let Some(step) = st.platform.drafts.update((chat_id, reply_to), text, Instant::now()) {
                        show_draft(&st.platform, (chat_id, reply_to), step);
                    }
                }
                TelegramMsg::DraftTick => {
                    for (key, step) in st.platform.drafts.due(Instant::now()) {
                        show_draft(&st.platform, key, step);
                    }
                }
                TelegramMsg::Health(reply) => {
                    let _ = reply.send(st.health.report(format!("{} messages accepted", st.accepted)));
                }
            }
            Ok(())
        }
        .instrument(span)
        .await
    }
}

/// Sends or edits a draft off the actor, then tells the drafts what Telegram shows now.
fn show_draft(platform: &Arc<TelegramPlatform>, key: DraftKey, step: DraftStep) {
    let platform = Arc::clone(platform);
    tokio::spawn(async move {
        let text = match &step {
            DraftStep::Send(text) | DraftStep::Edit { text, .. } => text.clone(),
        };
        let shown = platform.show_draft(key, &step).await;
        if platform.drafts.shown(key, shown, text, Instant::now())
            && let Some(orphan) = shown
        {
            platform.delete_orphan_draft(key.0, orphan).await;
        }
    });
}

/// Records the updates in order, stopping at the first that could not be recorded.
async fn handle_batch(
    me: &ActorRef<TelegramMsg>,
    st: &mut TelegramState,
    updates: Vec<Update>,
    bot_username: &str,
) -> Handled {
    let mut next_offset = None;
    for update in updates {
        let update_offset = update.id.as_offset();
        let action = classify(&update, bot_username, st.config.mention_required_in_groups);
        if let Err(failure) = act(me, st, action).await {
            return Handled { next_offset, failure: Some(failure) };
        }
        next_offset = Some(update_offset);
    }
    Handled { next_offset, failure: None }
}

async fn act(me: &ActorRef<TelegramMsg>, st: &mut TelegramState, action: UpdateAction) -> Result<(), PortError> {
    match action {
        UpdateAction::Ignore(reason) => {
            debug!(reason, "telegram update ignored");
            Ok(())
        }
        UpdateAction::Unsupported { chat_id, message_id, user_id, is_private } => {
            if is_allowed(st, user_id).await? {
                info!(chat = chat_id, "unsupported telegram content; sending a polite note");
                send_notice(st, chat_id, Some(message_id), UNSUPPORTED_NOTICE.to_string());
            } else if is_private {
                offer_pairing(st, chat_id, user_id).await?;
            }
            Ok(())
        }
        UpdateAction::Text(message) => {
            if is_allowed(st, message.user_id).await? {
                accept(me, st, message).await
            } else if message.is_private {
                offer_pairing(st, message.chat_id, message.user_id).await
            } else {
                debug!(chat = message.chat_id, "group message from an unpaired user ignored");
                Ok(())
            }
        }
    }
}

async fn is_allowed(st: &TelegramState, user_id: u64) -> Result<bool, PortError> {
    if st.config.allowed_users.contains(&user_id) {
        return Ok(true);
    }
    st.ports.pairing.is_approved(ChannelKind::Telegram, &user_id.to_string()).await
}

/// Records the message (dedup by chat + message id), then hands it to the sessions, shows "typing…" and follows
/// the turn for a draft.
async fn accept(me: &ActorRef<TelegramMsg>, st: &mut TelegramState, message: TextMessage) -> Result<(), PortError> {
    let new_message = NewMessage {
        channel: ChannelKind::Telegram,
        external_conversation_id: message.chat_id.to_string(),
        platform_message_id: super::updates::platform_message_id(message.chat_id, message.message_id),
        sender: message.user_id.to_string(),
        text: message.text,
    };
    match st.ports.inbound.record(new_message).await? {
        Recorded::Duplicate => {
            debug!(chat = message.chat_id, message = message.message_id, "telegram message already recorded");
            Ok(())
        }
        Recorded::Inserted(inbound) => {
            st.accepted += 1;
            info!(chat = message.chat_id, message = message.message_id, "telegram message accepted");
            st.platform.typing.start(message.chat_id);
            let platform = Arc::clone(&st.platform);
            tokio::spawn(async move { platform.send_typing(message.chat_id).await });
            // Subscribed before the hand-over, so the turn's first words cannot slip past the relay.
            let events = st.ports.live.subscribe(&inbound.conversation);
            let turn =
                DraftTurn { chat_id: message.chat_id, reply_to: message.message_id, record_id: inbound.record_id };
            let show_after = Duration::from_millis(st.config.draft_after_ms);
            tokio::spawn(relay_drafts(me.clone(), events, turn, show_after).instrument(info_span!("telegram_draft")));
            // Stored already: if the hand-over fails, the session finds it unanswered when it resumes.
            if let Err(error) = st.ports.inbound.deliver(inbound).await {
                warn!(%error, "stored telegram message not handed to its session; it resumes from the store");
            }
            Ok(())
        }
    }
}

async fn offer_pairing(st: &mut TelegramState, chat_id: i64, user_id: u64) -> Result<(), PortError> {
    if !st.notices.allow(&chat_id.to_string(), Instant::now()) {
        debug!(chat = chat_id, "pairing notice sent recently; not repeated");
        return Ok(());
    }
    let code = st.ports.pairing.pending_code(ChannelKind::Telegram, &user_id.to_string()).await?;
    info!(chat = chat_id, "unknown telegram user; pairing code offered");
    let text = format!(
        "Hi! I don't know you yet. To talk to me, ask my owner to run `chitin pairing approve {code}` \
         and then write again."
    );
    send_notice(st, chat_id, None, text);
    Ok(())
}

/// Sends a short channel-made message (not an agent reply) without holding up the actor.
fn send_notice(st: &TelegramState, chat_id: i64, reply_to: Option<i32>, markdown_text: String) {
    let bot = st.platform.bot.clone();
    tokio::spawn(async move {
        let mut request = bot.send_message(ChatId(chat_id), markdown::render(&markdown_text));
        request = request.parse_mode(ParseMode::MarkdownV2);
        if let Some(message_id) = reply_to {
            request =
                request.reply_parameters(ReplyParameters::new(MessageId(message_id)).allow_sending_without_reply());
        }
        match tokio::time::timeout(NOTICE_TIMEOUT, request).await {
            Ok(Ok(_)) => {}
            Ok(Err(error)) => warn!(%error, chat = chat_id, "telegram notice not sent"),
            Err(_) => warn!(chat = chat_id, "telegram notice timed out"),
        }
    });
}
