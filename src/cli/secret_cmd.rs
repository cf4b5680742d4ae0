//! `chitin secret set|list|remove`: credentials in the encrypted store, referenced from config as `secret:NAME`.

use std::io::{BufRead, IsTerminal};
use std::process::ExitCode;

use anyhow::{Context, bail};
use secrecy::SecretString;

use super::report;
use crate::config::Config;
use crate::crypto::MasterKey;
use crate::secrets::{KeySource, SecretStore, forget_pending, rotate_master_key};
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
    /// Generate a new master key and re-encrypt every secret and sealed value under it.
    #[command(
        after_help = "Example:\n  chitin secret rotate-key\n\nStop Chitin first. The new key replaces data_dir/master.key; when the key came from\nCHITIN_MASTER_KEY, the new one is printed once and the variable must be updated. If the command is\ninterrupted, run it again: it finishes the rotation it started."
    )]
    RotateKey,
}

pub async fn run(config: Config, master_key: Option<String>, command: SecretCommand) -> ExitCode {
    report(
        async {
            let data_dir = config.data_dir.clone().unwrap_or_default();
            crate::data_dir::ensure(&data_dir)?;
            if let SecretCommand::RotateKey = command {
                return rotate_key(&config, &data_dir, master_key.as_deref()).await;
            }
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
                SecretCommand::RotateKey => {}
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

async fn rotate_key(config: &Config, data_dir: &std::path::Path, env_key: Option<&str>) -> anyhow::Result<()> {
    let rotation =
        rotate_master_key(&config.database, data_dir, env_key).await.context("cannot rotate the master key")?;
    let report = rotation.report;
    if rotation.resumed {
        println!("finished an interrupted rotation");
    }
    println!(
        "master key rotated: {} -> {}; {} secret(s) and {} sealed value(s) re-encrypted{}",
        rotation.old_key_id,
        rotation.new_key.key_id(),
        report.secrets,
        report.sealed_columns,
        if report.database_rekeyed { ", database file re-keyed" } else { "" }
    );
    match rotation.source {
        KeySource::File => println!("the new key is in {}", data_dir.join(crate::crypto::MASTER_KEY_FILE).display()),
        KeySource::Environment => {
            println!("the key came from CHITIN_MASTER_KEY: set it to the new key below before starting Chitin again");
            println!("CHITIN_MASTER_KEY={}", rotation.new_key.to_hex().as_str());
            forget_pending(data_dir);
        }
    }
    Ok(())
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
