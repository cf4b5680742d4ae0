//! SQLite's WAL checkpoints, moved off the writer connection.
//!
//! By default SQLite checkpoints inside the commit that takes the WAL past 1,000 frames: that commit copies every
//! page of the WAL back into the database file and syncs both files before it returns, and every turn queued
//! behind it on the single writer waits too. In the agent bench at 8 conversations that was most of the gap between
//! p50 and p95 (p50 about 3.3 ms, p95 about 6.5 ms; 4.5 ms with no checkpoints at all).
//!
//! Here the writer connection's WAL hook only watches each commit's WAL size. Past 1,000 frames it wakes a task
//! that checkpoints (PASSIVE) from a connection of its own, while the writer goes on committing. Such a pass
//! cannot leave the WAL empty while commits keep coming, and SQLite only starts the WAL over from its beginning
//! in a write that began with every frame in the database file, so the writer finishes the job: when the frames
//! the pass did not copy (those committed while it ran, at least) are few, the next commit checkpoints them
//! inline, a copy of at most [`FINISH_INLINE_FRAMES`] pages, and the following write restarts the WAL. If the task
//! falls behind or fails, the writer checkpoints inline once the WAL holds [`CHECKPOINT_INLINE_FRAMES`], so the WAL
//! stays bounded whatever happens.

use std::ffi::{c_char, c_int, c_void};
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use sqlx::SqlitePool;
use sqlx::sqlite::{SqliteConnectOptions, SqliteConnection, SqlitePoolOptions};
use tokio::sync::{Notify, oneshot};
use tracing::Instrument;

/// WAL size that starts a background pass: SQLite's own auto-checkpoint threshold.
const CHECKPOINT_AFTER_FRAMES: u32 = 1000;

/// At most this many frames left behind by a pass are checkpointed inline by the next commit, which lets the WAL
/// start over: a quarter of what the default copies inline, and usually far less.
const FINISH_INLINE_FRAMES: u32 = 256;

/// WAL size at which the writer checkpoints inline whatever the task is doing (about 32 MB of 4 KB pages).
const CHECKPOINT_INLINE_FRAMES: u32 = 8 * CHECKPOINT_AFTER_FRAMES;

/// A checkpoint connection unused this long is closed; the next pass opens one again.
const IDLE_CONNECTION: Duration = Duration::from_secs(60);

/// What the writer's WAL hook and the checkpoint task share.
#[derive(Debug, Default)]
pub(crate) struct WalWatch {
    /// Frames the last pass copied; 0 when it copied none, or once the writer finished its work.
    backfilled: AtomicU32,
    /// The WAL's size after the previous commit: a smaller one means the WAL started over since.
    last_frames: AtomicU32,
    wake: Notify,
}

impl WalWatch {
    /// Runs on the writer's thread after each commit, with the WAL's size in frames.
    fn after_commit(&self, frames: u32) -> Action {
        if frames < self.last_frames.swap(frames, Ordering::Relaxed) {
            // The WAL started over: what a pass copied refers to frames that are gone.
            self.backfilled.store(0, Ordering::Relaxed);
        }
        if frames < CHECKPOINT_AFTER_FRAMES {
            return Action::Nothing;
        }
        let backfilled = self.backfilled.load(Ordering::Relaxed);
        let finishes = backfilled > 0 && backfilled <= frames && frames - backfilled <= FINISH_INLINE_FRAMES;
        if finishes || frames >= CHECKPOINT_INLINE_FRAMES {
            self.backfilled.store(0, Ordering::Relaxed);
            Action::CheckpointInline
        } else {
            self.wake.notify_one();
            Action::WokeTask
        }
    }

    /// Runs on the checkpoint task after a pass that left `copied` frames of the WAL in the database file.
    ///
    /// A pass that copied every frame still leaves work for the writer: by the time it ends, the writer has
    /// usually begun its next transaction on a snapshot that includes frames of its own, and SQLite starts the WAL
    /// over only in a transaction that began with every frame copied. So what was copied is kept either way, and
    /// the writer's next commit copies the few frames added since and lets the write after it restart the WAL.
    /// (Keeping nothing after a complete pass made each later commit wake another pass for its few new frames,
    /// until a write happened to begin between a pass and the next commit.)
    fn after_pass(&self, copied: i64) {
        self.backfilled.store(u32::try_from(copied).unwrap_or(0), Ordering::Relaxed);
    }
}

