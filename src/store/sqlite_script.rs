//! SQLite write transactions sent to the connection's thread as few commands as possible.
//!
//! sqlx hands every statement, `BEGIN` and `COMMIT` to the thread that owns the SQLite connection as a
//! separate command, and the pool sends one more (a ping) when the connection comes back: a transaction of
//! three statements was six round trips between threads, each waking a sleeping one, while every other writer
//! waited for the single writer connection. A script (`BEGIN IMMEDIATE; …; COMMIT`) is one command, and a
//! transaction of several scripts puts its `BEGIN` in the first and its `COMMIT` in the last
//! ([`TransactionPart`]). sqlx numbers `$N` parameters across all statements of one query, so the statements of
//! a script share their bindings.
//!
//! A script that fails part-way leaves its transaction open on the connection, and so does one whose caller
//! stopped waiting: [`ScriptConnection`] rolls back after a failure and closes the connection, instead of
//! returning it to the pool, when the rollback fails or the caller went away.

use sqlx::pool::PoolConnection;
use sqlx::{Sqlite, SqliteConnection, SqlitePool};

/// A pooled connection that runs scripts; see the module documentation.
pub(crate) struct ScriptConnection {
    connection: PoolConnection<Sqlite>,
    /// Set while a script may have left a transaction open; a connection dropped then is closed.
    dirty: bool,
}

impl ScriptConnection {
    pub(crate) async fn acquire(pool: &SqlitePool) -> Result<ScriptConnection, sqlx::Error> {
        Ok(ScriptConnection { connection: pool.acquire().await?, dirty: false })
    }

    /// Runs one part of a transaction spread over several commands (see [`TransactionPart`]) and returns its rows.
    /// The connection counts as holding an open transaction from the first part until a part that ends it
    /// succeeds; a failed part rolls the whole transaction back.
    pub(crate) async fn fetch_part<O>(
        &mut self,
        part_query: sqlx::query::QueryAs<'_, Sqlite, O, <Sqlite as sqlx::Database>::Arguments>,
        part: TransactionPart,
    ) -> Result<Vec<O>, sqlx::Error>
    where
        O: Send + Unpin + for<'r> sqlx::FromRow<'r, sqlx::sqlite::SqliteRow>,
    {
        self.dirty = true;
        match part_query.fetch_all(&mut *self.connection).await {
            Ok(rows) => {
                self.dirty = !part.ends_transaction();
                Ok(rows)
            }
            Err(error) => {
                self.roll_back().await;
                Err(error)
            }
        }
    }

    /// Ends whatever the failed script left open; the connection stays marked for closing if that fails while a
    /// transaction is still open. (A failed autocommit statement, or a COMMIT that SQLite already undid, leaves
    /// none: the ROLLBACK fails then, and the connection is fine.)
    async fn roll_back(&mut self) {
        let connection: &mut SqliteConnection = &mut self.connection;
        if sqlx::query("ROLLBACK").execute(&mut *connection).await.is_ok() || !transaction_open(connection).await {
            self.dirty = false;
        }
    }
}

/// Whether SQLite has a transaction open on `connection` (true when that cannot be asked).
async fn transaction_open(connection: &mut SqliteConnection) -> bool {
    let Ok(mut handle) = connection.lock_handle().await else { return true };
    // SAFETY: the handle is this connection's open database, held locked for the call, which only reads a flag.
    unsafe { libsqlite3_sys::sqlite3_get_autocommit(handle.as_raw_handle().as_ptr()) == 0 }
}

impl Drop for ScriptConnection {
    fn drop(&mut self) {
        if self.dirty {
            tracing::warn!("a SQLite script was interrupted; closing its connection so no open transaction is reused");
            self.connection.close_on_drop();
        }
    }
}

/// Where one command stands in a transaction spread over several: the first begins it, the last commits it, and a
/// transaction of one command does both.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TransactionPart {
    Whole,
    First,
    Middle,
    Last,
}

impl TransactionPart {
    /// The part of command `index` in a transaction whose last command has index `last`.
    pub(crate) fn of(index: usize, last: usize) -> TransactionPart {
        match (index == 0, index == last) {
            (true, true) => TransactionPart::Whole,
            (true, false) => TransactionPart::First,
            (false, true) => TransactionPart::Last,
            (false, false) => TransactionPart::Middle,
        }
    }

    fn ends_transaction(self) -> bool {
        matches!(self, TransactionPart::Whole | TransactionPart::Last)
    }
}
