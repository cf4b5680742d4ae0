//! Configuration: precedence of the sources, error messages that name key and source, redaction.

use std::path::PathBuf;

use chitin::config::{ConfigError, ConfigSources, load};

use crate::support::process::write_file;

fn sources(file: Option<PathBuf>, env: &[(&str, &str)]) -> ConfigSources {
    let mut vars: Vec<(String, String)> = vec![("HOME".into(), "/home/tester".into())];
    vars.extend(env.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    ConfigSources { explicit_file: file, default_file: None, env: vars }
}

fn problems(error: ConfigError) -> String {
    match error {
        ConfigError::Invalid { problems } => problems.join("\n"),
        other => panic!("expected an invalid-config error, got {other}"),
    }
}

#[test]
fn file_overrides_defaults_and_environment_overrides_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("config.toml");
    write_file(&file, "[llm]\nmodel = \"from-file\"\nbase_url = \"http://file.example/v1\"\n[jobs]\nworkers = 7\n");

    let from_file = load(&sources(Some(file.clone()), &[])).expect("valid");
    assert_eq!(from_file.llm.model.as_deref(), Some("from-file"));
    assert_eq!(from_file.jobs.workers, 7);
    assert_eq!(from_file.sandbox.max_concurrent, 8, "untouched keys keep the embedded default");

    let with_env =
        load(&sources(Some(file), &[("CHITIN_LLM__MODEL", "from-env"), ("CHITIN_JOBS__WORKERS", "3")])).expect("valid");
    assert_eq!(with_env.llm.model.as_deref(), Some("from-env"));
    assert_eq!(with_env.jobs.workers, 3);
    assert_eq!(with_env.llm.base_url.as_deref(), Some("http://file.example/v1"), "env overrides only what it names");
}

#[test]
fn the_default_user_file_is_used_when_present_and_skipped_when_absent() {
    let dir = tempfile::tempdir().expect("tempdir");
    let default_file = dir.path().join("chitin/config.toml");
    let mut config_sources = sources(None, &[]);
    config_sources.default_file = Some(default_file.clone());
    assert_eq!(load(&config_sources).expect("absent file is fine").gateway.bind.port(), 7878);
    write_file(&default_file, "[gateway]\nbind = \"127.0.0.1:9999\"\n");
    assert_eq!(load(&config_sources).expect("valid").gateway.bind.port(), 9999);
}

#[test]
fn data_dir_follows_xdg_then_home_then_config() {
    let xdg = load(&sources(None, &[("XDG_DATA_HOME", "/xdg")])).expect("valid");
    assert_eq!(xdg.data_dir, Some(PathBuf::from("/xdg/chitin")));
    let home = load(&sources(None, &[])).expect("valid");
    assert_eq!(home.data_dir, Some(PathBuf::from("/home/tester/.local/share/chitin")));
    let explicit = load(&sources(None, &[("CHITIN_DATA_DIR", "/srv/chitin")])).expect("valid");
    assert_eq!(explicit.data_dir, Some(PathBuf::from("/srv/chitin")));
}

#[test]
fn unknown_key_in_a_file_names_the_key_and_the_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("broken.toml");
    write_file(&file, "[llm]\nmodle = \"typo\"\n");
    let message = problems(load(&sources(Some(file.clone()), &[])).expect_err("unknown key"));
    assert!(message.contains("llm.modle"), "{message}");
    assert!(message.contains(&file.display().to_string()), "{message}");
}

#[test]
fn unknown_key_in_the_environment_names_the_variable() {
    let message = problems(load(&sources(None, &[("CHITIN_GATEWAY__BINDD", "x")])).expect_err("unknown key"));
    assert!(message.contains("gateway.bindd"), "{message}");
    assert!(message.contains("CHITIN_GATEWAY__BINDD"), "{message}");
}

#[test]
fn wrong_types_name_the_key_and_source() {
    let message = problems(load(&sources(None, &[("CHITIN_JOBS__WORKERS", "many")])).expect_err("wrong type"));
    assert!(message.contains("jobs.workers") && message.contains("CHITIN_JOBS__WORKERS"), "{message}");

    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("bad-bind.toml");
    write_file(&file, "[gateway]\nbind = \"localhost-ish\"\n");
    let message = problems(load(&sources(Some(file.clone()), &[])).expect_err("bad address"));
    assert!(message.contains("gateway.bind") && message.contains(&file.display().to_string()), "{message}");
}

