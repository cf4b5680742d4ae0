//! Conversation addresses (channel, external id) remembered after their first read.
//!
//! An address never changes once its conversation exists, so filing a reply need not ask the database for it each
//! time: on SQLite that read was a round trip per turn through a reader connection whose page cache every write
//! had just invalidated.

use std::sync::Arc;

use dashmap::DashMap;

/// Past this many entries the map is emptied and refilled on demand: a long-running service with many short-lived
/// conversations keeps a bounded map, and a miss costs only the read it saves.
const MAX_ENTRIES: usize = 16_384;

/// One conversation's address.
#[derive(Debug, Clone)]
pub(crate) struct Address {
    pub(crate) channel: Arc<str>,
    pub(crate) external_id: Arc<str>,
}

#[derive(Debug, Clone, Default)]
pub(crate) struct Addresses {
    known: Arc<DashMap<i64, Address>>,
}

impl Addresses {
    pub(crate) fn get(&self, conversation_id: i64) -> Option<Address> {
        self.known.get(&conversation_id).map(|entry| entry.value().clone())
    }

    pub(crate) fn remember(&self, conversation_id: i64, channel: &str, external_id: &str) {
        if self.known.len() >= MAX_ENTRIES {
            self.known.clear();
        }
        self.known.insert(conversation_id, Address { channel: channel.into(), external_id: external_id.into() });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_remembered_address_is_returned_and_the_map_stays_bounded() {
        let addresses = Addresses::default();
        assert!(addresses.get(1).is_none());
        addresses.remember(1, "api", "alice");
        let address = addresses.get(1).expect("remembered");
        assert_eq!((&*address.channel, &*address.external_id), ("api", "alice"));
        for id in 2..=(MAX_ENTRIES as i64 + 1) {
            addresses.remember(id, "api", "x");
        }
        assert!(addresses.known.len() <= MAX_ENTRIES);
        assert!(addresses.get(MAX_ENTRIES as i64 + 1).is_some(), "the newest entry survives a reset");
    }
}
