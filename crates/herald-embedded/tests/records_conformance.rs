//! Runs the records conformance suite against the SQLite records store, seeding accepted
//! messages through `SqliteRecords::record_accepted` (the same insert the intake runs).

use async_trait::async_trait;
use herald_domain::Message;
use herald_embedded::records::{self, SqliteRecords};
use herald_embedded::{Db, DbOptions, catalog};
use herald_ports::conformance::records::{RecordsHarness, run_all};
use herald_ports::{Records, StoreError};

struct Harness {
    records: SqliteRecords,
}

#[async_trait]
impl RecordsHarness for Harness {
    fn records(&self) -> &dyn Records {
        &self.records
    }

    async fn seed(&self, messages: Vec<Message>) -> Result<(), StoreError> {
        self.records.record_accepted(messages).await
    }
}

fn open(dir: &tempfile::TempDir) -> Db {
    Db::open(
        &dir.path().join("herald.db"),
        &[catalog::SCHEMA, records::SCHEMA],
        DbOptions {
            durable: false,
            ..Default::default()
        },
    )
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_records_pass_the_conformance_suite() {
    let dir = tempfile::tempdir().unwrap();
    let harness = Harness {
        records: SqliteRecords::new(open(&dir)),
    };
    run_all(&harness).await;
}
