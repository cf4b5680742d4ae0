//! Sending replies through the Slack Web API: mrkdwn rendering, splitting, threads, rate-limit answers.

use std::sync::Arc;
use std::time::Duration;

use chitin_actors::ports::BoxFuture;
use slack_morphism::SlackClient;
use slack_morphism::errors::SlackClientError;
use slack_morphism::prelude::{
    SlackApiChatPostMessageRequest, SlackApiToken, SlackApiTokenValue, SlackChannelId, SlackClientHyperConnector,
    SlackHyperClient, SlackHyperHttpsConnector, SlackMessageContent, SlackTs,
};

use crate::outbound::{Platform, SendError, split_message};
use crate::slack::mrkdwn;

/// Slack truncates `text` beyond 40,000 characters and advises staying under 4,000 per message.
pub const MESSAGE_LIMIT: usize = 4_000;

/// Wait this long when Slack says 429 without a `Retry-After` (it always sends one in practice).
const DEFAULT_RETRY_AFTER: Duration = Duration::from_secs(1);

/// Error codes with which Slack says the token no longer works.
const TOKEN_ERRORS: &[&str] = &["invalid_auth", "not_authed", "token_revoked", "token_expired", "account_inactive"];

/// A Web API client for `api_url`: https with the system roots, plain http allowed for local fakes.
pub fn client(api_url: &str) -> std::io::Result<Arc<SlackHyperClient>> {
    let connector: SlackHyperHttpsConnector = hyper_rustls::HttpsConnectorBuilder::new()
        .with_native_roots()?
        .https_or_http()
        .enable_http1()
        .enable_http2()
        .build();
    let connector = SlackClientHyperConnector::with_connector(connector).with_slack_api_url(api_url);
    Ok(Arc::new(SlackClient::new(connector)))
}

/// The Web API seen as an outbox [`Platform`].
pub struct SlackPlatform {
    pub client: Arc<SlackHyperClient>,
    pub token: SlackApiToken,
}

impl SlackPlatform {
    pub fn new(client: Arc<SlackHyperClient>, bot_token: &str) -> Self {
        Self { client, token: SlackApiToken::new(SlackApiTokenValue::new(bot_token.to_string())) }
    }

    /// Posts one message to `conversation` (`channel` or `channel/thread_ts`) and returns its `ts`.
    pub async fn post(&self, conversation: &str, text: &str) -> Result<String, SendError> {
        let (channel, thread) = match conversation.split_once('/') {
            Some((channel, thread)) => (channel, Some(thread)),
            None => (conversation, None),
        };
        let request = SlackApiChatPostMessageRequest::new(
            SlackChannelId::new(channel.to_string()),
            SlackMessageContent::new().with_text(text.to_string()),
        )
        .opt_thread_ts(thread.map(|ts| SlackTs::new(ts.to_string())));
        let session = self.client.open_session(&self.token);
        let posted = session.chat_post_message(&request).await.map_err(send_error)?;
        Ok(posted.ts.0)
    }
}

impl Platform for SlackPlatform {
    fn render(&self, body: &str) -> Vec<String> {
        split_message(&mrkdwn::render(body), MESSAGE_LIMIT)
    }

    fn is_group(&self, _external_conversation_id: &str) -> bool {
        // Slack's limit is per channel whatever its kind; the per-chat rate covers it.
        false
    }

    fn send_part<'a>(
        &'a self,
        external_conversation_id: &'a str,
        text: &'a str,
        _reply_to_platform_message_id: Option<&'a str>,
    ) -> BoxFuture<'a, Result<String, SendError>> {
        // The thread to answer in is part of the conversation id, so every part lands in it.
        Box::pin(self.post(external_conversation_id, text))
    }
}

fn send_error(error: SlackClientError) -> SendError {
    match error {
        SlackClientError::RateLimitError(limited) => {
            SendError::RateLimited { retry_after: limited.retry_after.unwrap_or(DEFAULT_RETRY_AFTER) }
        }
        SlackClientError::ApiError(api) if TOKEN_ERRORS.contains(&api.code.as_str()) => SendError::Unauthorized,
        SlackClientError::ApiError(api) => SendError::Refused { reason: api.code },
        SlackClientError::HttpError(http) if http.status_code.as_u16() == 401 => SendError::Unauthorized,
        other => SendError::Unreachable { reason: other.to_string() },
    }
}
