//! `chitin tool install|list|info|remove|run`: WASM tools in the data dir, with the sandbox's real limits.

use std::io::{BufRead, IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use crate::config::Config;
use crate::sandbox::{
    Approver, CapabilityRequest, InstallRequest, ToolName, tool_info, tool_install, tool_list, tool_remove, tool_run,
};
use crate::sandbox_services::open_sandbox;

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

pub async fn run(config: &Config, command: ToolCommand) -> ExitCode {
    let data_dir = config.data_dir.clone().unwrap_or_default();
    if let Err(error) = crate::data_dir::ensure(&data_dir) {
        eprintln!("error: {error}");
        return ExitCode::FAILURE;
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
        ToolCommand::Run { name, params } => {
            let parsed: Result<serde_json::Value, String> =
                serde_json::from_str(&params).map_err(|error| format!("--params is not valid JSON: {error}"));
            match (tool_name(&name), parsed) {
                (Ok(name), Ok(params)) => match tool_run(&sandbox, &catalog, &name, &params).await {
                    Ok(outcome) => {
                        println!("{}", outcome.output);
                        eprintln!("usage: {}", serde_json::to_string(&outcome.usage).unwrap_or_default());
                        Ok(())
                    }
                    Err(failure) => {
                        eprintln!("usage: {}", serde_json::to_string(&failure.usage).unwrap_or_default());
                        Err(failure.error.to_string())
                    }
                },
                (Err(error), _) | (_, Err(error)) => Err(error),
            }
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error}");
            ExitCode::FAILURE
        }
    }
}
