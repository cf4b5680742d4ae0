//! Providers that are down, slow, broken or refuse us: typed, honest errors, never a hang.

use std::sync::Arc;
use std::time::Duration;

use chitin::llm::{
    AnthropicProvider, FailoverChain, LlmError, LlmProvider, OpenAiProvider, ProviderKind, StreamEvent, build_provider,
};

use super::{drain, fast_policy, settings, text_of, weather_request};
use crate::support::fake_llm::{Answer, Reply};
use crate::support::{fake_anthropic, fake_openai};

/// Bounds a call so a hang fails the test instead of stalling the suite.
async fn within<T>(future: impl Future<Output = T>) -> T {
    tokio::time::timeout(Duration::from_secs(20), future).await.expect("finished within 20s")
}

#[tokio::test]
async fn malformed_json_answer_is_a_malformed_response_error() {
    let openai = fake_openai::start().await;
    openai.push(Reply::MalformedJson);
    let anthropic = fake_anthropic::start().await;
    anthropic.push(Reply::MalformedJson);
    let openai = OpenAiProvider::new(&settings(ProviderKind::OpenAi, &openai.base_url())).unwrap();
    let anthropic = AnthropicProvider::new(&settings(ProviderKind::Anthropic, &anthropic.base_url())).unwrap();

    for provider in [&openai as &dyn LlmProvider, &anthropic] {
        let error = provider.complete(&weather_request()).await.unwrap_err();
        assert!(matches!(error, LlmError::MalformedResponse { .. }), "{error:?}");
        assert!(!error.is_retryable());
        assert!(error.to_string().contains("could not be understood"), "{error}");
    }
}

#[tokio::test]
async fn malformed_event_in_a_stream_ends_it_with_a_malformed_response_error() {
    for (fake, kind) in
        [(fake_openai::start().await, ProviderKind::OpenAi), (fake_anthropic::start().await, ProviderKind::Anthropic)]
    {
        fake.push(Reply::MalformedJson);
        let provider = build_provider(&settings(kind, &fake.base_url())).unwrap();

        let (events, error) = drain(provider.stream(&weather_request()).await.unwrap()).await;

        assert_eq!(text_of(&events), "ok so far", "{kind}");
        assert!(matches!(error, Some(LlmError::MalformedResponse { .. })), "{kind}: {error:?}");
        assert!(!events.iter().any(|e| matches!(e, StreamEvent::Done(_))), "{kind}");
    }
}

#[tokio::test]
async fn connection_dropped_mid_stream_is_a_stream_dropped_error() {
    for (fake, kind) in
        [(fake_openai::start().await, ProviderKind::OpenAi), (fake_anthropic::start().await, ProviderKind::Anthropic)]
    {
        fake.push(Reply::DropMidStream { text_before: "The weather in".to_owned() });
        let provider = build_provider(&settings(kind, &fake.base_url())).unwrap();

        let (events, error) = drain(provider.stream(&weather_request()).await.unwrap()).await;

        assert_eq!(text_of(&events), "The weather in", "{kind}");
        let error = error.expect("the stream ends in an error");
        assert!(matches!(error, LlmError::StreamDropped { .. }), "{kind}: {error:?}");
        assert!(error.is_retryable());
    }
}

#[tokio::test]
async fn connection_dropped_mid_body_of_a_complete_call_is_a_transport_error() {
    let fake = fake_openai::start().await;
    fake.push(Reply::DropMidStream { text_before: String::new() });
    let provider = OpenAiProvider::new(&settings(ProviderKind::OpenAi, &fake.base_url())).unwrap();

    let error = within(provider.complete(&weather_request())).await.unwrap_err();

    assert!(matches!(error, LlmError::Transport { .. }), "{error:?}");
    assert!(error.is_retryable());
}

#[tokio::test]
async fn stalled_stream_times_out_after_the_request_timeout() {
    let fake = fake_anthropic::start().await;
    fake.push(Reply::StallMidStream { text_before: "Let me".to_owned() });
    let mut settings = settings(ProviderKind::Anthropic, &fake.base_url());
    settings.request_timeout = Duration::from_millis(300);
    let provider = AnthropicProvider::new(&settings).unwrap();

    let (events, error) = drain(provider.stream(&weather_request()).await.unwrap()).await;

    assert_eq!(text_of(&events), "Let me");
    assert!(matches!(error, Some(LlmError::Timeout { .. })), "{error:?}");
}

