//! Loading: merge the sources, deserialize, and check the rules that span several keys.

use std::path::{Path, PathBuf};

use figment::Figment;
use figment::providers::{Format, Toml};

use chitin_channels::slack::SlackMode;

use super::Config;

/// The defaults compiled into the binary.
const DEFAULT_TOML: &str = include_str!("../../config/default.toml");

/// Prefix of the environment variables that set config keys.
const ENV_PREFIX: &str = "CHITIN_";

/// Top-level keys that are plain values, settable as `CHITIN_<KEY>` without a `__`.
/// Other `CHITIN_*` variables without `__` (e.g. `CHITIN_MASTER_KEY`) are not config keys.
const TOP_LEVEL_SCALARS: &[&str] = &["data_dir"];

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// Each line names the key path, what is wrong and which file or variable said so.
    #[error("invalid configuration:\n{}", .problems.join("\n"))]
    Invalid { problems: Vec<String> },
    #[error("config file {path} does not exist (given with --config)")]
    MissingFile { path: PathBuf },
    #[error("cannot tell where to keep data: set data_dir, or XDG_DATA_HOME or HOME")]
    NoDataDir,
}

/// Where the configuration comes from, resolved once in `main` and passed in.
#[derive(Debug, Clone, Default)]
pub struct ConfigSources {
    /// `--config FILE`: must exist.
    pub explicit_file: Option<PathBuf>,
    /// `$XDG_CONFIG_HOME/chitin/config.toml` (or `~/.config/…`): used when it exists.
    pub default_file: Option<PathBuf>,
    /// The process environment (`CHITIN_*` and the XDG variables), passed in so tests can set their own.
    pub env: Vec<(String, String)>,
}

impl ConfigSources {
    /// Sources as the binary sees them: `--config`, the XDG default file, the real environment.
    pub fn from_process(explicit_file: Option<PathBuf>) -> Self {
        let env: Vec<(String, String)> = std::env::vars().collect();
        let lookup = |name: &str| env.iter().find(|(k, _)| k == name).map(|(_, v)| PathBuf::from(v));
        let config_home = lookup("XDG_CONFIG_HOME").or_else(|| lookup("HOME").map(|home| home.join(".config")));
        Self { explicit_file, default_file: config_home.map(|dir| dir.join("chitin").join("config.toml")), env }
    }

    fn var(&self, name: &str) -> Option<&str> {
        self.env.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }

    /// `$XDG_DATA_HOME/chitin`, else `~/.local/share/chitin`.
    pub fn default_data_dir(&self) -> Option<PathBuf> {
        let data_home = self
            .var("XDG_DATA_HOME")
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
            .or_else(|| self.var("HOME").map(|home| Path::new(home).join(".local").join("share")))?;
        Some(data_home.join("chitin"))
    }
}

/// Merges defaults < file < environment and validates the result.
pub fn load(sources: &ConfigSources) -> Result<Config, ConfigError> {
    let mut figment = Figment::from(Toml::string(DEFAULT_TOML));
    match (&sources.explicit_file, &sources.default_file) {
        (Some(path), _) if !path.exists() => return Err(ConfigError::MissingFile { path: path.clone() }),
        (Some(path), _) => figment = figment.merge(Toml::file_exact(path)),
        (None, Some(path)) if path.exists() => figment = figment.merge(Toml::file_exact(path)),
        (None, _) => {}
    }
    for var in env_vars(sources) {
        figment = figment.merge(var);
    }

    let mut config: Config = figment.extract().map_err(|error| ConfigError::Invalid { problems: describe(error) })?;
    if config.data_dir.is_none() {
        config.data_dir = Some(sources.default_data_dir().ok_or(ConfigError::NoDataDir)?);
    }
    let problems = cross_checks(&config);
    if problems.is_empty() { Ok(config) } else { Err(ConfigError::Invalid { problems }) }
}

/// One provider per `CHITIN_*` variable, so an error can name the exact variable that set a bad key.
struct EnvVar {
    name: String,
    key: String,
    value: String,
}

impl figment::Provider for EnvVar {
    fn metadata(&self) -> figment::Metadata {
        figment::Metadata::named(format!("environment variable {}", self.name))
    }

    fn data(&self) -> Result<figment::value::Map<figment::Profile, figment::value::Dict>, figment::Error> {
        let value: figment::value::Value =
            self.value.parse().unwrap_or_else(|never: std::convert::Infallible| match never {});
        match figment::util::nest(&self.key, value).into_dict() {
            Some(dict) => Ok(figment::Profile::Default.collect(dict)),
            None => Err(figment::Error::from(format!("{}: not a config key", self.name))),
        }
    }
}

/// The `CHITIN_*` variables that set config keys: `CHITIN_<SECTION>__<KEY>`, or a top-level scalar.
fn env_vars(sources: &ConfigSources) -> Vec<EnvVar> {
    let mut vars: Vec<EnvVar> = sources
        .env
        .iter()
        .filter_map(|(name, value)| {
            let key = name.strip_prefix(ENV_PREFIX)?.to_ascii_lowercase();
            let is_config = key.contains("__") || TOP_LEVEL_SCALARS.contains(&key.as_str());
            is_config.then(|| EnvVar { name: name.clone(), key: key.replace("__", "."), value: value.clone() })
        })
        .collect();
    vars.sort_by(|a, b| a.name.cmp(&b.name));
    vars
}

