//! The indexer: moves journaled accepts into `herald.db`, and recovery at open.
//!
//! One task takes every unindexed accept waiting in memory (up to [`MAX_INDEX_DELIVERIES`]
//! deliveries), writes their records and send tasks in one queue write — so the tasks
//! become receivable when that commit is durable — together with the new `journal_indexed`
//! mark, then forgets them and deletes their journal rows. While a transaction is in
//! flight the next accepts gather, so the batch grows with the load. When it reaches
//! accepts that are not in memory — spilled ones, or ones whose transaction failed — it
//! reads the next stretch of them back from `journal.db` first. A failed transaction is
//! logged and retried after a pause (growing to 5 s). A row that cannot be read back is
//! set aside (`set_aside`), so one bad row does not stop every accept behind it.

use super::pending::{self, JournalOptions, PendingSet, Room};
use super::{Entry, Journal, Pending};
use crate::queue::EmbeddedQueue;
use crate::queue::schema::encode;
use crate::records;
use herald_ports::{StoreError, Topic};
use rusqlite::{Connection, OpenFlags, OptionalExtension};
use std::path::Path;
use std::sync::{Arc, Weak};
use std::time::Duration;
use tokio::sync::Notify;

/// Most deliveries one indexing transaction carries (a bulk job for the writer).
const MAX_INDEX_DELIVERIES: u64 = 4096;

/// One accept's share of an indexing transaction, with its journal `seq`.
type Work = (i64, Arc<Vec<herald_domain::Message>>, pending::Work);

/// What the indexer does next.
enum Next {
    /// Write these accepts (the last one's `seq` first).
    Index(i64, Vec<Work>),
    /// Read the accepts with `first <= seq <= last` back from the journal.
    Load(i64, i64),
}

/// Starts the indexer of `journal` on the current runtime, unless it runs already. It holds
/// both weakly and stops once either is dropped.
pub(crate) fn spawn(journal: &Arc<Journal>, queue: &Arc<EmbeddedQueue>) {
    if journal
        .indexing
        .swap(true, std::sync::atomic::Ordering::AcqRel)
    {
        return;
    }
    let wake = journal.appended.clone();
    tokio::spawn(run(Arc::downgrade(journal), Arc::downgrade(queue), wake));
}

