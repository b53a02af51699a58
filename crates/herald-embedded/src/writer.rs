//! The writer thread of [`crate::db::Db`] and its checkpoint companion.
//!
//! The writer takes the waiting jobs (in the order `backlog` gives), runs them in one
//! transaction, commits once and answers every job; `WalRestart` then keeps the WAL from
//! growing without bound (see the `db` module notes).

use crate::backlog::Backlog;
use crate::db::{CommitStats, Finish, Job, Submitted};
use herald_ports::StoreError;
use rusqlite::Connection;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;
use tokio::sync::mpsc;

/// How the writer thread groups and commits.
pub(crate) struct WriterConfig {
    pub max_batch: usize,
    pub max_group_items: u64,
    pub durable: bool,
}

/// Checkpoints the WAL into the database file a few times a second (PASSIVE: never waits
/// for readers or the writer), and once more before exiting.
pub(crate) fn checkpoint_loop(conn: Connection, stopped: Arc<AtomicBool>) {
    let checkpoint = || {
        if let Err(e) = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(())) {
            tracing::warn!(error = %e, "WAL checkpoint failed");
        }
    };
    while !stopped.load(Ordering::Relaxed) {
        std::thread::sleep(std::time::Duration::from_millis(200));
        checkpoint();
    }
    checkpoint();
}

pub(crate) fn run_in_savepoint<R>(
    conn: &Connection,
    job: impl FnOnce(&Connection) -> Result<R, StoreError>,
) -> Result<R, StoreError> {
    run_cached(conn, &["SAVEPOINT job"]).map_err(|e| StoreError::backend("savepoint", e))?;
    match job(conn) {
        Ok(r) => {
            run_cached(conn, &["RELEASE job"])
                .map_err(|e| StoreError::backend("release savepoint", e))?;
            Ok(r)
        }
        Err(e) => {
            let _ = run_cached(conn, &["ROLLBACK TO job", "RELEASE job"]);
            Err(e)
        }
    }
}

/// Runs parameterless statements through the connection's statement cache. The writer runs
/// the same few (BEGIN, COMMIT, SAVEPOINT, RELEASE, the index flush) at every commit or job;
/// `execute_batch` parsed them each time: 7 % of the server's instructions at 50 messages/s,
/// where commits carry one or two jobs (callgrind, BENCHMARKS.md).
pub(crate) fn run_cached(conn: &Connection, statements: &[&str]) -> rusqlite::Result<()> {
    for sql in statements {
        conn.prepare_cached(sql)?.execute([])?;
    }
    Ok(())
}

/// The WAL file SQLite keeps beside the database at `path`.
pub(crate) fn wal_path(path: &Path) -> PathBuf {
    let mut wal = path.as_os_str().to_owned();
    wal.push("-wal");
    PathBuf::from(wal)
}

/// Checks the WAL's size after every commit (one `stat`, next to an fsync); once it is past
/// `limit`, copies what the checkpoint thread has not yet copied, so the next transaction
/// restarts the WAL.
pub(crate) struct WalRestart {
    pub wal: PathBuf,
    pub limit: u64,
}

impl WalRestart {
    fn after_commit(&self, conn: &Connection) {
        let size = std::fs::metadata(&self.wal).map(|m| m.len()).unwrap_or(0);
        if size <= self.limit {
            return;
        }
        // PASSIVE: never waits; busy (the checkpoint thread is at it) means try again later.
        let result = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |row| {
            Ok((
                row.get::<_, i64>(0)?,
                row.get::<_, i64>(1)?,
                row.get::<_, i64>(2)?,
            ))
        });
        match result {
            Ok((busy, log, copied)) => {
                tracing::debug!(
                    size,
                    busy,
                    log,
                    copied,
                    "writer checkpoint to restart the WAL"
                )
            }
            Err(e) => tracing::warn!(error = %e, "writer checkpoint failed"),
        }
    }
}

