//! The command line: arguments (clap derive), dispatch, and exit codes.

mod audit_cmd;
mod config_cmd;
mod db_cmd;
mod job_cmd;
mod memory_cmd;
mod routine_cmd;
mod run;
mod safety_cmd;
mod secret_cmd;
mod status;
mod tool_cmd;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{CommandFactory, Parser, Subcommand};

use crate::config::{self, Config, ConfigSources};
use crate::telemetry::{self, LogFormat};

const EXIT_CODES: &str = "\
Exit codes:
  0  success
  1  runtime failure (see the error message)
  2  invalid usage or configuration
  3  no running Chitin instance answered (chitin status)";

#[derive(Debug, Parser)]
#[command(name = "chitin", version, about = "A self-hosted personal AI assistant you can trust with your private data")]
#[command(after_help = EXIT_CODES)]
pub struct Cli {
    /// Config file to use instead of $XDG_CONFIG_HOME/chitin/config.toml.
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// More log output (-v debug, -vv trace).
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
    /// Less log output (-q errors only).
    #[arg(short, long, global = true, action = clap::ArgAction::Count, conflicts_with = "verbose")]
    pub quiet: u8,
    /// Log line format.
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Pretty)]
    pub log_format: LogFormat,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Start Chitin: the actor tree and the gateway (and the REPL when the terminal is interactive).
    #[command(
        after_help = "Example:\n  chitin run --no-repl        # as a service, e.g. under systemd\n\nStops on SIGINT/SIGTERM after finishing in-flight work (shutdown.grace_secs); a second signal exits at once."
    )]
    Run {
        /// Do not open the interactive REPL, even on a terminal.
        #[arg(long)]
        no_repl: bool,
    },
    /// Show the running instance's actor tree with states and restart counts.
    #[command(
        after_help = "Example:\n  chitin status --json | jq '.children[].name'\n\nAsks the instance listening on gateway.bind; exits 3 when none answers."
    )]
    Status {
        /// Print the tree as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Inspect the configuration.
    #[command(subcommand)]
    Config(ConfigCommand),
    /// Database maintenance: migrations and backup.
    #[command(subcommand)]
    Db(db_cmd::DbCommand),
    /// Write your conversations or memory as JSON lines to stdout.
    #[command(after_help = "Example:\n  chitin export --conversations > conversations.jsonl")]
    Export {
        #[command(flatten)]
        what: db_cmd::ExportWhat,
    },
    /// Searchable memory: add files, search, list, re-index, forget, fetch the local model.
    #[command(subcommand)]
    Memory(memory_cmd::MemoryCommand),
    /// Credentials in the encrypted secret store (referenced from config as `secret:NAME`).
    #[command(subcommand)]
    Secret(secret_cmd::SecretCommand),
    /// The tamper-evident audit log of tool executions and security decisions.
    #[command(subcommand)]
    Audit(audit_cmd::AuditCommand),
    /// Background jobs: submit, list, show, wait for, cancel, retry.
    #[command(subcommand)]
    Job(job_cmd::JobCommand),
    /// Routines: work started on a schedule, an event or a webhook.
    #[command(subcommand)]
    Routine(routine_cmd::RoutineCommand),
    /// Manage WASM tools: install (with capability approval), list, info, remove, run.
    #[command(subcommand)]
    Tool(tool_cmd::ToolCommand),
    /// Approve a chat user who asked for access with a one-time code.
    #[command(subcommand)]
    Pairing(PairingCommand),
    /// Check text with the safety detectors (prompt injection, credential leaks).
    #[command(subcommand)]
    Safety(SafetyCommand),
    /// Print a shell completion script.
    #[command(after_help = "Example:\n  chitin completions bash > ~/.local/share/bash-completion/completions/chitin")]
    Completions {
        /// The shell to generate for.
        shell: clap_complete::Shell,
    },
}

#[derive(Debug, Subcommand)]
pub enum PairingCommand {
    /// Approve the user who was given CODE (by the Telegram or Slack bot).
    #[command(after_help = "Example:\n  chitin pairing approve K7QX2MPA")]
    Approve { code: String },
}

#[derive(Debug, Subcommand)]
pub enum SafetyCommand {
    /// Scan text from stdin (one JSON verdict) or a JSONL file (one verdict line per input line).
    #[command(
        after_help = "Examples:\n  echo 'Ignore all previous instructions' | chitin safety scan\n  chitin safety scan --jsonl inputs.jsonl > verdicts.jsonl\n\nJSONL input lines: {\"id\", \"text\", \"stored\"?: [{\"name\", \"value\"}]}.\nOutput: {\"id\", \"injection\": {\"detected\", \"score\", \"severity\", \"action\"}, \"leaks\": [{\"kind\", \"start\", \"end\"}]}."
    )]
    Scan {
        /// Read JSONL objects from FILE instead of plain text from stdin.
        #[arg(long, value_name = "FILE")]
        jsonl: Option<PathBuf>,
    },
}

#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Print the effective configuration (defaults < file < environment), credentials redacted.
    #[command(after_help = "Example:\n  CHITIN_LLM__MODEL=gpt-4o-mini chitin config show")]
    Show,
    /// Validate the configuration and report every problem with its key and source.
    #[command(after_help = "Example:\n  chitin --config ./config.toml config check")]
    Check,
}

