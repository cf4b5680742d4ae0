//! Child specifications: how a supervisor (re)starts a child and asks it for its health.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use ractor::{Actor, ActorCell, ActorRef, SpawnErr};

use crate::health::{self, HealthProbe, SelfReport};
use crate::slot::ChildSlot;
use crate::supervision::policy::RestartPolicy;

type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;
type SpawnFn = dyn Fn(ActorCell) -> BoxFuture<Result<ActorCell, SpawnErr>> + Send + Sync;
type ProbeFn = dyn Fn(ActorCell) -> BoxFuture<Option<SelfReport>> + Send + Sync;

/// Everything a supervisor needs to keep one child alive.
///
/// The spawn closure builds fresh `Arguments` on every start, so a restarted child never inherits the state that
/// made its predecessor fail; anything that must survive is rebuilt from the store in `pre_start`.
#[derive(Clone)]
pub struct ChildSpec {
    pub(crate) name: String,
    pub(crate) policy: RestartPolicy,
    pub(crate) spawn: Arc<SpawnFn>,
    pub(crate) probe: Arc<ProbeFn>,
}

impl std::fmt::Debug for ChildSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChildSpec").field("name", &self.name).field("policy", &self.policy).finish_non_exhaustive()
    }
}

impl ChildSpec {
    /// A child of actor type `A`, started with whatever `make` returns, its current ref published in `slot`.
    pub fn new<A, F>(name: impl Into<String>, slot: ChildSlot<A::Msg>, make: F) -> Self
    where
        A: Actor,
        A::Msg: HealthProbe,
        F: Fn() -> (A, A::Arguments) + Send + Sync + 'static,
    {
        let make = Arc::new(make);
        let spawn: Arc<SpawnFn> = Arc::new(move |supervisor: ActorCell| {
            let make = Arc::clone(&make);
            let slot = slot.clone();
            Box::pin(async move {
                let (actor, arguments) = make();
                let (actor_ref, _join) = Actor::spawn_linked(None, actor, arguments, supervisor).await?;
                slot.set(actor_ref.clone());
                Ok(actor_ref.get_cell())
            })
        });
        let probe: Arc<ProbeFn> = Arc::new(|cell: ActorCell| {
            Box::pin(async move {
                let actor: ActorRef<A::Msg> = cell.into();
                health::probe(&actor).await
            })
        });
        Self { name: name.into(), policy: RestartPolicy::default(), spawn, probe }
    }

    /// Replaces the default restart policy.
    pub fn with_policy(mut self, policy: RestartPolicy) -> Self {
        self.policy = policy;
        self
    }

    pub fn name(&self) -> &str {
        &self.name
    }
}
