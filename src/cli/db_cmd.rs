//! `chitin db migrate|status|backup` and `chitin export`: the user's data, in and out.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;

use super::report;
use crate::config::Config;
use crate::crypto::MasterKey;
use crate::store::Store;

#[derive(Debug, clap::Subcommand)]
pub enum DbCommand {
    /// Apply pending schema migrations (they also run at start unless database.run_migrations is off).
    #[command(after_help = "Example:\n  chitin db migrate")]
    Migrate,
    /// List schema migrations, applied and pending.
    #[command(after_help = "Example:\n  chitin db status")]
    Status,
    /// Copy the SQLite database to FILE while Chitin may be running (still encrypted with the master key).
    #[command(
        after_help = "Example:\n  chitin db backup ~/chitin-backup.db\n\nPostgreSQL: use pg_dump, e.g. `pg_dump -Fc -f chitin.dump \"$DATABASE_URL\"`."
    )]
    Backup { file: PathBuf },
}

/// What `chitin export` writes.
#[derive(Debug, Clone, Copy, clap::Args)]
#[group(required = true, multiple = false)]
pub struct ExportWhat {
    /// Every conversation and message, one JSON object per line.
    #[arg(long)]
    pub conversations: bool,
    /// Every memory document and chunk, one JSON object per line.
    #[arg(long)]
    pub memory: bool,
}

async fn open(config: &Config, master_key: Option<&str>) -> anyhow::Result<Store> {
    let data_dir = config.data_dir.clone().unwrap_or_default();
    crate::data_dir::ensure(&data_dir)?;
    let key = MasterKey::load(master_key, &data_dir).context("cannot load the master key")?;
    let mut database = config.database.clone();
    // `db status` must be able to show pending migrations, so opening never applies them here.
    database.run_migrations = false;
    Store::connect(&database, &data_dir, &key).await.context("cannot open storage")
}

pub async fn run(config: Config, master_key: Option<String>, command: DbCommand) -> ExitCode {
    report(
        async {
            let store = open(&config, master_key.as_deref()).await?;
            match command {
                DbCommand::Migrate => {
                    let applied = store.migrate().await.context("migration failed")?;
                    println!("applied {applied} migration(s)");
                }
                DbCommand::Status => {
                    for migration in store.migration_status().await.context("cannot read the migration table")? {
                        let state = if migration.applied { "applied" } else { "pending" };
                        println!("{} {state:8} {}", migration.version, migration.description);
                    }
                }
                DbCommand::Backup { file } => {
                    store.backup_to(&file).await.with_context(|| format!("backup to {} failed", file.display()))?;
                    println!("backed up to {}", file.display());
                }
            }
            store.close().await;
            Ok(())
        }
        .await,
    )
}

pub async fn export(config: Config, master_key: Option<String>, what: ExportWhat) -> ExitCode {
    report(
        async {
            let store = open(&config, master_key.as_deref()).await?;
            let mut out = std::io::stdout();
            let rows = if what.conversations {
                store.export_conversations(&mut out).await.context("export failed")?
            } else {
                store.export_memory(&mut out).await.context("export failed")?
            };
            eprintln!("exported {rows} line(s)");
            store.close().await;
            Ok(())
        }
        .await,
    )
}