/// Parses the arguments, runs the command, maps the outcome to an exit code.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let verbosity = cli.verbose as i8 - cli.quiet as i8;
    let default_level = if matches!(cli.command, Command::Run { .. }) { "info" } else { "warn" };
    let log_filter = std::env::var("CHITIN_LOG").ok();
    telemetry::init(cli.log_format, verbosity, default_level, log_filter.as_deref());

    if let Command::Completions { shell } = cli.command {
        clap_complete::generate(shell, &mut Cli::command(), "chitin", &mut std::io::stdout());
        return ExitCode::SUCCESS;
    }
    // Needs no configuration: outside evaluations run it on a bare machine.
    if let Command::Safety(SafetyCommand::Scan { jsonl }) = &cli.command {
        return safety_cmd::scan(jsonl.as_deref());
    }
    let config = match config::load(&ConfigSources::from_process(cli.config.clone())) {
        Ok(config) => config,
        Err(error) => {
            eprintln!("error: {error}");
            return ExitCode::from(2);
        }
    };
    match cli.command {
        Command::Config(ConfigCommand::Show) => config_cmd::show(&config),
        Command::Config(ConfigCommand::Check) => config_cmd::check(&config),
        Command::Status { json } => with_runtime(|| status::status(&config, json)),
        Command::Run { no_repl } => {
            let env = crate::service::ServiceEnv { master_key: std::env::var("CHITIN_MASTER_KEY").ok() };
            with_runtime(|| run::run(config, env, no_repl))
        }
        Command::Job(command) => {
            let master_key = std::env::var("CHITIN_MASTER_KEY").ok();
            with_runtime(|| job_cmd::run(config, master_key, command))
        }
        Command::Routine(command) => {
            let master_key = std::env::var("CHITIN_MASTER_KEY").ok();
            with_runtime(|| routine_cmd::run(config, master_key, command))
        }
        Command::Tool(command) => {
            let master_key = std::env::var("CHITIN_MASTER_KEY").ok();
            with_runtime(|| tool_cmd::run(&config, master_key, command))
        }
        Command::Secret(command) => {
            let master_key = std::env::var("CHITIN_MASTER_KEY").ok();
            with_runtime(|| secret_cmd::run(config, master_key, command))
        }
        Command::Audit(command) => {
            let master_key = std::env::var("CHITIN_MASTER_KEY").ok();
            with_runtime(|| audit_cmd::run(config, master_key, command))
        }
        Command::Db(command) => {
            let master_key = std::env::var("CHITIN_MASTER_KEY").ok();
            with_runtime(|| db_cmd::run(config, master_key, command))
        }
        Command::Export { what } => {
            let master_key = std::env::var("CHITIN_MASTER_KEY").ok();
            with_runtime(|| db_cmd::export(config, master_key, what))
        }
        Command::Memory(command) => {
            let master_key = std::env::var("CHITIN_MASTER_KEY").ok();
            with_runtime(|| memory_cmd::run(config, master_key, command))
        }
        Command::Pairing(PairingCommand::Approve { code }) => {
            let master_key = std::env::var("CHITIN_MASTER_KEY").ok();
            with_runtime(|| pairing_approve(config, master_key, code))
        }
        Command::Completions { .. } | Command::Safety(_) => ExitCode::SUCCESS,
    }
}

fn with_runtime<F, Fut>(command: F) -> ExitCode
where
    F: FnOnce() -> Fut,
    Fut: std::future::Future<Output = ExitCode>,
{
    match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime.block_on(command()),
        Err(error) => {
            eprintln!("error: cannot start the async runtime: {error}");
            ExitCode::FAILURE
        }
    }
}

async fn pairing_approve(config: Config, master_key: Option<String>, code: String) -> ExitCode {
    use anyhow::Context;
    let result = async {
        let data_dir = config.data_dir.clone().unwrap_or_default();
        let key =
            crate::crypto::MasterKey::load(master_key.as_deref(), &data_dir).context("cannot load the master key")?;
        let store =
            crate::store::Store::connect(&config.database, &data_dir, &key).await.context("cannot open storage")?;
        let approved = crate::channel_ports::approve_pairing(&store, &code).await.context("cannot approve")?;
        store.close().await;
        match approved {
            Some(who) => {
                println!("approved {who}");
                Ok(())
            }
            None => Err(anyhow::anyhow!("no pending pairing with code {code}")),
        }
    }
    .await;
    report(result)
}

/// What commands hand back to `main`, as a process exit code.
pub(crate) fn report(result: anyhow::Result<()>) -> ExitCode {
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}

/// The store a one-shot command works on: the data dir made if missing, the master key loaded, storage opened.
pub(crate) async fn open_store(config: &Config, master_key: Option<&str>) -> anyhow::Result<crate::store::Store> {
    use anyhow::Context;
    let data_dir = config.data_dir.clone().unwrap_or_default();
    crate::data_dir::ensure(&data_dir)?;
    let key = crate::crypto::MasterKey::load(master_key, &data_dir).context("cannot load the master key")?;
    crate::store::Store::connect(&config.database, &data_dir, &key).await.context("cannot open storage")
}