async fn run(journal: Weak<Journal>, queue: Weak<EmbeddedQueue>, wake: Arc<Notify>) {
    let mut pause = Duration::from_millis(50);
    loop {
        let Some((journal, queue, next)) = next_work(&journal, &queue, &wake).await else {
            return;
        };
        let (last, work) = match next {
            Next::Index(last, work) => (last, work),
            Next::Load(first, last) => {
                if let Err(e) = load(&journal, first, last).await {
                    tracing::error!(error = %herald_ports::error::error_chain(&e), "reading the journal back");
                    tokio::time::sleep(pause).await;
                    pause = (pause * 2).min(Duration::from_secs(5));
                }
                continue;
            }
        };
        // The queue's rows hold the tasks as JSON: encoded here, off the writer thread (the
        // shared bottleneck) and off the async workers. On failure the accepts stay pending
        // and are read back from the journal.
        let encoded = tokio::task::spawn_blocking(move || {
            work.into_iter()
                .map(|(seq, messages, work)| {
                    let tasks = work.into_tasks(&messages);
                    let payloads = tasks.iter().map(encode).collect::<Result<Vec<_>, _>>()?;
                    Ok((seq, messages, tasks, payloads))
                })
                .collect::<Result<Vec<_>, StoreError>>()
        })
        .await
        .map_err(|e| StoreError::backend("encoding tasks panicked", e))
        .and_then(|encoded| encoded);
        let work = match encoded {
            Ok(work) => work,
            Err(e) => {
                tracing::error!(error = %herald_ports::error::error_chain(&e), "encoding journaled tasks");
                tokio::time::sleep(pause).await;
                pause = (pause * 2).min(Duration::from_secs(5));
                continue;
            }
        };
        let items = work.iter().map(|(_, _, tasks, _)| tasks.len() as u64).sum();
        let written = queue
            .write(items, move |conn, tx| {
                // Accepts at or below the stored mark are already indexed (a commit reported
                // failed that landed, or another backend on this file): skip, never twice.
                let mark = indexed_mark(conn)?;
                for (seq, messages, tasks, payloads) in work {
                    if seq <= mark {
                        continue;
                    }
                    records::insert_accepted(conn, &messages)?;
                    tx.insert_encoded(conn, Topic::Send, tasks, payloads)?;
                }
                conn.prepare_cached(
                    "INSERT INTO journal_indexed (one, seq) VALUES (1, ?1) \
                     ON CONFLICT (one) DO UPDATE SET seq = excluded.seq",
                )
                .and_then(|mut store| store.execute([last.max(mark)]))
                .map_err(|e| StoreError::backend("recording the journal's indexed mark", e))?;
                Ok(())
            })
            .await;
        match written {
            Ok(()) => {
                pause = Duration::from_millis(50);
                journal.mark_indexed(last);
                let journal = journal.clone();
                tokio::spawn(async move {
                    // In a savepoint of its own: a failed trim must not fail the accepts
                    // that share its commit.
                    let deleted = journal
                        .db
                        .write(0, move |conn| {
                            conn.prepare_cached("DELETE FROM journal WHERE seq <= ?1")
                                .and_then(|mut delete| delete.execute([last]))
                                .map_err(|e| StoreError::backend("trimming the journal", e))
                        })
                        .await;
                    match deleted {
                        Ok(_) => journal.shrink().await,
                        // Harmless: rows at or below the mark are skipped and deleted later.
                        Err(e) => {
                            tracing::warn!(error = %herald_ports::error::error_chain(&e), "trimming the journal")
                        }
                    }
                });
            }
            Err(e) => {
                // The accepts stay pending without their tasks: the next round reads them
                // back from the journal.
                tracing::error!(
                    error = %herald_ports::error::error_chain(&e),
                    retry_in_ms = pause.as_millis() as u64,
                    "indexing journaled accepts failed; they stay pending"
                );
                tokio::time::sleep(pause).await;
                pause = (pause * 2).min(Duration::from_secs(5));
            }
        }
    }
}

/// Waits for pending accepts and takes the work of as many as fit in one transaction, or
/// says which to read back first; `None` once the journal or the queue is gone.
async fn next_work(
    journal: &Weak<Journal>,
    queue: &Weak<EmbeddedQueue>,
    wake: &Notify,
) -> Option<(Arc<Journal>, Arc<EmbeddedQueue>, Next)> {
    loop {
        let appended = wake.notified();
        tokio::pin!(appended);
        appended.as_mut().enable();
        {
            let journal = journal.upgrade()?;
            let queue = queue.upgrade()?;
            let next = take_work(&mut journal.pending.lock());
            if let Some(next) = next {
                return Some((journal, queue, next));
            }
        }
        // Wake now and then to notice a dropped backend.
        let _ = tokio::time::timeout(Duration::from_secs(1), appended).await;
    }
}

/// The in-memory prefix of the pending accepts (up to [`MAX_INDEX_DELIVERIES`]), or, when
/// the first pending accept is not in memory, the stretch of them to read back.
fn take_work(set: &mut PendingSet) -> Option<Next> {
    let first = set.batches.front()?;
    if first.work.is_none() {
        let mut taken = 0u64;
        let mut last = first.seq;
        for batch in set.batches.iter() {
            if batch.work.is_some()
                || (taken > 0 && taken + batch.deliveries > MAX_INDEX_DELIVERIES)
            {
                break;
            }
            taken += batch.deliveries;
            last = batch.seq;
        }
        return Some(Next::Load(first.seq, last));
    }
    let (mut taken, mut last, mut work) = (0u64, 0i64, Vec::new());
    for batch in set.batches.iter_mut() {
        if !work.is_empty() && taken + batch.deliveries > MAX_INDEX_DELIVERIES {
            break;
        }
        let (Some(messages), Some(tasks)) = (&batch.messages, batch.work.take()) else {
            break;
        };
        taken += batch.deliveries;
        last = batch.seq;
        work.push((batch.seq, messages.clone(), tasks));
    }
    Some(Next::Index(last, work))
}

