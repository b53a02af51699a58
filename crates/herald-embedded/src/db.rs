//! One SQLite database in WAL mode with a single writer thread doing **group commit**.
//!
//! Every write is a job sent to the writer thread. The thread takes the first job, then every
//! job that queued up meanwhile (up to `max_batch`), runs them in one transaction (each inside
//! its own savepoint, so one failing job does not abort the others), commits once — one fsync
//! with `synchronous=FULL` — and only then answers every job. Requests that arrive while a
//! commit is in flight therefore share the next one: throughput is fsyncs/s × batch size
//! instead of fsyncs/s.
//!
//! The writer thread (grouping, commit) and the checkpoint thread live in `writer`;
//! which waiting jobs a group takes first, in `backlog`.
//!
//! Reads run on pooled read-only connections in `spawn_blocking`; WAL lets them proceed while
//! the writer commits. Checkpoints (copying the WAL into the database file) run on a thread
//! of their own, so the writer thread mostly appends. Under sustained writes that thread
//! never catches up with the end of the WAL, and SQLite only restarts the WAL from its
//! beginning once every frame is copied back: the WAL grew by ~8 KB per accepted message
//! (670 MB in a 10 s benchmark), every commit allocated fresh file blocks (the kernel zeroing
//! them was the writer's top symbol) and readers searched an ever larger WAL index. So the
//! writer itself checkpoints once the WAL passes `wal_restart_bytes` (64 MiB) — little is left to
//! copy by then — and its next transaction starts the WAL over, truncated to that size.

use crate::writer::{
    WalRestart, WriterConfig, checkpoint_loop, run_in_savepoint, wal_path, writer_loop,
};
use herald_ports::StoreError;
use parking_lot::Mutex;
use rusqlite::{Connection, OpenFlags};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use tokio::sync::{mpsc, oneshot};

/// Tuning of the database.
#[derive(Debug, Clone)]
pub struct DbOptions {
    /// `true` = `synchronous=FULL` (an fsync per commit; required for the 202 promise).
    /// `false` only for throwaway test databases.
    pub durable: bool,
    /// Most jobs one commit may carry.
    pub max_batch: usize,
    /// Items past which a group takes no further bulk job (see `backlog`).
    pub max_group_items: u64,
    /// Read connections kept open.
    pub read_pool: usize,
    /// Page cache of the writer and of the checkpoint connection, in KiB.
    pub writer_cache_kib: u32,
    /// WAL size past which the writer checkpoints so the WAL starts over (and is truncated
    /// back to this size); see the module notes.
    pub wal_restart_bytes: u64,
}

impl Default for DbOptions {
    fn default() -> Self {
        Self {
            durable: true,
            max_batch: 4096,
            max_group_items: 4096,
            read_pool: 8,
            writer_cache_kib: 16_000,
            wal_restart_bytes: WAL_RESTART_BYTES,
        }
    }
}

/// Counters of the writer, exported on `/metrics`.
#[derive(Debug, Default)]
pub struct CommitStats {
    /// Committed transactions.
    pub commits: AtomicU64,
    /// Commits made with `synchronous=FULL`, i.e. each followed by an fsync of the WAL. Stays
    /// 0 for non-durable databases, so a benchmark or crash test cannot pass on skipped fsyncs.
    pub fsyncs: AtomicU64,
    /// Jobs committed.
    pub jobs: AtomicU64,
    /// Items committed, as counted by the jobs (deliveries accepted, events applied, …).
    pub items: AtomicU64,
    /// Nanoseconds spent in COMMIT (the fsync).
    pub commit_nanos: AtomicU64,
    /// Deliveries journaled but not yet indexed (a gauge kept by `journal`).
    pub unindexed: AtomicU64,
    /// Journaled accepts the indexer had to set aside: rows it could not read back (moved
    /// to `journal_unreadable`) or found missing (kept by `journal`).
    pub set_aside: AtomicU64,
    /// Moves of staged search words into the vocabulary that failed (`records::vocab`); the
    /// words stay staged and the next move takes them, but a count that keeps growing
    /// means staging only grows and searches fall back to the slower prefix query.
    pub vocab_move_failures: AtomicU64,
}

