//! What every engine's test binary runs: the catalog and records conformance suites and
//! this crate's own checks, each test in a fresh database ([`engine_tests!`]).

pub mod fixtures;
pub mod inbox;
pub mod intake;
pub mod records;
pub mod shared;

use async_trait::async_trait;
use herald_domain::Message;
use herald_ports::conformance::records::RecordsHarness;
use herald_ports::{Records, StoreError};
use herald_store_sql::{SqlCatalog, SqlDb, SqlRecords};

/// Checks in `conformance::catalog::run_all`.
pub const CATALOG_CHECKS: usize = 7;
/// Checks in `conformance::records::run_all`.
pub const RECORDS_CHECKS: usize = 9;

/// Seeds records the way the intake writes them (the same insert, its own transaction).
pub struct Harness {
    pub records: SqlRecords,
}

#[async_trait]
impl RecordsHarness for Harness {
    fn records(&self) -> &dyn Records {
        &self.records
    }

    async fn seed(&self, messages: Vec<Message>) -> Result<(), StoreError> {
        self.records.record_accepted(&messages).await
    }
}

/// Runs both suites; returns how many conformance checks passed.
pub async fn run_conformance(db: &SqlDb) -> usize {
    herald_ports::conformance::catalog::run_all(&SqlCatalog::new(db.clone())).await;
    let harness = Harness {
        records: SqlRecords::new(db.clone()),
    };
    herald_ports::conformance::records::run_all(&harness).await;
    CATALOG_CHECKS + RECORDS_CHECKS
}

/// Migrating an up-to-date database, from two nodes at once, changes nothing.
pub async fn migrations_are_idempotent(db: &SqlDb, url: &str) {
    let other = SqlDb::connect(url, &herald_store_sql::SqlOptions::default())
        .await
        .unwrap();
    let (a, b) = tokio::join!(
        herald_store_sql::migrate(db),
        herald_store_sql::migrate(&other)
    );
    assert_eq!(a.unwrap(), Vec::<i64>::new(), "nothing left to apply");
    assert_eq!(b.unwrap(), Vec::<i64>::new());
    let expected: Vec<i64> = herald_store_sql::MIGRATIONS
        .iter()
        .map(|m| m.version)
        .collect();
    assert_eq!(
        herald_store_sql::migrate::applied_versions(db)
            .await
            .unwrap(),
        expected
    );
}

/// One `#[tokio::test]` per check, each on a fresh database of the engine in `$var`.
#[macro_export]
macro_rules! engine_tests {
    ($var:expr, $engine:literal) => {
        use herald_store_sql::testing::TempDatabase;

        macro_rules! on_fresh_db {
            ($name:ident, |$temp:ident| $body:expr) => {
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let Some($temp) = TempDatabase::create($var).await else {
                        return;
                    };
                    $body;
                    $temp.drop().await;
                }
            };
        }

        on_fresh_db!(conformance_suites, |temp| {
            let checks = common::run_conformance(&temp.db).await;
            println!("{}: {checks} conformance checks passed", $engine);
        });
        on_fresh_db!(migrations_are_idempotent, |temp| {
            common::migrations_are_idempotent(&temp.db, &temp.url).await
        });
        on_fresh_db!(search_semantics, |temp| {
            common::records::search_semantics(&temp.db).await
        });
        on_fresh_db!(receipt_lookups, |temp| {
            common::records::receipt_lookups(&temp.db).await
        });
        on_fresh_db!(concurrent_appliers, |temp| {
            common::records::concurrent_appliers(&temp.url).await
        });
        on_fresh_db!(accept_writes_records_and_outbox_rows, |temp| {
            common::intake::accept_writes_records_and_outbox_rows(&temp.db).await
        });
        on_fresh_db!(repeated_keys_write_nothing, |temp| {
            common::intake::repeated_keys_write_nothing(&temp.db).await
        });
        on_fresh_db!(racing_nodes_share_one_key, |temp| {
            common::intake::racing_nodes_share_one_key(&temp.url).await
        });
        on_fresh_db!(accepts_and_relay_claims_never_deadlock, |temp| {
            common::intake::accepts_and_relay_claims_never_deadlock(&temp.url).await
        });
        on_fresh_db!(settle_records_and_queues_together, |temp| {
            common::intake::settle_records_and_queues_together(&temp.db).await
        });
        on_fresh_db!(two_nodes_share_one_rate_limit, |temp| {
            common::shared::two_nodes_share_one_rate_limit(&temp.url).await
        });
        on_fresh_db!(a_survivor_takes_the_whole_limit, |temp| {
            common::shared::a_survivor_takes_the_whole_limit(&temp.url).await
        });
        // Current-thread runtime: the check's blocking stall must hold up the limiter.
        #[tokio::test]
        async fn a_stall_never_bursts_into_the_next_second() {
            let Some(temp) = TempDatabase::create($var).await else {
                return;
            };
            common::shared::a_stall_never_bursts_into_the_next_second(&temp.url).await;
            temp.drop().await;
        }
        on_fresh_db!(nodes_share_provider_tokens, |temp| {
            common::shared::nodes_share_provider_tokens(&temp.url).await
        });
        on_fresh_db!(inbox_on_shared_sql, |temp| {
            let checks = common::inbox::inbox_on_shared_sql(&temp.db, &temp.url).await;
            println!("{}: {checks} inbox checks passed", $engine);
        });
    };
}