/// One line per problem: `key.path: what is wrong (in SOURCE)`.
fn describe(error: figment::Error) -> Vec<String> {
    error
        .into_iter()
        .map(|problem| {
            let path = problem.path.join(".");
            let source = match problem.metadata.as_ref() {
                Some(meta) if meta.name.starts_with("environment variable") => meta.name.to_string(),
                Some(meta) => match &meta.source {
                    Some(figment::Source::File(file)) => format!("file {}", file.display()),
                    _ => "built-in defaults".to_string(),
                },
                None => "merged configuration".to_string(),
            };
            let path = if path.is_empty() { "(top level)".to_string() } else { path };
            format!("  {path}: {} (in {source})", problem.kind)
        })
        .collect()
}

/// An enabled channel needs its credentials (a value or a `secret:NAME` reference; `chitin run` refuses to start
/// without them too) and an http(s) API address.
fn channel_checks(config: &Config, problems: &mut Vec<String>) {
    let telegram = &config.channels.telegram;
    let slack = &config.channels.slack;
    let mut required = Vec::new();
    if telegram.enabled {
        required.push(("channels.telegram.bot_token", &telegram.bot_token, "channels.telegram.enabled is true"));
    }
    if slack.enabled {
        required.push(("channels.slack.bot_token", &slack.bot_token, "channels.slack.enabled is true"));
        match slack.mode {
            SlackMode::Events => {
                required.push((
                    "channels.slack.signing_secret",
                    &slack.signing_secret,
                    "channels.slack.mode is events",
                ));
            }
            SlackMode::Socket => {
                required.push(("channels.slack.app_token", &slack.app_token, "channels.slack.mode is socket"));
            }
        }
    }
    for (key, value, because) in required {
        if value.trim().is_empty() {
            problems.push(format!("  {key}: required when {because}"));
        }
    }
    for (key, url) in [("channels.telegram.api_url", &telegram.api_url), ("channels.slack.api_url", &slack.api_url)] {
        if !(url.starts_with("http://") || url.starts_with("https://")) {
            problems.push(format!("  {key}: `{url}` is not an http(s) URL"));
        }
    }
}

/// Rules no single key can check.
fn cross_checks(config: &Config) -> Vec<String> {
    let mut problems = Vec::new();
    if !config.gateway.bind.ip().is_loopback() && config.gateway.token.is_none() {
        problems.push(format!(
            "  gateway.bind: {} is reachable beyond this machine, so gateway.token must be set first",
            config.gateway.bind
        ));
    }
    if let Some(url) = &config.database.url {
        let url = url.expose();
        // Checked here as well as by the store, so `config check` reports it without opening anything.
        if !(url.starts_with("sqlite:") || url.starts_with("postgres://") || url.starts_with("postgresql://")) {
            let scheme = url.split(':').next().unwrap_or_default();
            problems.push(format!("  database.url: unknown scheme `{scheme}`; use sqlite://PATH or postgres://…"));
        }
    }
    if let Some(base_url) = &config.llm.base_url
        && !(base_url.starts_with("http://") || base_url.starts_with("https://"))
    {
        problems.push(format!("  llm.base_url: `{base_url}` is not an http(s) URL"));
    }
    for (key, value) in [
        ("jobs.workers", config.jobs.workers),
        ("jobs.lease_ms", config.jobs.lease_ms as usize),
        ("jobs.poll_ms", config.jobs.poll_ms as usize),
        ("jobs.max_attempts", config.jobs.max_attempts.max(0) as usize),
        ("jobs.max_payload_bytes", config.jobs.max_payload_bytes),
        ("routines.tick_ms", config.routines.tick_ms as usize),
        ("repair.every_secs", config.repair.every_secs as usize),
        ("sandbox.max_concurrent", config.sandbox.max_concurrent),
        ("agent.queue_capacity", config.agent.queue_capacity),
    ] {
        if value == 0 {
            problems.push(format!("  {key}: must be at least 1"));
        }
    }
    // The engine is built by the first tool load, so a size it cannot reserve would otherwise surface only there.
    if config.sandbox.max_concurrent > crate::sandbox::MAX_CONCURRENT_CALLS {
        problems.push(format!(
            "  sandbox.max_concurrent: {} is more than {}, the most concurrent tool calls the WASM engine can reserve room for",
            config.sandbox.max_concurrent,
            crate::sandbox::MAX_CONCURRENT_CALLS
        ));
    }
    channel_checks(config, &mut problems);
    if let Err(error) = config.memory.validate() {
        problems.push(format!("  memory: {error}"));
    }
    let embedding = &config.memory.embedding;
    let model_dims = match embedding.provider {
        crate::memory::embed::EmbeddingProvider::OpenAi => Some(embedding.openai.dims),
        crate::memory::embed::EmbeddingProvider::Local => Some(384),
        crate::memory::embed::EmbeddingProvider::None => None,
    };
    if let Some(dims) = model_dims
        && dims != config.database.embedding_dims
    {
        problems.push(format!(
            "  database.embedding_dims: is {}, but the configured embedding model returns {dims} dimensions; set both to {dims}",
            config.database.embedding_dims
        ));
    }
    problems
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_defaults_load_on_their_own() {
        let sources = ConfigSources { env: vec![("HOME".into(), "/home/u".into())], ..Default::default() };
        let config = load(&sources).expect("defaults are valid");
        assert_eq!(config.gateway.bind.to_string(), "127.0.0.1:7878");
        assert_eq!(config.data_dir, Some(PathBuf::from("/home/u/.local/share/chitin")));
    }
}