impl Journal {
    /// The accepts up to `seq` are in `herald.db`: forget them, wake waiting reads and accepts.
    fn mark_indexed(&self, seq: i64) {
        let freed = {
            let mut set = self.pending.lock();
            let freed = set.indexed(seq);
            self.settled(&set, seq);
            freed
        };
        self.free(freed);
    }
}

/// The highest journal `seq` already indexed, as stored in `herald.db` (0 before any).
fn indexed_mark(conn: &Connection) -> Result<i64, StoreError> {
    conn.prepare_cached("SELECT seq FROM journal_indexed WHERE one = 1")
        .and_then(|mut select| select.query_row([], |row| row.get(0)).optional())
        .map(|mark| mark.unwrap_or(0))
        .map_err(|e| StoreError::backend("reading the journal's indexed mark", e))
}

/// Reads the pending accepts with `first <= seq <= last` back from the journal into memory.
/// A row that cannot be decoded, or a pending accept whose row is gone, is set aside
/// ([`Journal::set_aside`]) rather than read again forever.
async fn load(journal: &Arc<Journal>, first: i64, last: i64) -> Result<(), StoreError> {
    let rows = journal
        .db
        .read(move |conn| read_rows(conn, first - 1, Some(last)))
        .await?;
    let mut unreadable = Vec::new();
    let missing = {
        let mut set = journal.pending.lock();
        for row in rows {
            match row.entry {
                Ok(entry) => {
                    let (messages, tasks) = entry.into_parts();
                    set.load(row.seq, messages, tasks);
                }
                Err(error) => unreadable.push((row.seq, error)),
            }
        }
        set.without_work(first, last)
            .into_iter()
            .filter(|seq| !unreadable.iter().any(|(bad, _)| bad == seq))
            .collect::<Vec<_>>()
    };
    for (seq, error) in unreadable {
        journal.set_aside(seq, Some(error)).await?;
    }
    for seq in missing {
        journal.set_aside(seq, None).await?;
    }
    Ok(())
}

/// One journal row as read back: its `seq`, size in bytes, and the entry or why it could
/// not be decoded.
pub(super) struct Row {
    pub seq: i64,
    pub bytes: usize,
    pub entry: Result<Entry, String>,
}

/// Journal rows with `after < seq <= until`, in `seq` order. A row that does not decode is
/// returned with its error, not as the whole read's failure: one bad row must not hide
/// the others.
pub(super) fn read_rows(
    conn: &Connection,
    after: i64,
    until: Option<i64>,
) -> Result<Vec<Row>, StoreError> {
    let mut select = conn
        .prepare_cached("SELECT seq, entry FROM journal WHERE seq > ?1 AND seq <= ?2 ORDER BY seq")
        .map_err(|e| StoreError::backend("reading the journal", e))?;
    let rows = select
        .query_map([after, until.unwrap_or(i64::MAX)], |row| {
            Ok((row.get::<_, i64>(0)?, row.get::<_, Vec<u8>>(1)?))
        })
        .map_err(|e| StoreError::backend("reading the journal", e))?;
    let mut entries = Vec::new();
    for row in rows {
        let (seq, bytes) = row.map_err(|e| StoreError::backend("reading the journal", e))?;
        let entry = super::row::decode(&bytes)
            .map_err(|e| format!("journal entry {seq} does not decode: {e}"));
        entries.push(Row {
            seq,
            bytes: bytes.len(),
            entry,
        });
    }
    Ok(entries)
}

