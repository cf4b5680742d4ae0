//! A shared, typed handle to a supervised child that follows it across restarts.

use std::sync::{Arc, RwLock};

use ractor::{ActorRef, Message};

/// Holds the current `ActorRef` of a supervised child.
///
/// A restarted child is a new actor; an `ActorRef` kept from before points at a dead mailbox. Everyone who talks to
/// a supervised child keeps the slot instead and reads the current ref at each send. The supervisor's spawn closure
/// writes the slot on every (re)start.
pub struct ChildSlot<M: Message> {
    current: Arc<RwLock<Option<ActorRef<M>>>>,
}

impl<M: Message> Clone for ChildSlot<M> {
    fn clone(&self) -> Self {
        Self { current: Arc::clone(&self.current) }
    }
}

impl<M: Message> Default for ChildSlot<M> {
    fn default() -> Self {
        Self { current: Arc::new(RwLock::new(None)) }
    }
}

impl<M: Message> ChildSlot<M> {
    pub fn new() -> Self {
        Self::default()
    }

    /// The child's current ref, or `None` while it is down.
    pub fn get(&self) -> Option<ActorRef<M>> {
        // A poisoned lock only means a writer panicked between two plain assignments; the value is still whole.
        match self.current.read() {
            Ok(guard) => guard.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    /// Called by the spawn closure after the child started.
    pub fn set(&self, actor: ActorRef<M>) {
        match self.current.write() {
            Ok(mut guard) => *guard = Some(actor),
            Err(poisoned) => *poisoned.into_inner() = Some(actor),
        }
    }
}