#[derive(Debug, PartialEq, Eq)]
enum Action {
    Nothing,
    WokeTask,
    CheckpointInline,
}

/// The WAL hook: SQLite calls it after every commit on the connection it is set on.
unsafe extern "C" fn after_commit(
    watch: *mut c_void,
    database: *mut libsqlite3_sys::sqlite3,
    schema: *const c_char,
    frames: c_int,
) -> c_int {
    // SAFETY: `watch` is the pointer `watch_commits` registered, from `Arc::into_raw`, and that reference is never
    // released, so the `WalWatch` outlives the connection.
    let watch = unsafe { &*watch.cast_const().cast::<WalWatch>() };
    if watch.after_commit(u32::try_from(frames).unwrap_or(0)) == Action::CheckpointInline {
        tracing::debug!(frames, "checkpointing the WAL on the writer");
        // SAFETY: `database` and `schema` are the handle and schema name SQLite passed to this hook, valid for the
        // call; checkpointing from inside the hook is what SQLite's own auto-checkpoint does. The outcome is not
        // needed: a checkpoint that could not finish leaves the WAL as it was, and the next commit tries again.
        unsafe {
            libsqlite3_sys::sqlite3_wal_checkpoint_v2(
                database,
                schema,
                libsqlite3_sys::SQLITE_CHECKPOINT_PASSIVE,
                std::ptr::null_mut(),
                std::ptr::null_mut(),
            );
        }
    }
    libsqlite3_sys::SQLITE_OK
}

/// Sets the WAL hook on `connection` (the writer), which also turns off SQLite's own auto-checkpoint there.
pub(crate) async fn watch_commits(connection: &mut SqliteConnection, watch: &Arc<WalWatch>) -> Result<(), sqlx::Error> {
    let mut handle = connection.lock_handle().await?;
    let database = handle.as_raw_handle().as_ptr();
    // The hook has no destructor, so the connection's reference is kept for good: one small `WalWatch` per writer
    // connection, which is opened once per store (again only after a failed commit).
    let watch = Arc::into_raw(Arc::clone(watch)).cast_mut().cast::<c_void>();
    // SAFETY: `database` is this connection's open handle, held locked for the call; `after_commit` matches the
    // hook's signature and `watch` stays valid for the life of the connection (above).
    unsafe { libsqlite3_sys::sqlite3_wal_hook(database, Some(after_commit), watch) };
    Ok(())
}

/// The background checkpointer: its connection and the task that uses it, which ends when the last clone of this
/// handle is dropped or the store is closed.
#[derive(Clone, Debug)]
pub(crate) struct WalCheckpoints {
    pool: SqlitePool,
    _stop: Arc<oneshot::Sender<()>>,
}

impl WalCheckpoints {
    /// Starts the task. `options` are the store's (key, WAL); the connection opens at the first pass.
    pub(crate) fn spawn(options: SqliteConnectOptions, watch: Arc<WalWatch>) -> WalCheckpoints {
        let pool = SqlitePoolOptions::new()
            .max_connections(1)
            .min_connections(0)
            .idle_timeout(Some(IDLE_CONNECTION))
            .test_before_acquire(false)
            // A checkpoint copies pages file to file and reads nothing through the page cache.
            .connect_lazy_with(options.pragma("cache_size", "-256"));
        let (stop, stopped) = oneshot::channel();
        tokio::spawn(run(pool.clone(), watch, stopped).instrument(tracing::info_span!("wal_checkpoints")));
        WalCheckpoints { pool, _stop: Arc::new(stop) }
    }

    pub(crate) async fn close(&self) {
        self.pool.close().await;
    }
}