impl CommitStats {
    pub fn commits(&self) -> u64 {
        self.commits.load(Ordering::Relaxed)
    }
    pub fn fsyncs(&self) -> u64 {
        self.fsyncs.load(Ordering::Relaxed)
    }
    pub fn items(&self) -> u64 {
        self.items.load(Ordering::Relaxed)
    }
    /// Mean items per commit since start.
    pub fn mean_batch(&self) -> f64 {
        let c = self.commits();
        if c == 0 {
            0.0
        } else {
            self.items() as f64 / c as f64
        }
    }
}

/// Default WAL size at which the writer checkpoints so the WAL restarts.
pub const WAL_RESTART_BYTES: u64 = 64 << 20;

pub(crate) type Finish = Box<dyn FnOnce(Result<(), String>) + Send>;
/// A write job: runs on the writer thread inside the group's transaction, returns the items
/// it counts, how to answer its caller once the commit is decided, and whether it failed
/// without a savepoint (which rolls back the whole group). Given no connection (no
/// transaction could begin), it does not run and only makes the answer.
pub(crate) type Job = Box<dyn FnOnce(Option<&Connection>) -> (u64, Finish, bool) + Send>;

/// A job as sent to the writer: its declared size and urgency (see `backlog`).
pub(crate) struct Submitted {
    pub items: u64,
    pub urgent: bool,
    pub job: Job,
}

/// Handle to the database; cheap to clone.
#[derive(Clone)]
pub struct Db {
    inner: Arc<Inner>,
}

struct Inner {
    /// Tells the checkpoint thread to finish once the last handle is gone.
    stopped: Arc<AtomicBool>,
    path: PathBuf,
    writer: mpsc::UnboundedSender<Submitted>,
    readers: Mutex<Vec<Connection>>,
    /// One permit per read connection.
    read_slots: Arc<tokio::sync::Semaphore>,
    stats: Arc<CommitStats>,
}

impl Db {
    /// Opens (creating if needed) the database, applies `schema` (idempotent DDL) and starts
    /// the writer thread.
    pub fn open(path: &Path, schema: &[&str], options: DbOptions) -> Result<Self, StoreError> {
        let stats = Arc::new(CommitStats::default());
        let conn = open_conn(path, false, options.durable)?;
        set_cache(&conn, options.writer_cache_kib)?;
        let limit = options.wal_restart_bytes;
        conn.execute_batch(&format!("PRAGMA journal_size_limit={limit}"))
            .map_err(|e| StoreError::backend("limiting the WAL size", e))?;
        for ddl in schema {
            conn.execute_batch(ddl)
                .map_err(|e| StoreError::backend("applying schema", e))?;
        }
        let (tx, rx) = mpsc::unbounded_channel::<Submitted>();
        let writer_stats = stats.clone();
        let config = WriterConfig {
            max_batch: options.max_batch.max(1),
            max_group_items: options.max_group_items,
            durable: options.durable,
        };
        // Checkpoints copy WAL pages into the database file and fsync it: that work runs on
        // its own thread and connection, so the writer only ever appends to the WAL.
        conn.execute_batch("PRAGMA wal_autocheckpoint=0")
            .map_err(|e| StoreError::backend("disabling auto-checkpoints", e))?;
        let stopped = Arc::new(AtomicBool::new(false));
        let checkpointer = open_conn(path, false, options.durable)?;
        set_cache(&checkpointer, options.writer_cache_kib)?;
        let stop = stopped.clone();
        let wal = wal_path(path);
        // Threads named after the file (`herald-writer`, `journal-writer`) so a profile
        // tells the two databases apart.
        let stem = path
            .file_stem()
            .and_then(|s| s.to_str())
            .unwrap_or("db")
            .chars()
            .take(7)
            .collect::<String>();
        std::thread::Builder::new()
            .name(format!("{stem}-checkpt"))
            .spawn(move || checkpoint_loop(checkpointer, stop))
            .map_err(|e| StoreError::backend("starting the checkpoint thread", e))?;
        std::thread::Builder::new()
            .name(format!("{stem}-writer"))
            .spawn(move || {
                let restart = WalRestart { wal, limit };
                writer_loop(conn, rx, config, writer_stats, restart)
            })
            .map_err(|e| StoreError::backend("starting the writer thread", e))?;
        Ok(Self {
            inner: Arc::new(Inner {
                path: path.to_owned(),
                writer: tx,
                readers: Mutex::new(Vec::new()),
                read_slots: Arc::new(tokio::sync::Semaphore::new(options.read_pool.max(1))),
                stats,
                stopped,
            }),
        })
    }