#[tokio::test]
async fn hung_provider_times_out_and_the_chain_says_the_provider_is_unavailable() {
    let fake = fake_openai::start().await;
    let hang =
        || Reply::Slow { delay: Duration::from_secs(60), then: Box::new(Reply::Answer(Answer::text("too late"))) };
    fake.push(hang()).push(hang());
    let mut settings = settings(ProviderKind::OpenAi, &fake.base_url());
    settings.request_timeout = Duration::from_millis(300);
    let provider = build_provider(&settings).unwrap();
    let chain = FailoverChain::new(vec![provider], fast_policy(1), Duration::from_secs(60)).unwrap();

    let error = within(chain.complete(&weather_request())).await.unwrap_err();

    let LlmError::Unavailable { attempts, last } = &error else {
        panic!("expected Unavailable, got {error:?}");
    };
    assert_eq!(*attempts, 2);
    assert!(matches!(**last, LlmError::Timeout { .. }), "{last:?}");
    let message = error.to_string();
    assert!(message.starts_with("the model provider is unavailable: failed after 2 attempts"), "{message}");
    assert!(message.contains("did not answer within 0.3s"), "{message}");
}

#[tokio::test]
async fn provider_that_is_down_gives_a_connect_error_after_retries() {
    // A port that was just free: nothing listens there, so connections are refused.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let base_url = format!("http://{}/v1", listener.local_addr().unwrap());
    drop(listener);
    let provider = build_provider(&settings(ProviderKind::OpenAi, &base_url)).unwrap();
    let chain = FailoverChain::new(vec![provider], fast_policy(2), Duration::from_secs(60)).unwrap();

    let error = within(chain.stream(&weather_request())).await.err().expect("stream fails to start");

    let LlmError::Unavailable { attempts, last } = &error else {
        panic!("expected Unavailable, got {error:?}");
    };
    assert_eq!(*attempts, 3);
    assert!(matches!(**last, LlmError::Connect { .. }), "{last:?}");
    assert!(error.to_string().contains("could not connect to model provider openai/test-model@127.0.0.1:"));
}

#[tokio::test]
async fn bad_key_is_not_retried_and_says_so() {
    let fake = fake_anthropic::start().await;
    fake.push(Reply::Status(401)).push(Reply::Answer(Answer::text("never sent")));
    let provider = AnthropicProvider::new(&settings(ProviderKind::Anthropic, &fake.base_url())).unwrap();
    let chain = FailoverChain::new(vec![Arc::new(provider)], fast_policy(3), Duration::from_secs(60)).unwrap();

    let error = chain.complete(&weather_request()).await.unwrap_err();

    let LlmError::Unavailable { attempts: 1, last } = &error else {
        panic!("expected one attempt, got {error:?}");
    };
    assert!(matches!(**last, LlmError::Unauthorized { status: 401, .. }), "{last:?}");
    assert_eq!(fake.requests().len(), 1);
}

#[tokio::test]
async fn invalid_request_is_returned_as_is_without_trying_the_fallback() {
    let primary = fake_openai::start().await;
    primary.push(Reply::Status(400));
    let fallback = fake_openai::start().await;
    fallback.push(Reply::Answer(Answer::text("never sent")));
    let chain = FailoverChain::new(
        vec![
            build_provider(&settings(ProviderKind::OpenAi, &primary.base_url())).unwrap(),
            build_provider(&settings(ProviderKind::OpenAi, &fallback.base_url())).unwrap(),
        ],
        fast_policy(2),
        Duration::from_secs(60),
    )
    .unwrap();

    let error = chain.complete(&weather_request()).await.unwrap_err();

    assert!(matches!(error, LlmError::Rejected { status: 400, .. }), "{error:?}");
    assert!(error.to_string().contains("The request is invalid"), "{error}");
    assert_eq!(primary.requests().len(), 1);
    assert!(fallback.requests().is_empty());
}

#[tokio::test]
async fn server_ignoring_stream_true_is_reported_as_such() {
    let fake = fake_openai::start().await;
    fake.push(Reply::IgnoreStream(Answer::text("plain json")));
    let provider = OpenAiProvider::new(&settings(ProviderKind::OpenAi, &fake.base_url())).unwrap();

    let error = provider.stream(&weather_request()).await.err().expect("stream refused");

    assert!(matches!(error, LlmError::MalformedResponse { .. }), "{error:?}");
    assert!(error.to_string().contains("expected an event stream"), "{error}");
}
