//! `chitin tool install|list|info|remove|run`: WASM tools in the data dir, with the sandbox's real limits.

use std::io::{BufRead, IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;

use crate::config::Config;
use crate::crypto::MasterKey;
use crate::safety::LeakScanner;
use crate::sandbox::{
    Approver, CapabilityRequest, InstallRequest, ToolName, tool_info, tool_install, tool_list, tool_remove, tool_run,
};
use crate::sandbox_services::open_sandbox;
use crate::secrets::{SecretStore, stored_for_scanner};
use crate::security_audit;
use crate::store::Store;

#[derive(Debug, clap::Subcommand)]
pub enum ToolCommand {
    /// Install a WASM component after showing the capabilities its manifest requests.
    #[command(
        after_help = "Example:\n  chitin tool install target/wasm-tools/calc.wasm --yes\n\nThe manifest defaults to the .toml next to the .wasm."
    )]
    Install {
        /// The component (`.wasm`, built for wasm32-wasip2).
        path: PathBuf,
        /// The manifest granting its capabilities.
        #[arg(long, value_name = "FILE")]
        manifest: Option<PathBuf>,
        /// Approve without asking (for scripts).
        #[arg(long)]
        yes: bool,
    },
    /// List installed tools.
    #[command(after_help = "Example:\n  chitin tool list --json")]
    List {
        /// JSON array of {name, version, hash, capabilities}.
        #[arg(long)]
        json: bool,
    },
    /// Show one tool's manifest, hash, approval and capabilities.
    #[command(after_help = "Example:\n  chitin tool info calc")]
    Info { name: String },
    /// Remove an installed tool.
    #[command(after_help = "Example:\n  chitin tool remove calc")]
    Remove { name: String },
    /// Run one call with the real limits; prints the result on stdout and resource use on stderr.
    #[command(
        after_help = "Example:\n  chitin tool run calc --params '{\"expression\": \"2+2\"}'\n\nExits non-zero with the typed error (e.g. `fuel exhausted`) on stderr when the call fails."
    )]
    Run {
        name: String,
        /// Parameters as a JSON object.
        #[arg(long, default_value = "{}")]
        params: String,
    },
}

struct Prompt {
    assume_yes: bool,
}

impl Approver for Prompt {
    fn approve(&self, request: &CapabilityRequest) -> bool {
        eprintln!("{request}");
        if self.assume_yes {
            return true;
        }
        if !std::io::stdin().is_terminal() {
            eprintln!("not approved: no terminal to ask on; pass --yes to approve");
            return false;
        }
        eprint!("Install with these capabilities? [y/N] ");
        let _ = std::io::stderr().flush();
        let mut answer = String::new();
        let _ = std::io::stdin().lock().read_line(&mut answer);
        matches!(answer.trim(), "y" | "Y" | "yes")
    }
}

fn tool_name(name: &str) -> Result<ToolName, String> {
    ToolName::new(name).map_err(|reason| format!("invalid tool name `{name}`: {reason}"))
}

