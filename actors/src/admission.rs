//! Bounded admission in front of an actor's mailbox, because ractor's mailboxes are unbounded.

use std::sync::Arc;
use std::time::Duration;

use ractor::{ActorRef, Message};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::error::BusError;

/// What a sender does when the actor already holds `capacity` messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OverloadPolicy {
    /// Refuse at once with [`BusError::Overloaded`].
    Reject,
    /// Wait up to this long for room, then refuse.
    Wait(Duration),
}

/// Proof that a message was admitted. It travels inside the message and frees its place when dropped,
/// i.e. when the actor has finished handling the message (or the message was discarded with a dead actor).
#[derive(Debug)]
pub struct Ticket {
    _permit: OwnedSemaphorePermit,
}

/// A sender that bounds how many of its messages may be queued or in handling at once.
///
/// Admission counts messages from this gate only. Actors that accept outside traffic (inbound messages,
/// indexing requests, tool executions) take that traffic only through a gate; internal control messages
/// (timers, health probes) are few and go straight to the mailbox.
pub struct AdmissionGate<M: Message> {
    actor_name: Arc<str>,
    capacity: usize,
    policy: OverloadPolicy,
    permits: Arc<Semaphore>,
    _message: std::marker::PhantomData<fn() -> M>,
}

impl<M: Message> Clone for AdmissionGate<M> {
    fn clone(&self) -> Self {
        Self {
            actor_name: Arc::clone(&self.actor_name),
            capacity: self.capacity,
            policy: self.policy,
            permits: Arc::clone(&self.permits),
            _message: std::marker::PhantomData,
        }
    }
}

impl<M: Message> AdmissionGate<M> {
    pub fn new(actor_name: impl Into<Arc<str>>, capacity: usize, policy: OverloadPolicy) -> Self {
        let capacity = capacity.max(1);
        Self {
            actor_name: actor_name.into(),
            capacity,
            policy,
            permits: Arc::new(Semaphore::new(capacity)),
            _message: std::marker::PhantomData,
        }
    }

    /// Messages admitted and not yet fully handled.
    pub fn depth(&self) -> usize {
        self.capacity - self.permits.available_permits()
    }

    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// Takes a place in the queue, per the policy.
    pub async fn admit(&self) -> Result<Ticket, BusError> {
        let permit = match self.policy {
            OverloadPolicy::Reject => Arc::clone(&self.permits).try_acquire_owned().ok(),
            OverloadPolicy::Wait(limit) => {
                tokio::time::timeout(limit, Arc::clone(&self.permits).acquire_owned()).await.ok().and_then(Result::ok)
            }
        };
        permit
            .map(|permit| Ticket { _permit: permit })
            .ok_or_else(|| BusError::Overloaded { actor: self.actor_name.to_string(), capacity: self.capacity })
    }

    /// Admits a message built around its ticket and sends it to `actor`.
    pub async fn send(&self, actor: &ActorRef<M>, build: impl FnOnce(Ticket) -> M) -> Result<(), BusError> {
        let ticket = self.admit().await?;
        actor.send_message(build(ticket)).map_err(|_| BusError::ActorDown { actor: self.actor_name.to_string() })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn reject_policy_refuses_when_full_and_frees_on_drop() {
        let gate = AdmissionGate::<()>::new("test", 2, OverloadPolicy::Reject);
        let first = gate.admit().await.expect("room for the first");
        let _second = gate.admit().await.expect("room for the second");
        assert_eq!(gate.depth(), 2);
        let refused = gate.admit().await.expect_err("third must be refused");
        assert!(matches!(refused, BusError::Overloaded { capacity: 2, .. }), "{refused:?}");
        drop(first);
        assert_eq!(gate.depth(), 1);
        gate.admit().await.expect("room after a ticket was dropped");
    }

    #[tokio::test(start_paused = true)]
    async fn wait_policy_waits_for_room() {
        let gate = AdmissionGate::<()>::new("test", 1, OverloadPolicy::Wait(Duration::from_secs(5)));
        let held = gate.admit().await.expect("room");
        let waiter = {
            let gate = gate.clone();
            tokio::spawn(async move { gate.admit().await.map(|_| ()) })
        };
        tokio::time::sleep(Duration::from_secs(1)).await;
        drop(held);
        waiter.await.expect("join").expect("admitted once room was made");
        let held = gate.admit().await.expect("room again");
        let refused = gate.admit().await.expect_err("times out after 5 s");
        assert!(matches!(refused, BusError::Overloaded { .. }));
        drop(held);
    }
}
