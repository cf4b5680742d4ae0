//! The failover chain: retries with backoff, `Retry-After`, falling over, cooling down.

use std::time::{Duration, Instant};

use chitin::llm::{FailoverChain, LlmError, LlmProvider, ProviderKind, StreamEvent, build_provider};

use super::{drain, fast_policy, settings, text_of, weather_request};
use crate::support::fake_llm::{Answer, FakeLlmServer, Reply};
use crate::support::{fake_anthropic, fake_openai};

fn chain(fakes: &[(&FakeLlmServer, ProviderKind)], max_retries: u32, cooldown: Duration) -> FailoverChain {
    let providers =
        fakes.iter().map(|(fake, kind)| build_provider(&settings(*kind, &fake.base_url())).unwrap()).collect();
    FailoverChain::new(providers, fast_policy(max_retries), cooldown).unwrap()
}

#[tokio::test]
async fn server_error_then_success_is_retried_on_the_same_provider() {
    let fake = fake_openai::start().await;
    fake.push(Reply::Status(500)).push(Reply::Status(503)).push(Reply::Answer(Answer::text("third time")));
    let chain = chain(&[(&fake, ProviderKind::OpenAi)], 2, Duration::from_secs(60));

    let response = chain.complete(&weather_request()).await.unwrap();

    assert_eq!(response.text, "third time");
    assert_eq!(fake.requests().len(), 3);
    assert!(chain.cooling_down().is_empty());
}

#[tokio::test]
async fn stream_start_is_retried_after_a_server_error() {
    let fake = fake_anthropic::start().await;
    fake.push(Reply::Status(529)).push(Reply::Answer(Answer::text("back again")));
    let chain = chain(&[(&fake, ProviderKind::Anthropic)], 1, Duration::from_secs(60));

    let (events, error) = drain(chain.stream(&weather_request()).await.unwrap()).await;

    assert!(error.is_none(), "{error:?}");
    assert_eq!(text_of(&events), "back again");
    assert!(matches!(events.last(), Some(StreamEvent::Done(_))));
    assert_eq!(fake.requests().len(), 2);
}

#[tokio::test]
async fn rate_limit_waits_as_long_as_retry_after_says() {
    let fake = fake_openai::start().await;
    fake.push(Reply::RateLimited { retry_after_secs: None, retry_after_ms: Some(400) })
        .push(Reply::RateLimited { retry_after_secs: Some(1), retry_after_ms: None })
        .push(Reply::Answer(Answer::text("finally")));
    // Backoff alone would wait at most 40 ms; any longer gap comes from Retry-After.
    let chain = chain(&[(&fake, ProviderKind::OpenAi)], 2, Duration::from_secs(60));

    let response = chain.complete(&weather_request()).await.unwrap();

    assert_eq!(response.text, "finally");
    let at: Vec<Instant> = fake.requests().iter().map(|request| request.at).collect();
    assert_eq!(at.len(), 3);
    let first_gap = at[1] - at[0];
    let second_gap = at[2] - at[1];
    assert!(first_gap >= Duration::from_millis(400), "retry-after-ms ignored: {first_gap:?}");
    assert!(second_gap >= Duration::from_secs(1), "retry-after ignored: {second_gap:?}");
}

#[tokio::test]
async fn rate_limit_longer_than_the_cap_gives_up_instead_of_waiting() {
    let fake = fake_openai::start().await;
    fake.push(Reply::RateLimited { retry_after_secs: Some(3600), retry_after_ms: None });
    let chain = chain(&[(&fake, ProviderKind::OpenAi)], 3, Duration::from_secs(1));

    let error = chain.complete(&weather_request()).await.unwrap_err();

    let LlmError::Unavailable { attempts: 1, last } = &error else {
        panic!("expected a single attempt, got {error:?}");
    };
    assert_eq!(last.retry_after(), Some(Duration::from_secs(3600)));
    // The provider rests for as long as it asked, not just the configured cooldown.
    let error = chain.complete(&weather_request()).await.unwrap_err();
    let LlmError::AllCoolingDown { retry_in } = error else {
        panic!("expected AllCoolingDown, got {error:?}");
    };
    assert!(retry_in > Duration::from_secs(3500), "{retry_in:?}");
    assert_eq!(fake.requests().len(), 1);
}

