//! Storing inbox items once per `(app_id, id)`, and saying per item whether this call stored
//! it — exactly, also when two nodes store the same delivery at the same moment (a queue task
//! redelivered while its first delivery is still running). The inbox channel pushes only the
//! items reported new to live streams, so a wrong `true` shows a user a message twice.
//!
//! - PostgreSQL: a multi-row `INSERT … ON CONFLICT (app_id, id) DO NOTHING RETURNING`
//!   names exactly the rows it inserted.
//! - MySQL/MariaDB: MySQL 8 has no `RETURNING`, and under the `CLIENT_FOUND_ROWS` flag sqlx
//!   sets, `INSERT … ON DUPLICATE KEY UPDATE id = id` counts a duplicate like an insert
//!   (`INSERT IGNORE` would count right, but turns other errors, such as over-long values,
//!   into warnings). So the batch runs in one `REPEATABLE READ` transaction (the pool's
//!   sessions stay `READ COMMITTED`): a read of the batch's ids fixes the snapshot, the
//!   insert of the ids it did not show follows, and a second read sees that snapshot plus
//!   this transaction's own rows — never a row another node committed in between. The ids
//!   only the second read sees are the ones this call inserted. A redelivered batch inserts
//!   nothing; duplicate-key checks (and their locks) happen only when another node stored
//!   the same id meanwhile.
//!
//! Within a batch, a repeated id is new at most once: at its first occurrence. A batch that
//! loses a lock race (deadlock, or MariaDB's "record has changed since last read" under
//! `innodb_snapshot_isolation`) is run again whole.

use super::item::{encode_fields, state_code};
use crate::db::{Dialect, Param, Row, SqlDb, Tx, db_err, is_lock_conflict, marks, params};
use herald_ports::{InboxItem, StoreError};
use sqlx_core::error::Error as SqlxError;
use sqlx_mysql::{MySqlDatabaseError, MySqlPool};
use std::collections::{BTreeMap, HashSet};
use std::time::Duration;

/// Rows per INSERT: a whole channel batch (500) in one statement; 10 parameters per row
/// stays far below both databases' 65,535-parameter limit.
const ROWS_PER_INSERT: usize = 1000;
/// Ids per `IN (…)` lookup.
const IDS_PER_QUERY: usize = 500;
/// How many times a batch is run before a lost lock race is reported.
const ATTEMPTS: u64 = 5;
/// MariaDB's ER_CHECKREAD: a `REPEATABLE READ` transaction touched a row committed after
/// its snapshot while `innodb_snapshot_isolation` is on (the default from MariaDB 11.6).
const RECORD_CHANGED_SINCE_READ: u16 = 1020;
/// Starts one `REPEATABLE READ` transaction on a `READ COMMITTED` session, in one round trip
/// (`SET TRANSACTION` without `SESSION` applies to the next transaction only).
const BEGIN_REPEATABLE_READ: &str =
    "SET TRANSACTION ISOLATION LEVEL REPEATABLE READ; START TRANSACTION";

const INSERT_COLUMNS: &str =
    "app_id, user_id, id, message_id, title, body, fields, state, created_at, read_at";
const VALUES_ROW: &str = "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?)";

/// An item's dedup key: `(app_id, id)`.
type Key = (String, String);

/// Stores the items whose `(app_id, id)` is new; returns, in order, which were.
pub(super) async fn store(db: &SqlDb, items: &[InboxItem]) -> Result<Vec<bool>, StoreError> {
    let mut attempt = 0;
    loop {
        attempt += 1;
        let inserted = match db.mysql() {
            Some(pool) => insert_and_compare(pool, items).await,
            None => insert_returning(db, items).await,
        };
        match inserted {
            Ok(inserted) => return Ok(fresh_flags(items, &inserted)),
            Err(e) if lost_a_race(&e) && attempt < ATTEMPTS => {
                tracing::debug!(error = %e, attempt, "inbox store lost a lock race; running it again");
                tokio::time::sleep(Duration::from_millis(2 * attempt)).await;
            }
            Err(e) if lost_a_race(&e) => {
                return Err(StoreError::Unavailable(format!(
                    "storing inbox items lost repeated lock races: {e}"
                )));
            }
            Err(e) => return Err(e),
        }
    }
}