#[test]
fn non_config_chitin_variables_are_not_keys() {
    load(&sources(None, &[("CHITIN_MASTER_KEY", "k"), ("CHITIN_LOG", "debug")])).expect("not treated as config keys");
}

#[test]
fn rules_across_keys_are_checked() {
    let message = problems(load(&sources(None, &[("CHITIN_GATEWAY__BIND", "0.0.0.0:7878")])).expect_err("public bind"));
    assert!(message.contains("gateway.token"), "{message}");
    load(&sources(None, &[("CHITIN_GATEWAY__BIND", "0.0.0.0:7878"), ("CHITIN_GATEWAY__TOKEN", "t")]))
        .expect("token set");

    let message = problems(load(&sources(None, &[("CHITIN_DATABASE__URL", "mysql://db")])).expect_err("scheme"));
    assert!(message.contains("database.url") && message.contains("mysql"), "{message}");

    let message = problems(load(&sources(None, &[("CHITIN_JOBS__WORKERS", "0")])).expect_err("zero workers"));
    assert!(message.contains("jobs.workers"), "{message}");

    let message =
        problems(load(&sources(None, &[("CHITIN_SANDBOX__MAX_CONCURRENT", "4096")])).expect_err("too many calls"));
    assert!(message.contains("sandbox.max_concurrent") && message.contains("1024"), "{message}");
    load(&sources(None, &[("CHITIN_SANDBOX__MAX_CONCURRENT", "1024")])).expect("the largest allowed");
}

#[test]
fn a_missing_explicit_file_is_an_error() {
    let error = load(&sources(Some(PathBuf::from("/nonexistent/chitin.toml")), &[])).expect_err("missing");
    assert!(error.to_string().contains("/nonexistent/chitin.toml"), "{error}");
}

#[test]
fn credentials_are_redacted_when_shown() {
    let config = load(&sources(
        None,
        &[
            ("CHITIN_LLM__API_KEY", "sk-planted-credential-123"),
            ("CHITIN_CHANNELS__TELEGRAM__BOT_TOKEN", "secret:telegram"),
        ],
    ))
    .expect("valid");
    let shown = toml::to_string(&config).expect("serialize");
    let debugged = format!("{config:?}");
    for text in [&shown, &debugged] {
        assert!(!text.contains("planted-credential"), "{text}");
    }
    assert!(shown.contains("secret:telegram"), "references are not secret and stay visible: {shown}");
    assert_eq!(config.llm.api_key.as_ref().map(|k| k.expose()), Some("sk-planted-credential-123"));
}

/// An enabled chat channel needs its credentials and an http(s) API address: `config check` says so, not only the
/// failed start of `chitin run`. A `secret:NAME` reference counts as set.
#[test]
fn enabled_channels_need_their_credentials() {
    let telegram = problems(load(&sources(None, &[("CHITIN_CHANNELS__TELEGRAM__ENABLED", "true")])).unwrap_err());
    assert!(telegram.contains("channels.telegram.bot_token: required"), "{telegram}");

    let socket = [
        ("CHITIN_CHANNELS__SLACK__ENABLED", "true"),
        ("CHITIN_CHANNELS__SLACK__MODE", "socket"),
        ("CHITIN_CHANNELS__SLACK__BOT_TOKEN", "secret:slack_bot"),
    ];
    let slack = problems(load(&sources(None, &socket)).unwrap_err());
    assert!(slack.contains("channels.slack.app_token: required when channels.slack.mode is socket"), "{slack}");
    assert!(!slack.contains("bot_token"), "a secret reference is a value: {slack}");

    let odd_url = [
        ("CHITIN_CHANNELS__TELEGRAM__ENABLED", "true"),
        ("CHITIN_CHANNELS__TELEGRAM__BOT_TOKEN", "123:abc"),
        ("CHITIN_CHANNELS__TELEGRAM__API_URL", "ftp://api.example"),
    ];
    let url = problems(load(&sources(None, &odd_url)).unwrap_err());
    assert!(url.contains("channels.telegram.api_url: `ftp://api.example` is not an http(s) URL"), "{url}");

    let complete = [
        ("CHITIN_CHANNELS__SLACK__ENABLED", "true"),
        ("CHITIN_CHANNELS__SLACK__BOT_TOKEN", "xoxb-1"),
        ("CHITIN_CHANNELS__SLACK__SIGNING_SECRET", "secret:slack_signing"),
    ];
    load(&sources(None, &complete)).expect("events mode with its token and signing secret is valid");
}
