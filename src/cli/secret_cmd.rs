//! `chitin secret set|list|remove`: credentials in the encrypted store, referenced from config as `secret:NAME`.

use std::io::{BufRead, IsTerminal};
use std::process::ExitCode;

use anyhow::{Context, bail};
use secrecy::SecretString;

use super::report;
use crate::config::Config;
use crate::crypto::MasterKey;
use crate::secrets::SecretStore;
use crate::store::Store;

#[derive(Debug, clap::Subcommand)]
pub enum SecretCommand {
    /// Store a secret; asks for the value without echoing it (or reads one line from stdin with --stdin).
    #[command(
        after_help = "Examples:\n  chitin secret set openai\n  printf '%s' \"$KEY\" | chitin secret set openai --stdin\n\nThen in config: api_key = \"secret:openai\"."
    )]
    Set {
        name: String,
        /// Read the value from standard input instead of a hidden prompt.
        #[arg(long)]
        stdin: bool,
    },
    /// List secret names and when they were last set (never values).
    #[command(after_help = "Example:\n  chitin secret list")]
    List,
    /// Delete a secret.
    #[command(after_help = "Example:\n  chitin secret remove openai")]
    Remove { name: String },
}

pub async fn run(config: Config, master_key: Option<String>, command: SecretCommand) -> ExitCode {
    report(
        async {
            let data_dir = config.data_dir.clone().unwrap_or_default();
            crate::data_dir::ensure(&data_dir)?;
            let key = MasterKey::load(master_key.as_deref(), &data_dir).context("cannot load the master key")?;
            let store = Store::connect(&config.database, &data_dir, &key).await.context("cannot open storage")?;
            let secrets = SecretStore::new(store.clone(), &key);
            match command {
                SecretCommand::Set { name, stdin } => {
                    let value = read_value(&name, stdin)?;
                    secrets.set(&name, &value).await?;
                    println!("stored secret {name}");
                }
                SecretCommand::List => {
                    for (name, updated_ms) in secrets.list().await? {
                        let when = chrono::DateTime::from_timestamp_millis(updated_ms)
                            .map(|at| at.to_rfc3339())
                            .unwrap_or_default();
                        println!("{name}\t{when}");
                    }
                }
                SecretCommand::Remove { name } => {
                    if !secrets.remove(&name).await? {
                        bail!("no secret named {name}");
                    }
                    println!("removed secret {name}");
                }
            }
            store.close().await;
            Ok(())
        }
        .await,
    )
}

fn read_value(name: &str, from_stdin: bool) -> anyhow::Result<SecretString> {
    let value = if from_stdin || !std::io::stdin().is_terminal() {
        let mut line = String::new();
        std::io::stdin().lock().read_line(&mut line).context("cannot read the value from stdin")?;
        line.trim_end_matches(['\n', '\r']).to_string()
    } else {
        rpassword::prompt_password(format!("value for {name}: ")).context("cannot read the value")?
    };
    if value.is_empty() {
        bail!("the value is empty; nothing stored");
    }
    Ok(SecretString::from(value))
}