fn key(item: &InboxItem) -> Key {
    (item.app_id.as_str().to_owned(), item.id.as_str().to_owned())
}

/// Per item: whether its key was inserted and this is the key's first item in the batch.
fn fresh_flags(items: &[InboxItem], inserted: &HashSet<Key>) -> Vec<bool> {
    let mut seen = HashSet::with_capacity(items.len());
    items
        .iter()
        .map(|item| {
            let key = key(item);
            inserted.contains(&key) && seen.insert(key)
        })
        .collect()
}

/// PostgreSQL: the keys the INSERTs report through `RETURNING`. A batch of more than one
/// statement runs in a transaction, so a failure leaves nothing half-stored.
async fn insert_returning(db: &SqlDb, items: &[InboxItem]) -> Result<HashSet<Key>, StoreError> {
    let items: Vec<&InboxItem> = items.iter().collect();
    let mut inserted = HashSet::with_capacity(items.len());
    if items.len() <= ROWS_PER_INSERT {
        let (sql, params) = insert_statement(Dialect::Postgres, &items)?;
        let rows = db
            .fetch_all(&sql, params)
            .await
            .map_err(db_err("storing inbox items"))?;
        collect_keys(&rows, &mut inserted)?;
        return Ok(inserted);
    }
    let mut tx = db.begin().await?;
    for chunk in items.chunks(ROWS_PER_INSERT) {
        let (sql, params) = insert_statement(Dialect::Postgres, chunk)?;
        let rows = tx
            .fetch_all(&sql, params)
            .await
            .map_err(db_err("storing inbox items"))?;
        collect_keys(&rows, &mut inserted)?;
    }
    tx.commit().await?;
    Ok(inserted)
}

fn collect_keys(rows: &[Row], keys: &mut HashSet<Key>) -> Result<(), StoreError> {
    for row in rows {
        keys.insert((row.text(0)?, row.text(1)?));
    }
    Ok(())
}

/// MySQL/MariaDB: the keys visible after the INSERTs but not before, both read in one
/// `REPEATABLE READ` snapshot (see the module documentation). Only keys the first read did
/// not find are sent, once each. Racing stores of the same ids can deadlock on InnoDB's
/// duplicate-key locks (the row and the gap before it); [`store`] runs the batch again.
async fn insert_and_compare(
    pool: &MySqlPool,
    items: &[InboxItem],
) -> Result<HashSet<Key>, StoreError> {
    let mut tx = Tx::MySql(
        pool.begin_with(BEGIN_REPEATABLE_READ)
            .await
            .map_err(db_err("begin"))?,
    );
    let before = stored_keys(&mut tx, items).await?;
    let mut sent = HashSet::with_capacity(items.len());
    let absent: Vec<&InboxItem> = items
        .iter()
        .filter(|item| {
            let key = key(item);
            !before.contains(&key) && sent.insert(key)
        })
        .collect();
    if absent.is_empty() {
        tx.commit().await?;
        return Ok(HashSet::new());
    }
    for chunk in absent.chunks(ROWS_PER_INSERT) {
        let (sql, params) = insert_statement(Dialect::MySql, chunk)?;
        tx.execute(&sql, params)
            .await
            .map_err(db_err("storing inbox items"))?;
    }
    let after = stored_keys(&mut tx, items).await?;
    tx.commit().await?;
    Ok(after.difference(&before).cloned().collect())
}

