//! One handle over PostgreSQL or MySQL/MariaDB, chosen by the URL at run time.
//!
//! The stores are written once against this module instead of against two sqlx drivers:
//! statements are spelled with `?` placeholders (rewritten to `$1, $2, …` for PostgreSQL),
//! parameters are the few value kinds Herald stores ([`Param`]), and rows are read back by
//! column index ([`Row`]). Where the two databases need different SQL, callers branch on
//! [`Dialect`]. sqlx's own `Any` driver was not used: it cannot decode MySQL `TEXT` columns
//! (they arrive as BLOB) nor `TINYINT`, and sends `?` to PostgreSQL unchanged.

mod binlog;
mod param;
pub(crate) mod retry;
mod row;

pub(crate) use param::{Param, marks, params};
pub(crate) use row::Row;

use herald_ports::StoreError;
use sqlx_core::error::{Error as SqlxError, ErrorKind};
use sqlx_core::executor::Executor;
use sqlx_core::pool::PoolOptions;
use sqlx_core::transaction::Transaction;
use sqlx_mysql::{MySql, MySqlPool};
use sqlx_postgres::{PgPool, Postgres};
use std::borrow::Cow;
use std::time::Duration;

/// Which SQL the database speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    Postgres,
    /// MySQL 8 or MariaDB 10.6+.
    MySql,
}

/// Pool settings.
#[derive(Debug, Clone)]
pub struct SqlOptions {
    /// Connections the pool may open.
    pub max_connections: u32,
    /// How long a caller waits for a free connection before `Unavailable`.
    pub acquire_timeout: Duration,
}

impl Default for SqlOptions {
    fn default() -> Self {
        Self {
            max_connections: 16,
            acquire_timeout: Duration::from_secs(10),
        }
    }
}

/// A pooled database, PostgreSQL or MySQL/MariaDB. Cheap to clone (the pool is shared).
#[derive(Clone, Debug)]
pub struct SqlDb {
    /// The driver's pool; one variant per dialect.
    pool: Pool,
}

#[derive(Clone, Debug)]
enum Pool {
    Postgres(PgPool),
    MySql(MySqlPool),
}

impl SqlDb {
    /// Connects to `postgres://…` / `postgresql://…` or `mysql://…` / `mariadb://…` (boxed:
    /// see [`BoxFuture`](herald_ports::BoxFuture); sqlx's pool is compiled here).
    pub fn connect<'a>(
        url: &'a str,
        options: &'a SqlOptions,
    ) -> herald_ports::BoxFuture<'a, Result<Self, StoreError>> {
        Box::pin(Self::open_pool(url, options))
    }

    async fn open_pool(url: &str, options: &SqlOptions) -> Result<Self, StoreError> {
        let dialect = Self::dialect_of(url)?;
        let unavailable = |e: SqlxError| StoreError::Unavailable(format!("connecting: {e}"));
        let pool = match dialect {
            Dialect::Postgres => Pool::Postgres(
                PoolOptions::<Postgres>::new()
                    .max_connections(options.max_connections)
                    .acquire_timeout(options.acquire_timeout)
                    .connect(url)
                    .await
                    .map_err(unavailable)?,
            ),
            Dialect::MySql => {
                let url = url.replacen("mariadb://", "mysql://", 1);
                Pool::MySql(
                    PoolOptions::<MySql>::new()
                        .max_connections(options.max_connections)
                        .acquire_timeout(options.acquire_timeout)
                        // The stores are written for PostgreSQL's isolation level (each
                        // statement sees what committed before it). InnoDB's default,
                        // REPEATABLE READ, adds gap locks to locking scans, and the relay's
                        // claim scan then deadlocked (1213) with concurrent outbox inserts.
                        .after_connect(|conn, _meta| {
                            Box::pin(async move {
                                conn.execute(
                                    "SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED",
                                )
                                .await
                                .map(|_| ())
                            })
                        })
                        .connect(&url)
                        .await
                        .map_err(unavailable)?,
                )
            }
        };
        if let Pool::MySql(pool) = &pool {
            binlog::check(pool).await?;
        }
        Ok(Self { pool })
    }

    /// The dialect a URL names, by its scheme.
    pub fn dialect_of(url: &str) -> Result<Dialect, StoreError> {
        let scheme = url.split("://").next().unwrap_or_default();
        match scheme {
            "postgres" | "postgresql" => Ok(Dialect::Postgres),
            "mysql" | "mariadb" => Ok(Dialect::MySql),
            _ => Err(StoreError::InvalidInput(format!(
                "unsupported database URL scheme {scheme:?} (postgres, mysql or mariadb)"
            ))),
        }
    }

    pub fn dialect(&self) -> Dialect {
        match self.pool {
            Pool::Postgres(_) => Dialect::Postgres,
            Pool::MySql(_) => Dialect::MySql,
        }
    }

    /// The PostgreSQL pool, when this is PostgreSQL (for session-level work like locks).
    pub fn postgres(&self) -> Option<&PgPool> {
        match &self.pool {
            Pool::Postgres(pool) => Some(pool),
            Pool::MySql(_) => None,
        }
    }

    /// The MySQL pool, when this is MySQL/MariaDB.
    pub fn mysql(&self) -> Option<&MySqlPool> {
        match &self.pool {
            Pool::MySql(pool) => Some(pool),
            Pool::Postgres(_) => None,
        }
    }

    /// Closes every connection; later calls fail.
    pub async fn close(&self) {
        match &self.pool {
            Pool::Postgres(pool) => pool.close().await,
            Pool::MySql(pool) => pool.close().await,
        }
    }

    /// Starts a transaction.
    pub(crate) async fn begin(&self) -> Result<Tx, StoreError> {
        let tx = match &self.pool {
            Pool::Postgres(pool) => Tx::Postgres(pool.begin().await.map_err(db_err("begin"))?),
            Pool::MySql(pool) => Tx::MySql(pool.begin().await.map_err(db_err("begin"))?),
        };
        Ok(tx)
    }

    /// Runs one statement outside a transaction; returns the rows it changed.
    pub(crate) async fn execute(&self, sql: &str, params: Vec<Param>) -> Result<u64, SqlxError> {
        match &self.pool {
            Pool::Postgres(pool) => pg_execute(pool, sql, params).await,
            Pool::MySql(pool) => my_execute(pool, sql, params).await,
        }
    }

    /// Runs one query outside a transaction; returns every row.
    pub(crate) async fn fetch_all(
        &self,
        sql: &str,
        params: Vec<Param>,
    ) -> Result<Vec<Row>, SqlxError> {
        match &self.pool {
            Pool::Postgres(pool) => pg_fetch(pool, sql, params).await,
            Pool::MySql(pool) => my_fetch(pool, sql, params).await,
        }
    }
}

