//! Pushes webhook replies to the caller's `channels.webhook.callback_url`, signed, from the outbox.

use std::sync::Arc;
use std::time::Duration;

use chitin_actors::supervision::ChildSpec;
use chitin_actors::{ChannelKind, ChildSlot, HealthProbe, SelfReport};
use ractor::{Actor, ActorProcessingErr, ActorRef, RpcReplyPort};
use serde::{Deserialize, Serialize};
use serde_json::json;
use tokio_util::task::AbortOnDropHandle;
use tracing::info;

use crate::channel_health::ChannelHealth;
use crate::gateway::auth::{SIGNATURE_HEADER, sign};
use crate::outbound::{DeliveryOptions, Platform, RateLimits, SendError, run_delivery};
use crate::ports::{BoxFuture, ChannelPorts};

/// The `channels.webhook` section.
#[derive(Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct WebhookConfig {
    /// Where replies are POSTed as `{"message_id", "conversation", "reply"}`; unset means callers fetch them from
    /// `GET /webhook/replies/{id}`.
    pub callback_url: Option<String>,
    /// Key of the `X-Chitin-Signature: sha256=…` header on callbacks (literal; the receiver checks it).
    #[serde(serialize_with = "crate::redact::credential_option")]
    pub callback_secret: Option<String>,
}

impl std::fmt::Debug for WebhookConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebhookConfig").field("callback_url", &self.callback_url).finish_non_exhaustive()
    }
}

struct Callback {
    client: reqwest::Client,
    url: String,
    secret: Option<String>,
}

impl Platform for Callback {
    fn render(&self, body: &str) -> Vec<String> {
        vec![body.to_string()]
    }

    fn is_group(&self, _external_conversation_id: &str) -> bool {
        false
    }

    fn send_part<'a>(
        &'a self,
        external_conversation_id: &'a str,
        text: &'a str,
        reply_to_platform_message_id: Option<&'a str>,
    ) -> BoxFuture<'a, Result<String, SendError>> {
        Box::pin(async move {
            let body = json!({
                "message_id": reply_to_platform_message_id,
                "conversation": external_conversation_id,
                "reply": text,
            })
            .to_string();
            let mut request = self.client.post(&self.url).header("content-type", "application/json").body(body.clone());
            if let Some(secret) = &self.secret {
                request = request.header(SIGNATURE_HEADER, sign(secret, body.as_bytes()));
            }
            let response =
                request.send().await.map_err(|error| SendError::Unreachable { reason: error.to_string() })?;
            match response.status().as_u16() {
                200..=299 => Ok("callback".to_string()),
                429 => Err(SendError::RateLimited { retry_after: Duration::from_secs(5) }),
                401 | 403 => Err(SendError::Unauthorized),
                code => Err(SendError::Refused { reason: format!("callback answered {code}") }),
            }
        })
    }
}

/// The actor that owns the delivery loop, so it is supervised like every channel.
pub struct WebhookCallbackChannel;

pub enum WebhookCallbackMsg {
    Health(RpcReplyPort<SelfReport>),
}

impl HealthProbe for WebhookCallbackMsg {
    fn health_probe(reply: RpcReplyPort<SelfReport>) -> Self {
        WebhookCallbackMsg::Health(reply)
    }
}

pub struct WebhookCallbackState {
    health: ChannelHealth,
    url: String,
    _delivery: AbortOnDropHandle<()>,
}

impl Actor for WebhookCallbackChannel {
    type Msg = WebhookCallbackMsg;
    type State = WebhookCallbackState;
    type Arguments = (String, Option<String>, ChannelPorts);

    async fn pre_start(
        &self,
        _me: ActorRef<WebhookCallbackMsg>,
        (url, secret, ports): Self::Arguments,
    ) -> Result<WebhookCallbackState, ActorProcessingErr> {
        let client = reqwest::Client::builder().timeout(Duration::from_secs(30)).build()?;
        let platform = Arc::new(Callback { client, url: url.clone(), secret });
        let health = ChannelHealth::new();
        let options = DeliveryOptions {
            channel: ChannelKind::Webhook,
            limits: RateLimits::default(),
            max_in_flight: 16,
            poll_every: Duration::from_secs(5),
            retry_initial: Duration::from_secs(1),
            retry_max: Duration::from_secs(60),
            max_rate_limited: 5,
        };
        let delivery = tokio::spawn(run_delivery(platform, Arc::clone(&ports.replies), health.clone(), options));
        info!(%url, "webhook callbacks enabled");
        Ok(WebhookCallbackState { health, url, _delivery: AbortOnDropHandle::new(delivery) })
    }

    async fn handle(
        &self,
        _me: ActorRef<WebhookCallbackMsg>,
        msg: WebhookCallbackMsg,
        st: &mut WebhookCallbackState,
    ) -> Result<(), ActorProcessingErr> {
        match msg {
            WebhookCallbackMsg::Health(reply) => {
                let _ = reply.send(st.health.report(format!("pushing replies to {}", st.url)));
            }
        }
        Ok(())
    }
}

pub fn child_spec(url: String, secret: Option<String>, ports: ChannelPorts) -> ChildSpec {
    ChildSpec::new("webhook-callback", ChildSlot::new(), move || {
        (WebhookCallbackChannel, (url.clone(), secret.clone(), ports.clone()))
    })
}
