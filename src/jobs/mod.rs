//! Jobs: the kinds a job can be, how a submission is checked, the queue the job workers drain, and retry backoff.
//!
//! A job is a row before any worker runs it (`store::Jobs`). States: queued → running → succeeded | failed |
//! cancelled; a failed attempt with attempts left goes back to queued after an exponential backoff. ARCHITECTURE.md
//! ("Jobs, routines and several nodes") describes the lease and the multi-node deployment.

mod backoff;
mod kinds;
mod queue;
mod submit;

pub use backoff::Backoff;
pub use kinds::{AgentJob, JobSpec, MaintenanceTask, ReplyTarget, ToolJob};
pub use queue::{JobExecutor, JobSignals, QueueSettings, StoreJobQueue, node_name};
pub use submit::{JobError, JobLimits, JobSubmission, parse_spec, submit};