pub async fn run(config: &Config, master_key: Option<String>, command: ToolCommand) -> ExitCode {
    let data_dir = config.data_dir.clone().unwrap_or_default();
    if let Err(error) = crate::data_dir::ensure(&data_dir) {
        eprintln!("error: {error}");
        return ExitCode::FAILURE;
    }
    if let ToolCommand::Run { name, params } = command {
        return run_call(config, &data_dir, master_key.as_deref(), &name, &params).await;
    }
    let (sandbox, catalog, tools_dir) = match open_sandbox(&data_dir, config.sandbox.max_concurrent, Default::default())
    {
        Ok(parts) => parts,
        Err(error) => {
            eprintln!("error: cannot start the sandbox: {error}");
            return ExitCode::FAILURE;
        }
    };
    let result: Result<(), String> = match command {
        ToolCommand::Install { path, manifest, yes } => {
            let request = InstallRequest { wasm_path: path, manifest_path: manifest };
            tool_install(&sandbox, &catalog, &tools_dir, &request, &Prompt { assume_yes: yes })
                .await
                .map(|installed| println!("installed {} {} ({})", installed.name, installed.version, installed.hash))
                .map_err(|error| error.to_string())
        }
        ToolCommand::List { json } => match tool_list(&catalog).await {
            Ok(entries) if json => {
                serde_json::to_string_pretty(&entries).map(|text| println!("{text}")).map_err(|e| e.to_string())
            }
            Ok(entries) => {
                for entry in entries {
                    println!("{} {}  {}  [{}]", entry.name, entry.version, entry.hash, entry.capabilities.join(", "));
                }
                Ok(())
            }
            Err(error) => Err(error.to_string()),
        },
        ToolCommand::Info { name } => match tool_name(&name) {
            Ok(name) => match tool_info(&catalog, &name).await {
                Ok(report) => {
                    serde_json::to_string_pretty(&report).map(|text| println!("{text}")).map_err(|e| e.to_string())
                }
                Err(error) => Err(error.to_string()),
            },
            Err(error) => Err(error),
        },
        ToolCommand::Remove { name } => match tool_name(&name) {
            Ok(name) => tool_remove(&sandbox, &catalog, &name)
                .await
                .map(|_| println!("removed {name}"))
                .map_err(|e| e.to_string()),
            Err(error) => Err(error),
        },
        // Handled above: it needs the store for secrets and the audit log.
        ToolCommand::Run { .. } => Ok(()),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error}");
            ExitCode::FAILURE
        }
    }
}

/// One call with the real limits and the owner's stored secrets, exactly as the running service would make it;
/// refused capabilities are appended to the audit log like the service's.
async fn run_call(
    config: &Config,
    data_dir: &std::path::Path,
    master_key: Option<&str>,
    name: &str,
    params: &str,
) -> ExitCode {
    let parsed = serde_json::from_str::<serde_json::Value>(params)
        .map_err(|error| format!("--params is not valid JSON: {error}"));
    let (name, params) = match (tool_name(name), parsed) {
        (Ok(name), Ok(params)) => (name, params),
        (Err(error), _) | (_, Err(error)) => {
            eprintln!("error: {error}");
            return ExitCode::FAILURE;
        }
    };
    let opened = async {
        let key = MasterKey::load(master_key, data_dir).context("cannot load the master key")?;
        let store = Store::connect(&config.database, data_dir, &key).await.context("cannot open storage")?;
        let secrets = match SecretStore::new(store.clone(), &key).load_all().await {
            Ok(secrets) => secrets,
            Err(error) => {
                store.close().await;
                return Err(anyhow::Error::new(error).context("cannot read the stored secrets"));
            }
        };
        anyhow::Ok((store, secrets))
    }
    .await;
    let (store, secrets) = match opened {
        Ok(opened) => opened,
        Err(error) => {
            eprintln!("error: {error:#}");
            return ExitCode::FAILURE;
        }
    };
    let stored = stored_for_scanner(&secrets);
    let result = async {
        let (sandbox, catalog, _) = open_sandbox(data_dir, config.sandbox.max_concurrent, secrets)?;
        let scanner = LeakScanner::shared_default()
            .and_then(|scanner| scanner.with_stored(&stored))
            .map_err(|e| e.to_string())?;
        let outcome = tool_run(&sandbox, &catalog, &name, &params).await;
        let usage = match &outcome {
            Ok(outcome) => &outcome.usage,
            Err(failure) => &failure.usage,
        };
        security_audit::record_refusals(&store.audit(), &scanner, "cli", name.as_str(), "cli", &usage.refusals).await;
        eprintln!("usage: {}", serde_json::to_string(usage).unwrap_or_default());
        match outcome {
            Ok(outcome) => {
                println!("{}", outcome.output);
                Ok(())
            }
            Err(failure) => Err(failure.error.to_string()),
        }
    }
    .await;
    store.close().await;
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error}");
            ExitCode::FAILURE
        }
    }
}
