//! Logging: one subscriber for the process, pretty or JSON, filtered by verbosity or `CHITIN_LOG`.

use clap::ValueEnum;
use tracing_subscriber::EnvFilter;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    Pretty,
    /// One JSON object per line, for log collectors.
    Json,
}

/// Installs the global subscriber. Logs go to stderr so stdout stays clean for command output.
///
/// `filter` is the value of `CHITIN_LOG` when set (an env-filter directive such as `chitin=debug`); otherwise the
/// level follows `-v`/`-q` from `default_level`.
pub fn init(format: LogFormat, verbosity: i8, default_level: &str, filter: Option<&str>) {
    let levels = ["error", "warn", "info", "debug", "trace"];
    let base = levels.iter().position(|l| *l == default_level).unwrap_or(2) as i8;
    let level = levels[(base + verbosity).clamp(0, 4) as usize];
    let directives = match filter {
        Some(filter) => filter.to_string(),
        None => format!("warn,chitin={level},chitin_actors={level},chitin_channels={level}"),
    };
    let env_filter = EnvFilter::try_new(&directives).unwrap_or_else(|_| EnvFilter::new("info"));
    // Colours only for a person at a terminal: a log file or journald gets plain text (and no time spent on codes).
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let builder = tracing_subscriber::fmt().with_env_filter(env_filter).with_writer(std::io::stderr).with_ansi(ansi);
    let result = match format {
        LogFormat::Pretty => builder.try_init(),
        LogFormat::Json => builder.json().with_current_span(true).try_init(),
    };
    // Already installed (tests call this more than once): keep the first.
    let _ = result;
}
