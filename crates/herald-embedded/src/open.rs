//! [`Embedded`]: the whole embedded backend opened from one data directory.
//!
//! Catalog, records, idempotency and queue live in one SQLite file, `herald.db`, so an
//! idempotent accept (records + tasks + idempotency entry) and the dispatcher's step (ack +
//! result event) each commit in one transaction. Accepts without a key are journaled in
//! `journal.db` first and indexed into `herald.db` in batches (`journal`). This is the one
//! place that knows every schema.

use crate::catalog::{self, SqliteCatalog};
use crate::db::{Db, DbOptions};
use crate::inbox::{self, SqliteInbox};
use crate::intake::{self, EmbeddedIntake};
use crate::journal::{self, Journal, JournalOptions};
use crate::queue::{self, EmbeddedQueue, QueueOptions};
use crate::records::{self, SqliteRecords};
use herald_ports::StoreError;
use std::path::Path;
use std::sync::Arc;

/// Tuning of the embedded backend.
#[derive(Debug, Clone, Default)]
pub struct EmbeddedOptions {
    pub db: DbOptions,
    pub queue: QueueOptions,
    /// How far accepts may run ahead of their indexing.
    pub journal: JournalOptions,
    /// Leaves journaled accepts unindexed (tests of recovery and of reads before indexing).
    pub pause_indexer: bool,
}

/// Every port of the embedded backend, sharing one database (and the accept journal).
#[derive(Clone)]
pub struct Embedded {
    /// The shared database (its commit stats feed `/metrics`).
    pub db: Db,
    pub catalog: Arc<SqliteCatalog>,
    pub records: Arc<SqliteRecords>,
    pub queue: Arc<EmbeddedQueue>,
    pub intake: Arc<EmbeddedIntake>,
    /// Accepts as journaled, before the indexer writes them into `herald.db`.
    pub journal: Arc<Journal>,
    /// Dispatcher results and queue acks in one transaction.
    pub settle: Arc<crate::settle::EmbeddedSettle>,
    /// In-site messages per end user (the inbox channel's storage).
    pub inbox: Arc<SqliteInbox>,
}

impl Embedded {
    /// The database file inside the data directory.
    pub const FILE_NAME: &'static str = "herald.db";
    /// The accept journal inside the data directory (see `journal`).
    pub const JOURNAL_FILE_NAME: &'static str = "journal.db";

    /// Creates `dir` if needed, opens `dir/herald.db` with every schema and builds the ports.
    /// The queue starts loading the tasks a previous run left (see
    /// [`EmbeddedQueue::loaded`]). Must be called inside a tokio runtime.
    pub fn open(dir: &Path, options: EmbeddedOptions) -> Result<Self, StoreError> {
        std::fs::create_dir_all(dir)
            .map_err(|e| StoreError::backend(format!("creating {}", dir.display()), e))?;
        let db = Db::open(
            &dir.join(Self::FILE_NAME),
            &[
                catalog::SCHEMA,
                records::SCHEMA,
                queue::SCHEMA,
                intake::SCHEMA,
                inbox::SCHEMA,
                journal::INDEXED_SCHEMA,
            ],
            options.db.clone(),
        )?;
        let journal_path = dir.join(Self::JOURNAL_FILE_NAME);
        journal::file::create_file(&journal_path)?;
        // The journal's hot pages are few (rows are appended, and deleted once indexed);
        // rows are read back only when spilled or after a failure: small caches, two readers.
        let journal_db = Db::open(
            &journal_path,
            &[journal::SCHEMA],
            DbOptions {
                writer_cache_kib: 2_000,
                read_pool: 2,
                ..options.db
            },
        )?;
        let (indexed, recovered) =
            journal::recover(&dir.join(Self::FILE_NAME), &journal_path, &options.journal)?;
        let journal = Arc::new(Journal::new(
            journal_db,
            indexed,
            recovered,
            options.journal,
        ));
        let queue = Arc::new(EmbeddedQueue::new(db.clone(), options.queue));
        queue.wait_for_journal(journal.clone());
        if !options.pause_indexer {
            journal::spawn_indexer(&journal, &queue);
        }
        let records = SqliteRecords::new(db.clone()).with_journal(journal.clone());
        let settle = crate::settle::EmbeddedSettle::new(queue.clone(), records.vocab());
        Ok(Self {
            catalog: Arc::new(SqliteCatalog::new(db.clone())),
            records: Arc::new(records),
            intake: Arc::new(EmbeddedIntake::new(
                db.clone(),
                queue.clone(),
                journal.clone(),
            )),
            journal,
            settle: Arc::new(settle),
            inbox: Arc::new(SqliteInbox::new(db.clone())),
            queue,
            db,
        })
    }

    /// Starts the indexer of a backend opened with [`EmbeddedOptions::pause_indexer`] (tests
    /// that change `journal.db` between the open and the indexing); does nothing when it
    /// runs already.
    pub fn start_indexer(&self) {
        journal::spawn_indexer(&self.journal, &self.queue);
    }
}
