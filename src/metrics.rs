//! Prometheus metrics: the process-wide recorder, the names Chitin records, and the gauges filled at scrape time.
//!
//! Counters and histograms are recorded where things happen through the `metrics` facade (one line each, no
//! handle to pass around); gauges that mirror state already kept elsewhere (restarts in the actor tree, job
//! states and backlogs in the store) are read when `/metrics` is scraped, so they can never drift.

use std::sync::OnceLock;
use std::time::Duration;

use chitin_actors::{ActorState, HealthNode};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

use crate::store::Store;

/// Inbound messages stored, by channel (redeliveries not counted).
pub const MESSAGES_RECEIVED: &str = "chitin_messages_received_total";
/// Platform redeliveries recognised and dropped, by channel.
pub const MESSAGES_DUPLICATE: &str = "chitin_messages_duplicate_total";
/// Replies the agent produced, by channel (recorded by the session actors).
pub const MESSAGES_SENT: &str = chitin_actors::metric_names::MESSAGES_SENT;
/// Replies a platform accepted from the outbox (Telegram, Slack, webhook callbacks).
pub const REPLIES_DELIVERED: &str = "chitin_replies_delivered_total";
/// Wall-clock time of one agent turn, by outcome (recorded by the session actors).
pub const TURN_SECONDS: &str = chitin_actors::metric_names::TURN_SECONDS;
/// LLM tokens used by turns, by kind (`input` / `output`).
pub const LLM_TOKENS: &str = "chitin_llm_tokens_total";
/// Tool calls by tool and outcome (`ok`, `error`, `denied`, …).
pub const TOOL_CALLS: &str = "chitin_tool_calls_total";
/// Repairs made (by the repairer, or a node's job waker for expired leases), by what was repaired.
pub const REPAIRS: &str = "chitin_repairs_total";
/// Jobs by state (scrape time).
pub const JOBS: &str = "chitin_jobs";
/// Restarts per supervised actor since start (scrape time).
pub const ACTOR_RESTARTS: &str = "chitin_actor_restarts_total";
/// 1 when the actor reports running, 0 otherwise (scrape time).
pub const ACTOR_UP: &str = "chitin_actor_up";
/// Work waiting: replies not yet delivered, messages not yet answered (scrape time).
pub const QUEUE_DEPTH: &str = "chitin_queue_depth";

/// Turn latency buckets, in seconds: a few ms (cached, tool-free) up to minutes (long tool chains).
const TURN_BUCKETS: &[f64] = &[0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0];

static HANDLE: OnceLock<Option<PrometheusHandle>> = OnceLock::new();

/// How often recorded histogram samples are folded into their buckets (see [`spawn_upkeep`]).
pub const UPKEEP_PERIOD: Duration = Duration::from_secs(5);

/// Installs the recorder the first time it is called in this process; `None` when another recorder was
/// installed first (then `/metrics` answers that metrics are unavailable instead of lying with zeros).
pub fn install() -> Option<PrometheusHandle> {
    HANDLE
        .get_or_init(|| {
            let builder = match PrometheusBuilder::new()
                .set_buckets_for_metric(Matcher::Full(TURN_SECONDS.into()), TURN_BUCKETS)
            {
                Ok(builder) => builder,
                Err(error) => {
                    tracing::warn!(%error, "metrics disabled: invalid histogram buckets");
                    return None;
                }
            };
            let recorder = builder.build_recorder();
            let handle = recorder.handle();
            match metrics::set_global_recorder(recorder) {
                Ok(()) => Some(handle),
                Err(error) => {
                    tracing::warn!(%error, "metrics disabled: another recorder is installed");
                    None
                }
            }
        })
        .clone()
}

pub fn message_received(channel: &str) {
    metrics::counter!(MESSAGES_RECEIVED, "channel" => channel.to_owned()).increment(1);
}

pub fn message_duplicate(channel: &str) {
    metrics::counter!(MESSAGES_DUPLICATE, "channel" => channel.to_owned()).increment(1);
}

pub fn reply_delivered() {
    metrics::counter!(REPLIES_DELIVERED).increment(1);
}

pub fn llm_tokens(input_tokens: u64, output_tokens: u64) {
    metrics::counter!(LLM_TOKENS, "kind" => "input").increment(input_tokens);
    metrics::counter!(LLM_TOKENS, "kind" => "output").increment(output_tokens);
}

pub fn tool_called(tool: &str, outcome: &'static str) {
    metrics::counter!(TOOL_CALLS, "tool" => tool.to_owned(), "outcome" => outcome).increment(1);
}

/// Folds the histogram samples recorded since the last pass into their buckets, every `period` until the task is
/// aborted.
///
/// The recorder keeps each sample (a turn's latency: about 16 bytes, measured) until a pass or a scrape of
/// `/metrics` folds it in. Nobody scrapes most installs, so without this a Chitin that runs for months would hold one sample per
/// turn it ever ran.
pub fn spawn_upkeep(handle: PrometheusHandle, period: Duration) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut passes = tokio::time::interval(period);
        passes.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            passes.tick().await;
            handle.run_upkeep();
        }
    })
}

/// Refreshes the scrape-time gauges from the actor tree and the store, then renders the text format.
pub async fn render(handle: &PrometheusHandle, tree: Option<&HealthNode>, store: &Store) -> String {
    if let Some(tree) = tree {
        record_tree(tree, "");
    }
    let stats = store.stats();
    match stats.jobs_by_state().await {
        Ok(states) => {
            for state in ["queued", "running", "succeeded", "failed", "cancelled"] {
                let count = states.iter().find(|(name, _)| name == state).map_or(0, |(_, count)| *count);
                metrics::gauge!(JOBS, "state" => state).set(count as f64);
            }
        }
        Err(error) => tracing::debug!(%error, "metrics: job counts unavailable"),
    }
    match store.outbox().undelivered_count().await {
        Ok(count) => metrics::gauge!(QUEUE_DEPTH, "queue" => "outbox").set(count as f64),
        Err(error) => tracing::debug!(%error, "metrics: outbox depth unavailable"),
    }
    match stats.unanswered_inbound().await {
        Ok(count) => metrics::gauge!(QUEUE_DEPTH, "queue" => "unanswered").set(count as f64),
        Err(error) => tracing::debug!(%error, "metrics: backlog unavailable"),
    }
    handle.render()
}

/// Every supervised node by its path (`chitin/channels/telegram`); sessions are many and short-lived, so
/// they are summed into their router instead of getting a series each.
fn record_tree(node: &HealthNode, parent: &str) {
    let path = if parent.is_empty() { node.name.clone() } else { format!("{parent}/{}", node.name) };
    let up = if node.state == ActorState::Running { 1.0 } else { 0.0 };
    metrics::counter!(ACTOR_RESTARTS, "actor" => path.clone()).absolute(restarts_of(node));
    metrics::gauge!(ACTOR_UP, "actor" => path.clone()).set(up);
    if node.name != "sessions" {
        for child in &node.children {
            record_tree(child, &path);
        }
    }
}

/// A node's own restarts; the sessions router also counts its sessions' restarts (they get no series).
fn restarts_of(node: &HealthNode) -> u64 {
    if node.name == "sessions" {
        node.restarts + node.children.iter().map(|child| child.restarts).sum::<u64>()
    } else {
        node.restarts
    }
}