/// At open: the indexed mark in `herald.db` and the journal's rows past it, as pending
/// accepts (in `seq` order) for the indexer to write again; past the memory budget they are
/// spilled like new accepts. Both databases must exist with their schemas; the writers may
/// already run (these are plain reads).
pub(crate) fn recover(
    main: &Path,
    journal: &Path,
    options: &JournalOptions,
) -> Result<(i64, PendingSet), StoreError> {
    let open = |path: &Path| {
        Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_ONLY)
            .map_err(|e| StoreError::backend(format!("opening {}", path.display()), e))
    };
    let indexed: i64 = open(main)?
        .query_row("SELECT seq FROM journal_indexed WHERE one = 1", [], |row| {
            row.get(0)
        })
        .optional()
        .map_err(|e| StoreError::backend("reading the journal's indexed mark", e))?
        .unwrap_or(0);
    let mut recovered = PendingSet::default();
    let (mut undecodable, mut undecodable_rows) = (None, 0usize);
    // Row by row, so a long backlog is never decoded into memory at once.
    let conn = open(journal)?;
    let mut seqs = conn
        .prepare("SELECT seq FROM journal WHERE seq > ?1 ORDER BY seq")
        .and_then(|mut select| {
            select
                .query_map([indexed], |row| row.get::<_, i64>(0))?
                .collect::<Result<Vec<_>, _>>()
        })
        .map_err(|e| StoreError::backend("reading the journal", e))?;
    for seq in seqs.drain(..) {
        for row in read_rows(&conn, seq - 1, Some(seq))? {
            let pending = match row.entry {
                Ok(entry) => {
                    let deliveries = entry.deliveries();
                    let room = Room::of(row.bytes, entry.messages.len(), options);
                    let message_ids = entry.messages.iter().map(|m| m.id.clone()).collect();
                    let (messages, work) =
                        if recovered.spills(deliveries, options.memory_deliveries) {
                            (None, None)
                        } else {
                            let (messages, tasks) = entry.into_parts();
                            (Some(Arc::new(messages)), Some(tasks))
                        };
                    Pending {
                        seq,
                        message_ids,
                        deliveries,
                        room,
                        messages,
                        work,
                    }
                }
                // Kept as a spilled accept of nothing: the indexer reads it again and sets
                // it aside, so one bad row neither fails the open nor stops indexing.
                Err(error) => {
                    undecodable.get_or_insert((seq, error));
                    undecodable_rows += 1;
                    Pending {
                        seq,
                        message_ids: Box::new([]),
                        deliveries: 0,
                        room: Room::of(row.bytes, 0, options),
                        messages: None,
                        work: None,
                    }
                }
            };
            recovered.push(pending, options.memory_deliveries);
        }
    }
    // A few bad rows among good ones are damage: set aside. Most of a backlog not decoding
    // is a format this version does not read (a downgrade with a backlog): setting it all
    // aside would drop every one of those accepts, so the open fails and says so.
    if let Some((seq, error)) = undecodable {
        let rows = recovered.batches.len();
        if undecodable_rows > 1 && undecodable_rows * 2 > rows {
            return Err(StoreError::Corrupt(format!(
                "{undecodable_rows} of the {rows} unindexed accepts in {} do not decode (the \
                 first, seq {seq}: {error}); were they written by a newer version of Herald? \
                 Start that version to index them. To give them up instead, move them into \
                 the journal_unreadable table (docs/decisions/0018-journal-absorbs-bursts.md)",
                journal.display()
            )));
        }
        tracing::warn!(
            rows = undecodable_rows,
            first = seq,
            "unindexed accepts in the journal do not decode; they will be set aside"
        );
    }
    // A `seq` is never reused, also not one whose row was set aside (`set_aside`).
    let set_aside: Option<i64> = conn
        .query_row("SELECT max(seq) FROM journal_unreadable", [], |row| {
            row.get(0)
        })
        .map_err(|e| StoreError::backend("reading the journal", e))?;
    recovered.appended = recovered.appended.max(set_aside.unwrap_or(0));
    if !recovered.batches.is_empty() {
        tracing::info!(
            accepts = recovered.batches.len(),
            spilled = recovered.spilled,
            after = indexed,
            "indexing journaled accepts left by the previous run"
        );
    }
    Ok((indexed, recovered))
}