    pub fn stats(&self) -> &Arc<CommitStats> {
        &self.inner.stats
    }

    /// Runs `job` inside the next group commit and returns its result once the commit is
    /// durable. `items` is what the job counts toward the mean batch size. The job runs in
    /// its own savepoint: if it fails, only its changes are undone (use this for writes that
    /// can fail on valid input, such as unique names).
    pub async fn write<R, F>(&self, items: u64, job: F) -> Result<R, StoreError>
    where
        R: Send + 'static,
        F: FnOnce(&Connection) -> Result<R, StoreError> + Send + 'static,
    {
        self.submit(items, true, false, job).await
    }

    /// Like [`write`](Self::write) without a savepoint of its own, for the hot path (queue,
    /// intake, records): a savepoint copies every page the job touches into a sub-journal
    /// first, which profiling showed as a large share of the writer's time. If such a job
    /// fails, the whole group is rolled back and every job in it gets an error — no caller is
    /// told its write is durable unless it is.
    pub async fn write_unisolated<R, F>(&self, items: u64, job: F) -> Result<R, StoreError>
    where
        R: Send + 'static,
        F: FnOnce(&Connection) -> Result<R, StoreError> + Send + 'static,
    {
        self.submit(items, false, false, job).await
    }

    /// Like [`write_unisolated`](Self::write_unisolated) for a job that others wait on
    /// whatever its size (the dispatcher's settle): it goes ahead of bulk jobs (see `backlog`).
    pub async fn write_unisolated_urgent<R, F>(&self, items: u64, job: F) -> Result<R, StoreError>
    where
        R: Send + 'static,
        F: FnOnce(&Connection) -> Result<R, StoreError> + Send + 'static,
    {
        self.submit(items, false, true, job).await
    }

    /// Like [`write_unisolated`](Self::write_unisolated), and once the commit is durable
    /// `committed` runs on the writer thread with the job's result, before the caller is
    /// answered and in commit order — also when the caller has stopped waiting (a dropped
    /// request), so what it publishes cannot be lost to a cancelled future.
    pub async fn write_then<R, F, C>(
        &self,
        items: u64,
        job: F,
        committed: C,
    ) -> Result<R, StoreError>
    where
        R: Send + 'static,
        F: FnOnce(&Connection) -> Result<R, StoreError> + Send + 'static,
        C: FnOnce(&R) + Send + 'static,
    {
        self.submit_then(items, false, false, job, committed).await
    }

    async fn submit<R, F>(
        &self,
        items: u64,
        isolated: bool,
        urgent: bool,
        job: F,
    ) -> Result<R, StoreError>
    where
        R: Send + 'static,
        F: FnOnce(&Connection) -> Result<R, StoreError> + Send + 'static,
    {
        self.submit_then(items, isolated, urgent, job, |_: &R| ())
            .await
    }

    async fn submit_then<R, F, C>(
        &self,
        items: u64,
        isolated: bool,
        urgent: bool,
        job: F,
        committed: C,
    ) -> Result<R, StoreError>
    where
        R: Send + 'static,
        F: FnOnce(&Connection) -> Result<R, StoreError> + Send + 'static,
        C: FnOnce(&R) + Send + 'static,
    {
        let (reply, answer) = oneshot::channel::<Result<R, StoreError>>();
        let boxed: Job = Box::new(move |conn: Option<&Connection>| {
            let Some(conn) = conn else {
                let finish: Finish = Box::new(move |commit: Result<(), String>| {
                    let reason = commit.err().unwrap_or_default();
                    let _ = reply.send(Err(StoreError::Unavailable(format!(
                        "cannot begin a transaction: {reason}"
                    ))));
                });
                return (0, finish, false);
            };
            let outcome = if isolated {
                run_in_savepoint(conn, job)
            } else {
                job(conn)
            };
            let poisons = !isolated && outcome.is_err();
            let counted = if outcome.is_ok() { items } else { 0 };
            let finish: Finish = Box::new(move |commit: Result<(), String>| {
                let result = match (commit, outcome) {
                    (_, Err(e)) => Err(e),
                    (Ok(()), Ok(value)) => {
                        committed(&value);
                        Ok(value)
                    }
                    (Err(e), Ok(_)) => Err(StoreError::Unavailable(format!("commit failed: {e}"))),
                };
                let _ = reply.send(result);
            });
            (counted, finish, poisons)
        });
        self.inner
            .writer
            .send(Submitted {
                items,
                urgent,
                job: boxed,
            })
            .map_err(|_| StoreError::Unavailable("database writer stopped".into()))?;
        answer
            .await
            .map_err(|_| StoreError::Unavailable("database writer stopped".into()))?
    }

