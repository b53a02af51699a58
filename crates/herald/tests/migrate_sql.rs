//! `herald migrate` against the SQL database of distributed mode (PostgreSQL here, from
//! `HERALD_TEST_POSTGRES_URL`; skipped without it, failing under `CI=true`): it applies what
//! is missing, reports an up-to-date schema, and names the setting when it cannot connect.

use herald_store_sql::testing::{POSTGRES_URL_VAR, TempDatabase};
use std::process::{Command, Output};

fn migrate(database_url: &str) -> Output {
    Command::new(env!("CARGO_BIN_EXE_herald"))
        .arg("migrate")
        .env_remove("HERALD_CONFIG")
        .env("HERALD_BACKEND__KIND", "distributed")
        .env("HERALD_BACKEND__DATABASE_URL", database_url)
        .env("HERALD_BACKEND__NATS_URL", "nats://127.0.0.1:4222")
        .env("HERALD_SECURITY__ADMIN_KEY", "migrate-test-admin-key")
        .env(
            "HERALD_SECURITY__MASTER_KEY",
            "bWlncmF0ZS10ZXN0LW1hc3Rlci1rZXktMzItYnl0ZXM=",
        )
        .output()
        .expect("run herald migrate")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn migrate_brings_the_sql_schema_up_to_date() {
    let Some(database) = TempDatabase::create(POSTGRES_URL_VAR).await else {
        return;
    };
    let latest = herald_store_sql::MIGRATIONS.last().unwrap().version;
    // A fresh database has every version (TempDatabase migrates): nothing left to apply.
    let out = migrate(&database.url);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{out:?}");
    assert!(
        stdout.contains(&format!("up to date (version {latest})")),
        "{stdout}"
    );
    // Forget the last version: migrate applies it again (statements are idempotent).
    herald_store_sql::testing::execute(
        &database.db,
        &format!("DELETE FROM herald_schema_migrations WHERE version = {latest}"),
    )
    .await;
    let out = migrate(&database.url);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{out:?}");
    assert!(
        stdout.contains(&format!("applied schema versions [{latest}]")),
        "{stdout}"
    );
    database.drop().await;

    let out = migrate("postgres://nobody@127.0.0.1:1/none");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(stderr.contains("backend.database_url"), "{stderr}");
}