pub(crate) fn writer_loop(
    conn: Connection,
    mut rx: mpsc::UnboundedReceiver<Submitted>,
    config: WriterConfig,
    stats: Arc<CommitStats>,
    restart: WalRestart,
) {
    let WriterConfig {
        max_batch,
        max_group_items,
        durable,
    } = config;
    let mut finishes: Vec<Finish> = Vec::with_capacity(max_batch);
    #[cfg(feature = "sql-profile")]
    crate::sql_profile::attach(&conn);
    // Index writes the records defer to one statement per commit (see `records::schema`),
    // when this database holds the records.
    let flush_pending = conn
        .query_row(
            "SELECT count(*) FROM temp.sqlite_master WHERE name = 'receivers_pending'",
            [],
            |row| row.get::<_, i64>(0),
        )
        .is_ok_and(|n| n > 0)
        .then_some(crate::records::FLUSH_PENDING);
    let mut backlog: Backlog<Job> = Backlog::new(max_group_items);
    let queue = |backlog: &mut Backlog<Job>, s: Submitted| backlog.push(s.items, s.urgent, s.job);
    loop {
        if backlog.is_empty() {
            let Some(submitted) = rx.blocking_recv() else {
                break;
            };
            queue(&mut backlog, submitted);
        }
        while let Ok(submitted) = rx.try_recv() {
            queue(&mut backlog, submitted);
        }
        if let Err(e) = run_cached(&conn, &["BEGIN IMMEDIATE"]) {
            // Nothing runs outside a transaction (it would commit on its own): every waiting
            // job is answered with the error, then the writer pauses before trying again.
            tracing::error!(error = %e, "cannot begin a transaction");
            for job in backlog.drain() {
                let (_, finish, _) = job(None);
                finish(Err(e.to_string()));
            }
            std::thread::sleep(std::time::Duration::from_millis(100));
            continue;
        }
        #[cfg(feature = "sql-profile")]
        let cycle_started = Instant::now();
        let mut items = 0u64;
        let (mut declared, mut bulk_taken) = (0u64, false);
        let mut poisoned = false;
        while finishes.len() < max_batch {
            let last_slot = finishes.len() + 1 == max_batch;
            let Some((size, bulk, job)) = backlog.next(declared, bulk_taken, last_slot) else {
                break;
            };
            declared += size;
            bulk_taken |= bulk;
            let (n, finish, poisons) = job(Some(&conn));
            items += n;
            poisoned |= poisons;
            finishes.push(finish);
            // Jobs that arrived meanwhile join this group (small ones ahead of bulk).
            while let Ok(submitted) = rx.try_recv() {
                queue(&mut backlog, submitted);
            }
        }
        let started = Instant::now();
        let committed = if poisoned {
            tracing::error!("a write without savepoint failed; rolling back its whole group");
            let _ = run_cached(&conn, &["ROLLBACK"]);
            Err("rolled back with a failed write of the same group".to_owned())
        } else {
            flush_pending
                .map_or(Ok(()), |statements| run_cached(&conn, statements))
                .and_then(|()| run_cached(&conn, &["COMMIT"]))
                .map_err(|e| {
                    tracing::error!(error = %e, "group commit failed");
                    let _ = run_cached(&conn, &["ROLLBACK"]);
                    e.to_string()
                })
        };
        let took = started.elapsed();
        if committed.is_ok() {
            stats.commits.fetch_add(1, Ordering::Relaxed);
            if durable {
                stats.fsyncs.fetch_add(1, Ordering::Relaxed);
            }
            stats
                .jobs
                .fetch_add(finishes.len() as u64, Ordering::Relaxed);
            stats.items.fetch_add(items, Ordering::Relaxed);
            stats
                .commit_nanos
                .fetch_add(took.as_nanos() as u64, Ordering::Relaxed);
        }
        #[cfg(feature = "sql-profile")]
        let (jobs, commit_took) = (finishes.len(), took);
        for finish in finishes.drain(..) {
            finish(committed.clone());
        }
        restart.after_commit(&conn);
        #[cfg(feature = "sql-profile")]
        crate::sql_profile::cycle(jobs, items, cycle_started.elapsed(), commit_took);
    }
}