    /// Runs a read on a pooled connection off the async runtime.
    pub async fn read<R, F>(&self, f: F) -> Result<R, StoreError>
    where
        R: Send + 'static,
        F: FnOnce(&Connection) -> Result<R, StoreError> + Send + 'static,
    {
        // At most `read_pool` reads at once, so every connection is reused: opening one
        // parses the schema, which under load cost more than the reads themselves.
        let permit = self
            .inner
            .read_slots
            .clone()
            .acquire_owned()
            .await
            .map_err(|_| StoreError::Unavailable("database closed".into()))?;
        let inner = self.inner.clone();
        tokio::task::spawn_blocking(move || {
            let conn = match inner.readers.lock().pop() {
                Some(c) => c,
                None => open_conn(&inner.path, true, true)?,
            };
            let result = f(&conn);
            inner.readers.lock().push(conn);
            drop(permit);
            result
        })
        .await
        .map_err(|e| StoreError::backend("read task panicked", e))?
    }
}

fn set_cache(conn: &Connection, kib: u32) -> Result<(), StoreError> {
    conn.execute_batch(&format!("PRAGMA cache_size=-{kib}"))
        .map_err(|e| StoreError::backend("sizing the page cache", e))
}

/// Prepared statements kept per connection (see `open_conn`).
const STATEMENT_CACHE: usize = 128;

fn open_conn(path: &Path, read_only: bool, durable: bool) -> Result<Connection, StoreError> {
    let flags = if read_only {
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX
    } else {
        OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_CREATE
            | OpenFlags::SQLITE_OPEN_NO_MUTEX
    };
    let conn = Connection::open_with_flags(path, flags)
        .map_err(|e| StoreError::backend(format!("opening {}", path.display()), e))?;
    let sync = if durable { "FULL" } else { "OFF" };
    // Page caches: 4 MB per reader, `writer_cache_kib` (16 MB) for the writer and the
    // checkpointer. A reader's
    // cache is dropped at every read transaction that follows a commit, so a larger one only
    // held memory; with 16 MB per reader and 32 MB for the writer, peak RSS at 10,000/s for
    // 60 s was 168–195 MB (target 150), with these 136.5 MB at the same latency.
    let pragmas = if read_only {
        "PRAGMA busy_timeout=5000; PRAGMA cache_size=-4000; PRAGMA temp_store=MEMORY;".to_string()
    } else {
        format!(
            "PRAGMA journal_mode=WAL; PRAGMA synchronous={sync}; PRAGMA busy_timeout=5000; \
             PRAGMA temp_store=MEMORY; PRAGMA foreign_keys=OFF;"
        )
    };
    conn.execute_batch(&pragmas)
        .map_err(|e| StoreError::backend("setting pragmas", e))?;
    // The writer runs more distinct cached statements per group commit (intake, indexer,
    // queue, settle, and its own BEGIN/COMMIT/SAVEPOINT, `writer::run_cached`) than
    // rusqlite's default cache of 16 holds; past it, LRU eviction would prepare some again
    // every cycle.
    conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
    Ok(conn)
}

impl Drop for Inner {
    fn drop(&mut self) {
        self.stopped.store(true, Ordering::Relaxed);
    }
}

#[cfg(test)]
#[path = "db_tests.rs"]
mod tests;