/// An open transaction; rolled back when dropped without [`Tx::commit`].
pub(crate) enum Tx {
    Postgres(Transaction<'static, Postgres>),
    MySql(Transaction<'static, MySql>),
}

impl Tx {
    pub(crate) fn dialect(&self) -> Dialect {
        match self {
            Tx::Postgres(_) => Dialect::Postgres,
            Tx::MySql(_) => Dialect::MySql,
        }
    }

    pub(crate) async fn execute(
        &mut self,
        sql: &str,
        params: Vec<Param>,
    ) -> Result<u64, SqlxError> {
        match self {
            Tx::Postgres(tx) => pg_execute(&mut **tx, sql, params).await,
            Tx::MySql(tx) => my_execute(&mut **tx, sql, params).await,
        }
    }

    pub(crate) async fn fetch_all(
        &mut self,
        sql: &str,
        params: Vec<Param>,
    ) -> Result<Vec<Row>, SqlxError> {
        match self {
            Tx::Postgres(tx) => pg_fetch(&mut **tx, sql, params).await,
            Tx::MySql(tx) => my_fetch(&mut **tx, sql, params).await,
        }
    }

    pub(crate) async fn commit(self) -> Result<(), StoreError> {
        match self {
            Tx::Postgres(tx) => tx.commit().await,
            Tx::MySql(tx) => tx.commit().await,
        }
        .map_err(db_err("commit"))
    }
}

/// Wraps a driver error with what was being done; lost connections are `Unavailable`.
pub(crate) fn db_err(context: &'static str) -> impl Fn(SqlxError) -> StoreError {
    move |e| match e {
        SqlxError::PoolTimedOut | SqlxError::PoolClosed | SqlxError::Io(_) => {
            StoreError::Unavailable(format!("{context}: {e}"))
        }
        other => StoreError::backend(context, other),
    }
}

/// Whether a transaction failed only because it lost a lock race (MySQL/MariaDB deadlock
/// 1213 / SQLSTATE 40001, PostgreSQL 40P01 or serialization failure 40001): running the
/// whole transaction again is the documented remedy.
pub(crate) fn is_lock_conflict(e: &StoreError) -> bool {
    let StoreError::Backend { source, .. } = e else {
        return false;
    };
    source
        .downcast_ref::<SqlxError>()
        .and_then(|e| e.as_database_error())
        .and_then(|d| d.code())
        .is_some_and(|code| matches!(code.as_ref(), "40001" | "40P01" | "1213"))
}

/// Whether the error is a uniqueness violation (duplicate key).
pub(crate) fn is_unique_violation(e: &SqlxError) -> bool {
    matches!(e, SqlxError::Database(db) if db.kind() == ErrorKind::UniqueViolation)
}

/// Maps a uniqueness violation to `Conflict(what)`, anything else to `Backend`.
pub(crate) fn conflict_or(what: String) -> impl FnOnce(SqlxError) -> StoreError {
    move |e| {
        if is_unique_violation(&e) {
            StoreError::Conflict(what)
        } else {
            db_err("writing")(e).with_context(what)
        }
    }
}

trait WithContext {
    fn with_context(self, what: String) -> StoreError;
}

impl WithContext for StoreError {
    fn with_context(self, what: String) -> StoreError {
        match self {
            StoreError::Backend { source, .. } => StoreError::Backend {
                context: what,
                source,
            },
            other => other,
        }
    }
}

/// `?` placeholders as PostgreSQL's `$1, $2, …` (outside quoted literals).
pub(crate) fn postgres_placeholders(sql: &str) -> Cow<'_, str> {
    if !sql.contains('?') {
        return Cow::Borrowed(sql);
    }
    let mut out = String::with_capacity(sql.len() + 16);
    let mut n = 0;
    let mut quoted = false;
    for c in sql.chars() {
        match c {
            '\'' => {
                quoted = !quoted;
                out.push(c);
            }
            '?' if !quoted => {
                n += 1;
                out.push('$');
                out.push_str(&n.to_string());
            }
            _ => out.push(c),
        }
    }
    Cow::Owned(out)
}

/// Binds every [`Param`] to a query of either driver.
macro_rules! bind_all {
    ($query:expr, $params:expr) => {{
        let mut query = $query;
        for param in $params {
            query = match param {
                Param::Int(v) => query.bind(v),
                Param::Text(v) => query.bind(v),
                Param::Bool(v) => query.bind(v),
                Param::Bytes(v) => query.bind(v),
            };
        }
        query
    }};
}

async fn pg_execute<'e, E>(executor: E, sql: &str, params: Vec<Param>) -> Result<u64, SqlxError>
where
    E: Executor<'e, Database = Postgres>,
{
    let sql = postgres_placeholders(sql);
    let query = bind_all!(sqlx_core::query::query::<Postgres>(&sql), params);
    Ok(query.execute(executor).await?.rows_affected())
}

async fn pg_fetch<'e, E>(executor: E, sql: &str, params: Vec<Param>) -> Result<Vec<Row>, SqlxError>
where
    E: Executor<'e, Database = Postgres>,
{
    let sql = postgres_placeholders(sql);
    let query = bind_all!(sqlx_core::query::query::<Postgres>(&sql), params);
    let rows = query.fetch_all(executor).await?;
    Ok(rows.into_iter().map(Row::Postgres).collect())
}

async fn my_execute<'e, E>(executor: E, sql: &str, params: Vec<Param>) -> Result<u64, SqlxError>
where
    E: Executor<'e, Database = MySql>,
{
    let query = bind_all!(sqlx_core::query::query::<MySql>(sql), params);
    Ok(query.execute(executor).await?.rows_affected())
}

async fn my_fetch<'e, E>(executor: E, sql: &str, params: Vec<Param>) -> Result<Vec<Row>, SqlxError>
where
    E: Executor<'e, Database = MySql>,
{
    let query = bind_all!(sqlx_core::query::query::<MySql>(sql), params);
    let rows = query.fetch_all(executor).await?;
    Ok(rows.into_iter().map(Row::MySql).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_are_numbered_for_postgres_outside_literals() {
        assert_eq!(
            postgres_placeholders("SELECT ? WHERE a = '?' AND b IN (?, ?)"),
            "SELECT $1 WHERE a = '?' AND b IN ($2, $3)"
        );
        assert!(matches!(
            postgres_placeholders("SELECT 1"),
            Cow::Borrowed(_)
        ));
    }

    #[test]
    fn urls_name_their_dialect() {
        assert_eq!(
            SqlDb::dialect_of("postgres://u@h/db").unwrap(),
            Dialect::Postgres
        );
        assert_eq!(
            SqlDb::dialect_of("postgresql://h/db").unwrap(),
            Dialect::Postgres
        );
        assert_eq!(
            SqlDb::dialect_of("mysql://root@h/db").unwrap(),
            Dialect::MySql
        );
        assert_eq!(SqlDb::dialect_of("mariadb://h/db").unwrap(), Dialect::MySql);
        assert!(matches!(
            SqlDb::dialect_of("sqlite://x"),
            Err(StoreError::InvalidInput(_))
        ));
    }
}
