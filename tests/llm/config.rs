//! The `llm` config section: parsing, defaults, redaction, and a chain built from it.

use chitin::llm::{FailoverChain, LlmConfig, LlmError, LlmProvider, ProviderKind};
use serde_json::json;

use super::weather_request;
use crate::support::fake_llm::{Answer, Reply};
use crate::support::{fake_anthropic, fake_openai};

#[test]
fn unknown_keys_are_errors_that_name_the_key() {
    let error =
        serde_json::from_value::<LlmConfig>(json!({"provider": "openai", "modle": "x"})).unwrap_err().to_string();
    assert!(error.contains("modle"), "{error}");
    let error =
        serde_json::from_value::<LlmConfig>(json!({"fallbacks": [{"provider": "gemini"}]})).unwrap_err().to_string();
    assert!(error.contains("gemini"), "{error}");
}

#[test]
fn api_keys_never_show_in_debug_or_serialized_config() {
    let config: LlmConfig = serde_json::from_value(json!({
        "api_key": "sk-live-very-secret",
        "fallbacks": [{"provider": "anthropic", "api_key": "secret:anthropic_key"}],
    }))
    .unwrap();
    let debug = format!("{config:?}");
    let serialized = serde_json::to_string(&config).unwrap();
    for shown in [&debug, &serialized] {
        assert!(!shown.contains("sk-live-very-secret"), "{shown}");
        assert!(shown.contains("secret:anthropic_key"), "references may show: {shown}");
    }
}

#[test]
fn defaults_fill_in_base_url_model_and_timeouts_per_provider() {
    let config: LlmConfig = serde_json::from_value(json!({
        "request_timeout_secs": 30,
        "fallbacks": [{"provider": "anthropic", "connect_timeout_secs": 3}],
    }))
    .unwrap();
    let settings = config.provider_settings();
    assert_eq!(settings.len(), 2);
    assert_eq!(settings[0].kind, ProviderKind::OpenAi);
    assert_eq!(settings[0].base_url, "https://api.openai.com/v1");
    assert_eq!(settings[0].connect_timeout.as_secs(), 10);
    assert_eq!(settings[1].base_url, "https://api.anthropic.com");
    assert_eq!(settings[1].request_timeout.as_secs(), 30, "inherited from the primary");
    assert_eq!(settings[1].connect_timeout.as_secs(), 3);
    assert_eq!(settings[1].provider_id().to_string(), "anthropic/claude-sonnet-4-5@api.anthropic.com");
}

#[test]
fn unresolved_secret_reference_is_refused_when_building_the_chain() {
    let config: LlmConfig = serde_json::from_value(json!({"api_key": "secret:openai_key"})).unwrap();
    let error = FailoverChain::from_config(&config).err().expect("chain refused");
    assert!(matches!(error, LlmError::UnresolvedSecret { ref name, .. } if name == "openai_key"), "{error:?}");
}

#[tokio::test]
async fn chain_built_from_config_reaches_the_providers_through_base_url() {
    let primary = fake_openai::start().await;
    primary.push(Reply::Status(500));
    let fallback = fake_anthropic::start().await;
    fallback.push(Reply::Answer(Answer::text("configured fallback")));
    let config: LlmConfig = serde_json::from_value(json!({
        "provider": "openai",
        "base_url": primary.base_url(),
        "api_key": "sk-primary",
        "model": "gpt-test",
        "max_retries": 0,
        "fallbacks": [{
            "provider": "anthropic",
            "base_url": fallback.base_url(),
            "api_key": "sk-ant-fallback",
            "model": "claude-test",
        }],
    }))
    .unwrap();
    let chain = FailoverChain::from_config(&config).unwrap();

    let response = chain.complete(&weather_request()).await.unwrap();

    assert_eq!(response.text, "configured fallback");
    assert_eq!(primary.requests()[0].body["model"], "gpt-test");
    assert_eq!(primary.requests()[0].headers["authorization"], "Bearer sk-primary");
    assert_eq!(fallback.requests()[0].body["model"], "claude-test");
    assert_eq!(fallback.requests()[0].headers["x-api-key"], "sk-ant-fallback");
    assert!(chain.id().to_string().contains(" then anthropic/claude-test@127.0.0.1:"));
}
