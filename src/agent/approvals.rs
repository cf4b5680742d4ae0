//! Standing "always" approvals: read from the store only when a turn meets a tool that needs approval.
//!
//! Most turns call no such tool, so reading the setting up front cost every turn a store round trip for nothing.

use serde_json::json;
use tokio::sync::OnceCell;
use tracing::warn;

use crate::store::{Store, StoreError};

const ALWAYS_APPROVED_KEY: &str = "approvals.always";

/// One turn's view of the tools the owner approved "always", loaded on first use.
pub struct AlwaysApproved<'a> {
    store: &'a Store,
    tools: OnceCell<Vec<String>>,
}

impl<'a> AlwaysApproved<'a> {
    pub fn new(store: &'a Store) -> Self {
        Self { store, tools: OnceCell::new() }
    }

    /// Whether `tool` runs without asking. A store that cannot be read means asking: never a silent grant.
    pub async fn contains(&self, tool: &str) -> bool {
        let tools = self
            .tools
            .get_or_init(|| async {
                read(self.store).await.unwrap_or_else(|error| {
                    warn!(%error, "could not read standing approvals; asking the owner instead");
                    Vec::new()
                })
            })
            .await;
        tools.iter().any(|name| name == tool)
    }
}

/// Adds `tool` to the standing approvals.
pub async fn approve_always(store: &Store, tool: &str) -> Result<(), StoreError> {
    let mut tools = read(store).await?;
    if !tools.iter().any(|name| name == tool) {
        tools.push(tool.to_string());
    }
    store.settings().set(ALWAYS_APPROVED_KEY, &json!(tools)).await
}

async fn read(store: &Store) -> Result<Vec<String>, StoreError> {
    let value = store.settings().get(ALWAYS_APPROVED_KEY).await?;
    Ok(value.and_then(|value| serde_json::from_value(value).ok()).unwrap_or_default())
}
