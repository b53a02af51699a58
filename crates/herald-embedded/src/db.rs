//! One SQLite database in WAL mode with a single writer thread doing **group commit**.
//!
//! Every write is a job sent to the writer thread. The thread takes the first job, then every
//! job that queued up meanwhile (up to `max_batch`), runs them in one transaction (each inside
//! its own savepoint, so one failing job does not abort the others), commits once — one fsync
//! with `synchronous=FULL` — and only then answers every job. Requests that arrive while a
//! commit is in flight therefore share the next one: throughput is fsyncs/s × batch size
//! instead of fsyncs/s.
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
    /// Read connections kept open.
    pub read_pool: usize,
    /// WAL size past which the writer checkpoints so the WAL starts over (and is truncated
    /// back to this size); see the module notes.
    pub wal_restart_bytes: u64,
}

impl Default for DbOptions {
    fn default() -> Self {
        Self {
            durable: true,
            max_batch: 4096,
            read_pool: 8,
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

type Finish = Box<dyn FnOnce(Result<(), String>) + Send>;
/// A write job: runs on the writer thread, returns the items it counts, how to answer its
/// caller once the commit is decided, and whether it failed without a savepoint (which
/// rolls back the whole group).
type Job = Box<dyn FnOnce(&Connection) -> (u64, Finish, bool) + Send>;

/// Handle to the database; cheap to clone.
#[derive(Clone)]
pub struct Db {
    inner: Arc<Inner>,
}

struct Inner {
    /// Tells the checkpoint thread to finish once the last handle is gone.
    stopped: Arc<AtomicBool>,
    path: PathBuf,
    writer: mpsc::UnboundedSender<Job>,
    readers: Mutex<Vec<Connection>>,
    /// One permit per read connection.
    read_slots: Arc<tokio::sync::Semaphore>,
    stats: Arc<CommitStats>,
}

impl Db {
    /// Opens (creating if needed) the database, applies `schema` (idempotent DDL) and starts
    /// the writer thread.
    pub fn open(path: &Path, schema: &[&str], options: DbOptions) -> Result<Self, StoreError> {
        let conn = open_conn(path, false, options.durable)?;
        let limit = options.wal_restart_bytes;
        conn.execute_batch(&format!("PRAGMA journal_size_limit={limit}"))
            .map_err(|e| StoreError::backend("limiting the WAL size", e))?;
        for ddl in schema {
            conn.execute_batch(ddl)
                .map_err(|e| StoreError::backend("applying schema", e))?;
        }
        let stats = Arc::new(CommitStats::default());
        let (tx, rx) = mpsc::unbounded_channel::<Job>();
        let writer_stats = stats.clone();
        let max_batch = options.max_batch.max(1);
        let durable = options.durable;
        // Checkpoints copy WAL pages into the database file and fsync it: that work runs on
        // its own thread and connection, so the writer only ever appends to the WAL.
        conn.execute_batch("PRAGMA wal_autocheckpoint=0")
            .map_err(|e| StoreError::backend("disabling auto-checkpoints", e))?;
        let stopped = Arc::new(AtomicBool::new(false));
        let checkpointer = open_conn(path, false, options.durable)?;
        let stop = stopped.clone();
        let wal = wal_path(path);
        std::thread::Builder::new()
            .name("herald-db-checkpoint".into())
            .spawn(move || checkpoint_loop(checkpointer, stop))
            .map_err(|e| StoreError::backend("starting the checkpoint thread", e))?;
        std::thread::Builder::new()
            .name("herald-db-writer".into())
            .spawn(move || {
                let restart = WalRestart { wal, limit };
                writer_loop(conn, rx, max_batch, writer_stats, durable, restart)
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
        self.submit(items, true, job).await
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
        self.submit(items, false, job).await
    }

    async fn submit<R, F>(&self, items: u64, isolated: bool, job: F) -> Result<R, StoreError>
    where
        R: Send + 'static,
        F: FnOnce(&Connection) -> Result<R, StoreError> + Send + 'static,
    {
        let (reply, answer) = oneshot::channel::<Result<R, StoreError>>();
        let boxed: Job = Box::new(move |conn: &Connection| {
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
                    (Ok(()), ok) => ok,
                    (Err(e), Ok(_)) => Err(StoreError::Unavailable(format!("commit failed: {e}"))),
                };
                let _ = reply.send(result);
            });
            (counted, finish, poisons)
        });
        self.inner
            .writer
            .send(boxed)
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
    let pragmas = if read_only {
        "PRAGMA busy_timeout=5000; PRAGMA cache_size=-16000; PRAGMA temp_store=MEMORY;".to_string()
    } else {
        format!(
            "PRAGMA journal_mode=WAL; PRAGMA synchronous={sync}; PRAGMA busy_timeout=5000; \
             PRAGMA cache_size=-32000; PRAGMA temp_store=MEMORY; PRAGMA foreign_keys=OFF;"
        )
    };
    conn.execute_batch(&pragmas)
        .map_err(|e| StoreError::backend("setting pragmas", e))?;
    Ok(conn)
}

impl Drop for Inner {
    fn drop(&mut self) {
        self.stopped.store(true, Ordering::Relaxed);
    }
}

/// Checkpoints the WAL into the database file a few times a second (PASSIVE: never waits
/// for readers or the writer), and once more before exiting.
fn checkpoint_loop(conn: Connection, stopped: Arc<AtomicBool>) {
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

fn run_in_savepoint<R>(
    conn: &Connection,
    job: impl FnOnce(&Connection) -> Result<R, StoreError>,
) -> Result<R, StoreError> {
    conn.execute_batch("SAVEPOINT job")
        .map_err(|e| StoreError::backend("savepoint", e))?;
    match job(conn) {
        Ok(r) => {
            conn.execute_batch("RELEASE job")
                .map_err(|e| StoreError::backend("release savepoint", e))?;
            Ok(r)
        }
        Err(e) => {
            let _ = conn.execute_batch("ROLLBACK TO job; RELEASE job");
            Err(e)
        }
    }
}

/// The WAL file SQLite keeps beside the database at `path`.
fn wal_path(path: &Path) -> PathBuf {
    let mut wal = path.as_os_str().to_owned();
    wal.push("-wal");
    PathBuf::from(wal)
}

/// Checks the WAL's size after every commit (one `stat`, next to an fsync); once it is past
/// `limit`, copies what the checkpoint thread has not yet copied, so the next transaction
/// restarts the WAL.
struct WalRestart {
    wal: PathBuf,
    limit: u64,
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

fn writer_loop(
    conn: Connection,
    mut rx: mpsc::UnboundedReceiver<Job>,
    max_batch: usize,
    stats: Arc<CommitStats>,
    durable: bool,
    restart: WalRestart,
) {
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
    while let Some(first) = rx.blocking_recv() {
        if let Err(e) = conn.execute_batch("BEGIN IMMEDIATE") {
            tracing::error!(error = %e, "cannot begin a transaction");
            let (_, finish, _) = first(&conn);
            finish(Err(e.to_string()));
            continue;
        }
        let mut items = 0u64;
        let mut poisoned = false;
        let mut next = Some(first);
        while let Some(job) = next.take() {
            let (n, finish, poisons) = job(&conn);
            items += n;
            poisoned |= poisons;
            finishes.push(finish);
            if finishes.len() < max_batch {
                next = rx.try_recv().ok();
            }
        }
        let started = std::time::Instant::now();
        let committed = if poisoned {
            tracing::error!("a write without savepoint failed; rolling back its whole group");
            let _ = conn.execute_batch("ROLLBACK");
            Err("rolled back with a failed write of the same group".to_owned())
        } else {
            flush_pending
                .map_or(Ok(()), |sql| conn.execute_batch(sql))
                .and_then(|()| conn.execute_batch("COMMIT"))
                .map_err(|e| {
                    tracing::error!(error = %e, "group commit failed");
                    let _ = conn.execute_batch("ROLLBACK");
                    e.to_string()
                })
        };
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
                .fetch_add(started.elapsed().as_nanos() as u64, Ordering::Relaxed);
        }
        for finish in finishes.drain(..) {
            finish(committed.clone());
        }
        restart.after_commit(&conn);
    }
}

#[cfg(test)]
#[path = "db_tests.rs"]
mod tests;