/// The keys of `items` the transaction sees stored (tombstones included).
async fn stored_keys(tx: &mut Tx, items: &[InboxItem]) -> Result<HashSet<Key>, StoreError> {
    let mut ids_by_app: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for item in items {
        ids_by_app
            .entry(item.app_id.as_str())
            .or_default()
            .push(item.id.as_str());
    }
    let mut keys = HashSet::with_capacity(items.len());
    for (app, mut ids) in ids_by_app {
        ids.sort_unstable();
        ids.dedup();
        for chunk in ids.chunks(IDS_PER_QUERY) {
            let mut params = params![app];
            params.extend(chunk.iter().map(|id| Param::from(*id)));
            let sql = format!(
                "SELECT app_id, id FROM inbox_items WHERE app_id = ? AND id IN ({})",
                marks(chunk.len())
            );
            let rows = tx
                .fetch_all(&sql, params)
                .await
                .map_err(db_err("looking up stored inbox ids"))?;
            collect_keys(&rows, &mut keys)?;
        }
    }
    Ok(keys)
}

/// One multi-row INSERT of `items` that skips keys already stored, in the dialect's words.
fn insert_statement(
    dialect: Dialect,
    items: &[&InboxItem],
) -> Result<(String, Vec<Param>), StoreError> {
    let mut params = Vec::with_capacity(items.len() * 10);
    for item in items {
        params.extend(params![
            item.app_id.as_str(),
            item.user_id.as_str(),
            item.id.as_str(),
            item.message_id.as_str(),
            &item.title,
            item.body.as_str(),
            encode_fields(&item.fields)?,
            state_code(item.state),
            item.created_at,
            item.read_at,
        ]);
    }
    let values = vec![VALUES_ROW; items.len()].join(", ");
    let sql = match dialect {
        Dialect::Postgres => format!(
            "INSERT INTO inbox_items ({INSERT_COLUMNS}) VALUES {values}
             ON CONFLICT (app_id, id) DO NOTHING RETURNING app_id, id"
        ),
        Dialect::MySql => format!(
            "INSERT INTO inbox_items ({INSERT_COLUMNS}) VALUES {values}
             ON DUPLICATE KEY UPDATE id = id"
        ),
    };
    Ok((sql, params))
}

/// Whether the batch failed only because a concurrent transaction won a race, so that
/// running it again is the remedy.
fn lost_a_race(e: &StoreError) -> bool {
    if is_lock_conflict(e) {
        return true;
    }
    let StoreError::Backend { source, .. } = e else {
        return false;
    };
    source
        .downcast_ref::<SqlxError>()
        .and_then(|e| e.as_database_error())
        .and_then(|e| e.try_downcast_ref::<MySqlDatabaseError>())
        .is_some_and(|e| e.number() == RECORD_CHANGED_SINCE_READ)
}

#[cfg(test)]
mod tests {
    use super::*;
    use herald_domain::AppId;
    use herald_ports::conformance::inbox::item;

    #[test]
    fn a_key_is_fresh_once_and_only_when_inserted() {
        let (app, other_app) = (AppId::generate(), AppId::generate());
        let first = item(&app, "u-1", 1);
        let known = item(&app, "u-1", 2);
        let same_id_elsewhere = InboxItem {
            app_id: other_app.clone(),
            ..first.clone()
        };
        let batch = [
            first.clone(),
            known.clone(),
            first.clone(),
            same_id_elsewhere.clone(),
        ];
        let inserted: HashSet<Key> = [&first, &same_id_elsewhere]
            .iter()
            .map(|i| (i.app_id.as_str().to_owned(), i.id.as_str().to_owned()))
            .collect();
        assert_eq!(
            fresh_flags(&batch, &inserted),
            [true, false, false, true],
            "new at the first occurrence only, per app"
        );
    }

    #[test]
    fn statements_bind_ten_values_per_row() {
        let app = AppId::generate();
        let items: Vec<_> = (0..3).map(|i| item(&app, "u-1", i)).collect();
        let items: Vec<&InboxItem> = items.iter().collect();
        for dialect in [Dialect::Postgres, Dialect::MySql] {
            let (sql, params) = insert_statement(dialect, &items).unwrap();
            assert_eq!(params.len(), 30);
            assert_eq!(sql.matches('?').count(), 30, "{sql}");
        }
    }
}