#[tokio::test]
async fn rate_limit_fails_over_at_once_when_a_fallback_is_ready() {
    let primary = fake_openai::start().await;
    primary.push(Reply::RateLimited { retry_after_secs: Some(2), retry_after_ms: None });
    let fallback = fake_anthropic::start().await;
    fallback.push(Reply::Answer(Answer::text("from the fallback")));
    let chain =
        chain(&[(&primary, ProviderKind::OpenAi), (&fallback, ProviderKind::Anthropic)], 3, Duration::from_secs(60));

    let started = Instant::now();
    let response = chain.complete(&weather_request()).await.unwrap();

    assert_eq!(response.text, "from the fallback");
    assert_eq!(primary.requests().len(), 1, "the primary is not retried while rate-limited");
    assert!(fallback.requests()[0].at - started < Duration::from_secs(2), "waited for Retry-After");
    let primary_id = build_provider(&settings(ProviderKind::OpenAi, &primary.base_url())).unwrap();
    assert_eq!(chain.cooling_down(), vec![primary_id.id().clone()]);
}

#[tokio::test]
async fn repeated_failure_fails_over_and_the_failed_provider_cools_down() {
    let primary = fake_openai::start().await;
    for _ in 0..3 {
        primary.push(Reply::Status(500));
    }
    let fallback = fake_anthropic::start().await;
    fallback.push(Reply::Answer(Answer::text("fallback one"))).push(Reply::Answer(Answer::text("fallback two")));
    let chain =
        chain(&[(&primary, ProviderKind::OpenAi), (&fallback, ProviderKind::Anthropic)], 2, Duration::from_secs(60));

    let first = chain.complete(&weather_request()).await.unwrap();
    let second = chain.complete(&weather_request()).await.unwrap();

    assert_eq!(first.text, "fallback one");
    assert_eq!(second.text, "fallback two");
    assert_eq!(primary.requests().len(), 3, "1 attempt + 2 retries, then skipped while cooling");
    assert_eq!(fallback.requests().len(), 2);
    assert_eq!(chain.cooling_down().len(), 1);
}

#[tokio::test]
async fn when_every_provider_is_cooling_down_the_chain_fails_fast_without_sending() {
    let primary = fake_openai::start().await;
    primary.push(Reply::Status(502));
    let fallback = fake_openai::start().await;
    fallback.push(Reply::Status(502));
    let chain =
        chain(&[(&primary, ProviderKind::OpenAi), (&fallback, ProviderKind::OpenAi)], 0, Duration::from_secs(60));

    let error = chain.complete(&weather_request()).await.unwrap_err();
    assert!(matches!(error, LlmError::Unavailable { attempts: 2, .. }), "{error:?}");

    let error = chain.complete(&weather_request()).await.unwrap_err();
    assert!(matches!(error, LlmError::AllCoolingDown { .. }), "{error:?}");
    assert!(error.to_string().starts_with("the model provider is unavailable"), "{error}");
    assert_eq!(primary.requests().len() + fallback.requests().len(), 2);
}

#[tokio::test]
async fn a_cooled_down_provider_is_used_again_once_its_cooldown_ends() {
    let primary = fake_openai::start().await;
    primary.push(Reply::Status(500)).push(Reply::Answer(Answer::text("primary is back")));
    let fallback = fake_openai::start().await;
    fallback.push(Reply::Answer(Answer::text("fallback")));
    let chain =
        chain(&[(&primary, ProviderKind::OpenAi), (&fallback, ProviderKind::OpenAi)], 0, Duration::from_millis(200));

    assert_eq!(chain.complete(&weather_request()).await.unwrap().text, "fallback");
    assert_eq!(chain.cooling_down().len(), 1);
    let deadline = Instant::now() + Duration::from_secs(10);
    while !chain.cooling_down().is_empty() {
        assert!(Instant::now() < deadline, "cooldown never ended");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    assert_eq!(chain.complete(&weather_request()).await.unwrap().text, "primary is back");
    assert_eq!(fallback.requests().len(), 1);
}

#[tokio::test]
async fn concurrent_calls_through_one_chain_do_not_wait_for_each_other() {
    let fake = fake_openai::start().await;
    // Each answer is held until both requests have arrived: calls made one after the other
    // would leave the first one waiting until the fake gives up with a 504.
    let gated = |text: &str| Reply::AfterRequests { count: 2, then: Box::new(Reply::Answer(Answer::text(text))) };
    fake.push(gated("one")).push(gated("two"));
    let chain = chain(&[(&fake, ProviderKind::OpenAi)], 0, Duration::from_secs(60));
    let request = weather_request();

    let (first, second) = tokio::join!(chain.complete(&request), chain.complete(&request));

    let mut texts = vec![first.unwrap().text, second.unwrap().text];
    texts.sort();
    assert_eq!(texts, ["one", "two"]);
}