async fn run(pool: SqlitePool, watch: Arc<WalWatch>, mut stopped: oneshot::Receiver<()>) {
    loop {
        tokio::select! {
            _ = &mut stopped => break,
            () = watch.wake.notified() => {}
        }
        match checkpoint(&pool).await {
            Ok((frames, copied)) => {
                tracing::debug!(frames, copied, "checkpointed the WAL");
                watch.after_pass(copied);
            }
            Err(sqlx::Error::PoolClosed) => break,
            Err(error) => tracing::warn!(
                %error,
                "background WAL checkpoint failed; the writer checkpoints itself once the WAL holds {CHECKPOINT_INLINE_FRAMES} frames"
            ),
        }
    }
    pool.close().await;
}

/// One PASSIVE checkpoint: copies what no reader still needs, waiting for nobody. Returns the WAL's size and how
/// many of its frames are now in the database file.
async fn checkpoint(pool: &SqlitePool) -> Result<(i64, i64), sqlx::Error> {
    let (_busy, frames, copied): (i64, i64, i64) =
        sqlx::query_as("PRAGMA wal_checkpoint(PASSIVE)").fetch_one(pool).await?;
    Ok((frames, copied))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commits_below_the_threshold_do_nothing() {
        let watch = WalWatch::default();
        assert_eq!(watch.after_commit(10), Action::Nothing);
        assert_eq!(watch.after_commit(CHECKPOINT_AFTER_FRAMES - 1), Action::Nothing);
    }

    #[test]
    fn a_large_wal_wakes_the_task_and_the_writer_finishes_what_a_pass_left() {
        let watch = WalWatch::default();
        assert_eq!(watch.after_commit(CHECKPOINT_AFTER_FRAMES), Action::WokeTask);
        // The pass copied 1,000 frames while the WAL grew to 1,100.
        watch.backfilled.store(CHECKPOINT_AFTER_FRAMES, Ordering::Relaxed);
        assert_eq!(watch.after_commit(CHECKPOINT_AFTER_FRAMES + 100), Action::CheckpointInline);
        assert_eq!(watch.backfilled.load(Ordering::Relaxed), 0);
    }

    #[test]
    fn the_commit_after_a_complete_pass_copies_what_came_since_instead_of_waking_another_pass() {
        let watch = WalWatch::default();
        assert_eq!(watch.after_commit(1009), Action::WokeTask);
        // The pass copied all 1,009 frames, while the writer's next transaction was already running.
        watch.after_pass(1009);
        assert_eq!(watch.after_commit(1013), Action::CheckpointInline);
        assert_eq!(watch.after_commit(3), Action::Nothing, "the WAL started over");
    }

    #[test]
    fn a_pass_that_copied_nothing_leaves_the_task_to_try_again() {
        let watch = WalWatch::default();
        watch.after_commit(1200);
        // An earlier pass copied 1,150 frames; the latest copied none (0), or could not run at all (-1).
        for nothing in [0, -1] {
            watch.after_pass(1150);
            watch.after_pass(nothing);
            assert_eq!(watch.after_commit(1210), Action::WokeTask, "after a pass that returned {nothing}");
        }
    }

    #[test]
    fn a_pass_far_behind_is_not_finished_inline_but_the_wal_stays_bounded() {
        let watch = WalWatch::default();
        watch.after_commit(2000);
        watch.backfilled.store(1000, Ordering::Relaxed);
        assert_eq!(watch.after_commit(2000), Action::WokeTask, "1,000 frames left is the task's work");
        assert_eq!(watch.after_commit(CHECKPOINT_INLINE_FRAMES), Action::CheckpointInline);
    }

    #[test]
    fn a_restarted_wal_forgets_what_the_last_pass_copied() {
        let watch = WalWatch::default();
        watch.after_commit(1200);
        watch.backfilled.store(1100, Ordering::Relaxed);
        // The WAL started over and grew past the threshold again: the old count says nothing about these frames.
        watch.after_commit(5);
        assert_eq!(watch.after_commit(1150), Action::WokeTask);
    }
}
