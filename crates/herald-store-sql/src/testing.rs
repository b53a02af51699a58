//! Test support: a fresh, migrated database per test on a real engine, found through an
//! environment variable, so runs never collide and leave nothing behind.
//!
//! `HERALD_TEST_POSTGRES_URL` (e.g. `postgres://postgres@127.0.0.1:5432/test`) and
//! `HERALD_TEST_MYSQL_URL` (e.g. `mysql://root@127.0.0.1:3306/test`) name a server and a
//! database to connect to first; each [`TempDatabase`] creates `herald_test_<unique>` beside
//! it and drops it in [`TempDatabase::drop`]. When the variable is unset a test skips with a
//! message — unless `CI=true`, where a missing engine must fail the run instead of passing
//! silently.

use crate::db::{Dialect, SqlDb, SqlOptions};
use crate::migrate::migrate;
use sqlx_core::connection::Connection;
use sqlx_core::executor::Executor;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

/// The variable naming the PostgreSQL server for tests.
pub const POSTGRES_URL_VAR: &str = "HERALD_TEST_POSTGRES_URL";
/// The variable naming the MySQL/MariaDB server for tests.
pub const MYSQL_URL_VAR: &str = "HERALD_TEST_MYSQL_URL";

/// The URL in `var`, or `None` (after saying so) when the test should skip.
///
/// # Panics
/// When the variable is unset and `CI=true`: CI must never pass without its engines.
pub fn engine_url(var: &str) -> Option<String> {
    match std::env::var(var) {
        Ok(url) if !url.trim().is_empty() => Some(url),
        _ if std::env::var("CI").is_ok_and(|ci| ci == "true") => {
            panic!("{var} is not set and CI=true: this engine's tests must run in CI")
        }
        _ => {
            eprintln!("skipped: set {var} to run this test against a real engine");
            None
        }
    }
}

/// A database created for one test, migrated to the latest version.
pub struct TempDatabase {
    /// A pool on the new database.
    pub db: SqlDb,
    /// Its URL, for a second pool (a "second node").
    pub url: String,
    /// The server URL the test was given (to drop the database from).
    admin_url: String,
    /// `herald_test_<pid>_<time>_<n>`.
    name: String,
}

impl TempDatabase {
    /// Creates and migrates a fresh database on the server in `var`; `None` when the test
    /// should skip (see [`engine_url`]).
    ///
    /// # Panics
    /// When the server cannot be reached or the database cannot be created: a test with an
    /// engine configured must not skip.
    pub async fn create(var: &str) -> Option<Self> {
        let admin_url = engine_url(var)?;
        let name = unique_name();
        let dialect = SqlDb::dialect_of(&admin_url).expect("a postgres:// or mysql:// URL");
        let create = match dialect {
            Dialect::Postgres => format!("CREATE DATABASE {name}"),
            Dialect::MySql => {
                format!("CREATE DATABASE {name} CHARACTER SET utf8mb4 COLLATE utf8mb4_bin")
            }
        };
        run_admin(&admin_url, dialect, &create).await;
        let url = with_database(&admin_url, &name);
        let db = SqlDb::connect(&url, &SqlOptions::default())
            .await
            .unwrap_or_else(|e| panic!("connecting to {url}: {e}"));
        migrate(&db)
            .await
            .unwrap_or_else(|e| panic!("migrating {url}: {e:?}"));
        Some(Self {
            db,
            url,
            admin_url,
            name,
        })
    }

    /// Closes the pool and drops the database.
    pub async fn drop(self) {
        self.db.close().await;
        let dialect = self.db.dialect();
        let drop = match dialect {
            Dialect::Postgres => format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name),
            Dialect::MySql => format!("DROP DATABASE IF EXISTS {}", self.name),
        };
        run_admin(&self.admin_url, dialect, &drop).await;
    }
}

async fn run_admin(url: &str, dialect: Dialect, sql: &str) {
    let fail = |e: sqlx_core::error::Error| -> ! { panic!("{sql} on {url}: {e}") };
    match dialect {
        Dialect::Postgres => {
            let mut conn = sqlx_postgres::PgConnection::connect(url)
                .await
                .unwrap_or_else(|e| fail(e));
            conn.execute(sql).await.unwrap_or_else(|e| fail(e));
            let _ = conn.close().await;
        }
        Dialect::MySql => {
            let url = url.replacen("mariadb://", "mysql://", 1);
            let mut conn = sqlx_mysql::MySqlConnection::connect(&url)
                .await
                .unwrap_or_else(|e| fail(e));
            conn.execute(sql).await.unwrap_or_else(|e| fail(e));
            let _ = conn.close().await;
        }
    }
}

fn unique_name() -> String {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let micros = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_micros())
        .unwrap_or_default();
    format!(
        "herald_test_{}_{micros}_{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    )
}

/// `url` with its database path replaced by `database` (query string kept).
pub fn with_database(url: &str, database: &str) -> String {
    let (scheme, rest) = url.split_once("://").unwrap_or(("", url));
    let (before_query, query) = match rest.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (rest, None),
    };
    let authority = before_query.split('/').next().unwrap_or(before_query);
    let mut out = format!("{scheme}://{authority}/{database}");
    if let Some(query) = query {
        out.push('?');
        out.push_str(query);
    }
    out
}

/// Runs one statement (for tests that change what is stored underneath a store).
pub async fn execute(db: &SqlDb, sql: &str) -> u64 {
    db.execute(sql, Vec::new()).await.expect("test statement")
}

/// Runs `sql` and returns the first column of every row as text (for tests that look at
/// what is stored at rest).
pub async fn fetch_texts(db: &SqlDb, sql: &str) -> Vec<String> {
    let rows = db.fetch_all(sql, Vec::new()).await.expect("test query");
    rows.iter()
        .map(|r| r.text(0).expect("a text column"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn database_paths_are_replaced() {
        assert_eq!(
            with_database("postgres://postgres@127.0.0.1:5432/test", "x"),
            "postgres://postgres@127.0.0.1:5432/x"
        );
        assert_eq!(
            with_database("mysql://root@127.0.0.1:3306", "x"),
            "mysql://root@127.0.0.1:3306/x"
        );
        assert_eq!(
            with_database("postgres://h/test?sslmode=disable", "x"),
            "postgres://h/x?sslmode=disable"
        );
    }

    #[test]
    fn names_are_unique_and_plain_identifiers() {
        let (a, b) = (unique_name(), unique_name());
        assert_ne!(a, b);
        assert!(a.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'));
    }
}
