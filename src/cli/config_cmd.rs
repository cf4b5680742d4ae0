//! `chitin config show|check`.

use std::process::ExitCode;

use anyhow::Context;

use super::report;
use crate::config::Config;

pub fn show(config: &Config) -> ExitCode {
    report(
        toml::to_string_pretty(config).context("cannot render the configuration as TOML").map(|text| print!("{text}")),
    )
}

/// Loading already validated everything; reaching here means the configuration is valid.
pub fn check(config: &Config) -> ExitCode {
    let data_dir = config.data_dir.as_deref().map(|p| p.display().to_string()).unwrap_or_default();
    println!("configuration is valid (data_dir {data_dir}, gateway {})", config.gateway.bind);
    ExitCode::SUCCESS
}
