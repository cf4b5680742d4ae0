//! The PostgreSQL connection a group-commit writer keeps while it has work, so a batch costs one round trip.
//!
//! Taking a connection from the pool for each batch costs two round trips besides the statement: the pool pings
//! a connection before handing it out and again after it comes back, and each ping wakes a server process. On a
//! loaded machine those wake-ups, not the statement, were most of a small batch's time. A writer therefore keeps
//! its connection between batches and gives it back only after an error (the pool checks it then), after
//! [`HOLD_WHILE_IDLE`] without work, or when the pool closes (which waits for every connection to come back).

use std::future::Future;
use std::time::Duration;

use sqlx::pool::PoolConnection;
use sqlx::{PgConnection, PgPool, Postgres};

/// How long an idle writer keeps its connection. Short, so a server restart while idle is noticed by the
/// pool's ping rather than by a failed batch, and the connection is free for others; long against the gap
/// between batches under load.
const HOLD_WHILE_IDLE: Duration = Duration::from_secs(1);

pub(crate) struct WriterConnection {
    pool: PgPool,
    held: Option<PoolConnection<Postgres>>,
}

impl WriterConnection {
    pub(crate) fn new(pool: PgPool) -> WriterConnection {
        WriterConnection { pool, held: None }
    }

    /// The kept connection, or a fresh one from the pool.
    pub(crate) async fn get(&mut self) -> Result<&mut PgConnection, sqlx::Error> {
        let connection = match self.held.take() {
            Some(connection) => connection,
            None => self.pool.acquire().await?,
        };
        Ok(&mut **self.held.insert(connection))
    }

    /// Gives the connection back to the pool, which checks it before anyone uses it again.
    pub(crate) fn release(&mut self) {
        self.held = None;
    }

    /// Completes when the writer should give its connection back while waiting for work: after
    /// [`HOLD_WHILE_IDLE`], or at once when the pool is closing. Never completes while nothing is held.
    pub(crate) fn idle(&self) -> impl Future<Output = ()> + use<> {
        let (held, pool) = (self.held.is_some(), self.pool.clone());
        async move {
            if !held {
                return std::future::pending().await;
            }
            tokio::select! {
                () = tokio::time::sleep(HOLD_WHILE_IDLE) => {}
                () = pool.close_event() => {}
            }
        }
    }
}
