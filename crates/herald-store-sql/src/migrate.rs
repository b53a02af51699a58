//! Versioned, idempotent schema migrations, one SQL file per version and database.
//!
//! `migrate` takes a database-wide lock (PostgreSQL advisory lock, MySQL `GET_LOCK`) so
//! several nodes starting at once apply each version exactly once, then runs every version
//! not yet recorded in `herald_schema_migrations`, in order. Statements are written
//! `CREATE … IF NOT EXISTS`, so a version interrupted half-way (MySQL commits each DDL
//! statement on its own) is simply run again. On PostgreSQL a version and its record commit
//! in one transaction.
//!
//! The SQL lives in `migrations/{postgres,mysql}/NNNN_name.sql`: the two dialects differ in
//! types (identity vs `AUTO_INCREMENT`, `BYTEA` vs `BLOB`, collations) and MySQL 8 has no
//! `CREATE INDEX IF NOT EXISTS`, so its indexes are declared inside `CREATE TABLE`.

use crate::db::{Dialect, SqlDb, db_err};
use herald_domain::time::now_ms;
use herald_ports::StoreError;
use sqlx_core::connection::Connection as _;
use sqlx_core::executor::Executor;
use sqlx_core::row::Row as _;

/// One schema version.
#[derive(Debug, Clone, Copy)]
pub struct Migration {
    pub version: i64,
    pub name: &'static str,
    postgres: &'static str,
    mysql: &'static str,
}

impl Migration {
    /// The version's SQL for a dialect.
    pub fn sql(&self, dialect: Dialect) -> &'static str {
        match dialect {
            Dialect::Postgres => self.postgres,
            Dialect::MySql => self.mysql,
        }
    }
}

/// Every version, oldest first. Append only: a released version is never edited.
pub const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        name: "catalog",
        postgres: include_str!("../migrations/postgres/0001_catalog.sql"),
        mysql: include_str!("../migrations/mysql/0001_catalog.sql"),
    },
    Migration {
        version: 2,
        name: "records",
        postgres: include_str!("../migrations/postgres/0002_records.sql"),
        mysql: include_str!("../migrations/mysql/0002_records.sql"),
    },
    Migration {
        version: 3,
        name: "intake",
        postgres: include_str!("../migrations/postgres/0003_intake.sql"),
        mysql: include_str!("../migrations/mysql/0003_intake.sql"),
    },
    Migration {
        version: 4,
        name: "shared",
        postgres: include_str!("../migrations/postgres/0004_shared.sql"),
        mysql: include_str!("../migrations/mysql/0004_shared.sql"),
    },
    Migration {
        version: 5,
        name: "inbox",
        postgres: include_str!("../migrations/postgres/0005_inbox.sql"),
        mysql: include_str!("../migrations/mysql/0005_inbox.sql"),
    },
];

const LEDGER_POSTGRES: &str = "CREATE TABLE IF NOT EXISTS herald_schema_migrations (
    version BIGINT PRIMARY KEY, name TEXT NOT NULL, applied_at BIGINT NOT NULL)";
const LEDGER_MYSQL: &str = "CREATE TABLE IF NOT EXISTS herald_schema_migrations (
    version BIGINT NOT NULL PRIMARY KEY, name VARCHAR(255) NOT NULL, applied_at BIGINT NOT NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin";

/// Arbitrary constant naming Herald's migration lock in PostgreSQL's advisory lock space.
const PG_LOCK_KEY: i64 = 0x4845_5241_4c44; // "HERALD"
/// How long a node waits for another node's migration before giving up.
const MYSQL_LOCK_WAIT_SECONDS: i64 = 120;

/// Brings the schema to the latest version; returns the versions applied by this call
/// (empty when it was already current). Boxed: see [`BoxFuture`](herald_ports::BoxFuture).
pub fn migrate(db: &SqlDb) -> herald_ports::BoxFuture<'_, Result<Vec<i64>, StoreError>> {
    Box::pin(bring_up_to_date(db))
}

async fn bring_up_to_date(db: &SqlDb) -> Result<Vec<i64>, StoreError> {
    match (db.postgres(), db.mysql()) {
        (Some(pool), _) => {
            let mut conn = pool.acquire().await.map_err(db_err("migrate: connect"))?;
            // Lock first: two concurrent `CREATE TABLE IF NOT EXISTS` can still collide on
            // PostgreSQL's catalog (23505) when nodes start together on a fresh database.
            sqlx_core::query::query::<sqlx_postgres::Postgres>("SELECT pg_advisory_lock($1)")
                .bind(PG_LOCK_KEY)
                .execute(&mut *conn)
                .await
                .map_err(db_err("migrate: lock"))?;
            let result = match conn.execute(LEDGER_POSTGRES).await {
                Ok(_) => migrate_postgres(&mut conn).await,
                Err(e) => Err(db_err("migrate: ledger")(e)),
            };
            let unlock =
                sqlx_core::query::query::<sqlx_postgres::Postgres>("SELECT pg_advisory_unlock($1)")
                    .bind(PG_LOCK_KEY)
                    .execute(&mut *conn)
                    .await;
            let applied = result?;
            unlock.map_err(db_err("migrate: unlock"))?;
            Ok(applied)
        }
        (None, Some(pool)) => {
            let mut conn = pool.acquire().await.map_err(db_err("migrate: connect"))?;
            conn.execute(LEDGER_MYSQL)
                .await
                .map_err(db_err("migrate: ledger"))?;
            let locked = sqlx_core::query::query::<sqlx_mysql::MySql>("SELECT GET_LOCK(?, ?)")
                .bind("herald_migrate")
                .bind(MYSQL_LOCK_WAIT_SECONDS)
                .fetch_one(&mut *conn)
                .await
                .map_err(db_err("migrate: lock"))?
                .try_get::<Option<i64>, _>(0)
                .map_err(db_err("migrate: lock"))?;
            if locked != Some(1) {
                return Err(StoreError::Unavailable(
                    "migrate: another node holds the migration lock".into(),
                ));
            }
            let result = migrate_mysql(&mut conn).await;
            let unlock = sqlx_core::query::query::<sqlx_mysql::MySql>("SELECT RELEASE_LOCK(?)")
                .bind("herald_migrate")
                .execute(&mut *conn)
                .await;
            let applied = result?;
            unlock.map_err(db_err("migrate: unlock"))?;
            Ok(applied)
        }
        (None, None) => unreachable!("a SqlDb is PostgreSQL or MySQL"),
    }
}

