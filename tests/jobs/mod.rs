//! Jobs: the persisted state machine, the worker pool end to end, crashes, and several nodes on one PostgreSQL.

mod agent_task;
mod crash;
mod nodes;
mod outbox_nodes;
mod pool;
mod repair;
mod restart;
mod routines;
mod state_machine;
mod support;
