//! Runs the inbox conformance suite against the SQLite inbox, alone and inside the full
//! embedded backend (whose schema list must include the inbox's).

use herald_embedded::inbox::{self, SqliteInbox};
use herald_embedded::{Db, DbOptions, Embedded, EmbeddedOptions};

fn test_options() -> DbOptions {
    DbOptions {
        durable: false,
        ..Default::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_inbox_passes_the_conformance_suite() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(
        &dir.path().join("herald.db"),
        &[inbox::SCHEMA],
        test_options(),
    )
    .unwrap();
    herald_ports::conformance::inbox::run_all(&SqliteInbox::new(db)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_embedded_backend_opens_with_an_inbox() {
    let dir = tempfile::tempdir().unwrap();
    let store = Embedded::open(
        dir.path(),
        EmbeddedOptions {
            db: test_options(),
            ..Default::default()
        },
    )
    .unwrap();
    herald_ports::conformance::inbox::run_all(store.inbox.as_ref()).await;
}
