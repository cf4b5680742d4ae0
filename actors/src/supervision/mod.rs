//! Supervision: restart policies, child specifications and the supervisor actor.

pub mod child;
pub mod policy;
pub mod supervisor;

pub use child::ChildSpec;
pub use policy::{RestartDecision, RestartHistory, RestartPolicy};
pub use supervisor::{Strategy, Supervisor, SupervisorMsg, SupervisorSpec};

#[cfg(test)]
mod tests;