/// The versions recorded as applied, oldest first.
pub async fn applied_versions(db: &SqlDb) -> Result<Vec<i64>, StoreError> {
    let rows = db
        .fetch_all(
            "SELECT version FROM herald_schema_migrations ORDER BY version",
            Vec::new(),
        )
        .await
        .map_err(db_err("reading applied migrations"))?;
    rows.iter().map(|row| row.int(0)).collect()
}

async fn migrate_postgres(conn: &mut sqlx_postgres::PgConnection) -> Result<Vec<i64>, StoreError> {
    let done: Vec<i64> =
        sqlx_core::query_scalar::query_scalar("SELECT version FROM herald_schema_migrations")
            .fetch_all(&mut *conn)
            .await
            .map_err(db_err("migrate: read ledger"))?;
    let mut applied = Vec::new();
    for migration in MIGRATIONS.iter().filter(|m| !done.contains(&m.version)) {
        let mut tx = conn.begin().await.map_err(db_err("migrate: begin"))?;
        for statement in statements(migration.postgres) {
            tx.execute(statement.as_str())
                .await
                .map_err(migration_err(migration))?;
        }
        sqlx_core::query::query::<sqlx_postgres::Postgres>(
            "INSERT INTO herald_schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)",
        )
        .bind(migration.version)
        .bind(migration.name)
        .bind(now_ms())
        .execute(&mut *tx)
        .await
        .map_err(db_err("migrate: record version"))?;
        tx.commit().await.map_err(db_err("migrate: commit"))?;
        applied.push(migration.version);
    }
    Ok(applied)
}

async fn migrate_mysql(conn: &mut sqlx_mysql::MySqlConnection) -> Result<Vec<i64>, StoreError> {
    let done: Vec<i64> =
        sqlx_core::query_scalar::query_scalar("SELECT version FROM herald_schema_migrations")
            .fetch_all(&mut *conn)
            .await
            .map_err(db_err("migrate: read ledger"))?;
    let mut applied = Vec::new();
    for migration in MIGRATIONS.iter().filter(|m| !done.contains(&m.version)) {
        for statement in statements(migration.mysql) {
            conn.execute(statement.as_str())
                .await
                .map_err(migration_err(migration))?;
        }
        sqlx_core::query::query::<sqlx_mysql::MySql>(
            "INSERT IGNORE INTO herald_schema_migrations (version, name, applied_at) VALUES (?, ?, ?)",
        )
        .bind(migration.version)
        .bind(migration.name)
        .bind(now_ms())
        .execute(&mut *conn)
        .await
        .map_err(db_err("migrate: record version"))?;
        applied.push(migration.version);
    }
    Ok(applied)
}

fn migration_err(migration: &Migration) -> impl Fn(sqlx_core::error::Error) -> StoreError + '_ {
    move |e| {
        StoreError::backend(
            format!("migration {:04} {}", migration.version, migration.name),
            e,
        )
    }
}

/// The statements of a migration file: `--` comment lines dropped, split at `;` that end a
/// line.
fn statements(sql: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut current = String::new();
    for line in sql.lines() {
        let trimmed = line.trim();
        if trimmed.starts_with("--") || trimmed.is_empty() {
            continue;
        }
        current.push_str(line);
        current.push('\n');
        if trimmed.ends_with(';') {
            let statement = current.trim().trim_end_matches(';').trim().to_owned();
            if !statement.is_empty() {
                out.push(statement);
            }
            current.clear();
        }
    }
    if !current.trim().is_empty() {
        out.push(current.trim().to_owned());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn migration_files_split_into_statements() {
        let sql = "-- a comment; with a semicolon\nCREATE TABLE a (x INT);\n\nCREATE INDEX i\n  ON a (x);\n";
        assert_eq!(
            statements(sql),
            ["CREATE TABLE a (x INT)", "CREATE INDEX i\n  ON a (x)"]
        );
    }

    #[test]
    fn versions_are_numbered_in_order_and_both_dialects_have_sql() {
        for (i, migration) in MIGRATIONS.iter().enumerate() {
            assert_eq!(migration.version, i as i64 + 1);
            assert!(!statements(migration.sql(Dialect::Postgres)).is_empty());
            assert!(!statements(migration.sql(Dialect::MySql)).is_empty());
        }
    }
}
