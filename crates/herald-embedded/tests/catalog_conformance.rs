//! Runs the catalog conformance suite against the SQLite catalog.

use herald_embedded::catalog::{self, SqliteCatalog};
use herald_embedded::{Db, DbOptions, records};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_catalog_passes_the_conformance_suite() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(
        &dir.path().join("herald.db"),
        &[catalog::SCHEMA, records::SCHEMA],
        DbOptions {
            durable: false,
            ..Default::default()
        },
    )
    .unwrap();
    herald_ports::conformance::catalog::run_all(&SqliteCatalog::new(db)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn catalog_survives_reopening_the_database() {
    use herald_domain::{App, AppId};
    use herald_ports::Catalog;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("herald.db");
    let options = DbOptions {
        durable: false,
        ..Default::default()
    };
    let app = App {
        id: AppId::generate(),
        name: "persisted".into(),
        created_at: 5,
    };
    {
        let db = Db::open(&path, &[catalog::SCHEMA, records::SCHEMA], options.clone()).unwrap();
        SqliteCatalog::new(db).create_app(&app).await.unwrap();
    }
    let db = Db::open(&path, &[catalog::SCHEMA, records::SCHEMA], options).unwrap();
    assert_eq!(
        SqliteCatalog::new(db).get_app(&app.id).await.unwrap(),
        Some(app),
        "schema re-application is idempotent and rows persist"
    );
}
