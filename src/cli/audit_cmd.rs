//! `chitin audit verify|list`: the hash-chained record of tool executions and security decisions.

use std::process::ExitCode;

use anyhow::{Context, bail};

use super::report;
use crate::config::Config;
use crate::store::AuditId;

#[derive(Debug, clap::Subcommand)]
pub enum AuditCommand {
    /// Recompute the hash chain; fails naming the first entry that was edited, removed or reordered.
    #[command(after_help = "Example:\n  chitin audit verify")]
    Verify,
    /// Show audit entries, oldest first.
    #[command(after_help = "Example:\n  chitin audit list --tool calc --since 2026-11-01T00:00:00Z --json")]
    List {
        /// Only entries about this tool.
        #[arg(long)]
        tool: Option<String>,
        /// Only entries at or after this time (RFC 3339).
        #[arg(long)]
        since: Option<String>,
        /// One JSON object per line.
        #[arg(long)]
        json: bool,
    },
}

pub async fn run(config: Config, master_key: Option<String>, command: AuditCommand) -> ExitCode {
    report(
        async {
            let store = super::open_store(&config, master_key.as_deref()).await?;
            let audit = store.audit();
            match command {
                AuditCommand::Verify => {
                    let checked = audit.verify().await.context("the audit log does not verify")?;
                    println!("audit chain intact: {checked} entries");
                }
                AuditCommand::List { tool, since, json } => {
                    let since_ms = match since {
                        Some(text) => match chrono::DateTime::parse_from_rfc3339(&text) {
                            Ok(at) => Some(at.timestamp_millis()),
                            Err(error) => bail!("--since `{text}` is not an RFC 3339 time: {error}"),
                        },
                        None => None,
                    };
                    let mut after: Option<AuditId> = None;
                    loop {
                        let page = audit.list(after, 500).await?;
                        let Some(last) = page.last() else { break };
                        after = Some(last.id);
                        for record in page.iter().filter(|r| tool.as_deref().is_none_or(|t| r.target == t)) {
                            if since_ms.is_some_and(|since| record.at_ms < since) {
                                continue;
                            }
                            if json {
                                println!("{}", serde_json::to_string(record)?);
                            } else {
                                let at = chrono::DateTime::from_timestamp_millis(record.at_ms)
                                    .map(|at| at.to_rfc3339())
                                    .unwrap_or_default();
                                println!(
                                    "{at}  {}  {}  {}  {}",
                                    record.actor, record.action, record.target, record.detail
                                );
                            }
                        }
                    }
                }
            }
            store.close().await;
            Ok(())
        }
        .await,
    )
}
