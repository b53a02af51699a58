//! The inbox's synchronous SQL, run by [`super::SqliteInbox`] on the shared database's writer
//! or read pool. Every statement names `app_id` and `user_id` (stores carry them per row).

use herald_domain::{AppId, DeliveryId, MessageId, Millis};
use herald_ports::{InboxFilter, InboxItem, InboxPage, InboxState, StoreError};
use rusqlite::{Connection, Row, params};
use std::collections::BTreeMap;

/// The stored code of a deleted item's tombstone.
const DELETED: i64 = 3;

fn state_code(state: InboxState) -> i64 {
    match state {
        InboxState::Unread => 0,
        InboxState::Read => 1,
        InboxState::Archived => 2,
    }
}

fn state_from_code(code: i64) -> Result<InboxState, StoreError> {
    match code {
        0 => Ok(InboxState::Unread),
        1 => Ok(InboxState::Read),
        2 => Ok(InboxState::Archived),
        other => Err(StoreError::Corrupt(format!("inbox state code {other}"))),
    }
}

/// The inclusive range of state codes a filter selects.
fn state_range(filter: InboxFilter) -> (i64, i64) {
    match filter {
        InboxFilter::Active => (0, 1),
        InboxFilter::Only(state) => (state_code(state), state_code(state)),
        InboxFilter::All => (0, 2),
    }
}

fn sql_err(context: &'static str) -> impl Fn(rusqlite::Error) -> StoreError {
    move |e| StoreError::backend(context, e)
}

/// A page cursor: the last item's `seq` (`i1` marks the format version).
fn encode_cursor(seq: i64) -> String {
    format!("i1{:x}", seq as u64)
}

fn decode_cursor(cursor: &str) -> Result<i64, StoreError> {
    let invalid = || StoreError::InvalidInput(format!("invalid inbox cursor {cursor:?}"));
    let hex = cursor.strip_prefix("i1").ok_or_else(invalid)?;
    let seq = u64::from_str_radix(hex, 16).map_err(|_| invalid())?;
    i64::try_from(seq).map_err(|_| invalid())
}

const COLUMNS: &str =
    "seq, user_id, id, message_id, title, body, fields, state, created_at, read_at";

/// Decodes a row selected with [`COLUMNS`] into `(seq, item)`.
fn decode(app: &AppId, row: &Row<'_>) -> Result<(i64, InboxItem), StoreError> {
    let get_err = sql_err("decoding an inbox row");
    let fields: String = row.get(6).map_err(&get_err)?;
    let fields: BTreeMap<String, String> = serde_json::from_str(&fields)
        .map_err(|e| StoreError::Corrupt(format!("inbox fields: {e}")))?;
    let item = InboxItem {
        id: DeliveryId::from_trusted(row.get::<_, String>(2).map_err(&get_err)?),
        app_id: app.clone(),
        user_id: row.get(1).map_err(&get_err)?,
        message_id: MessageId::from_trusted(row.get::<_, String>(3).map_err(&get_err)?),
        title: row.get(4).map_err(&get_err)?,
        body: row.get(5).map_err(&get_err)?,
        fields,
        state: state_from_code(row.get(7).map_err(&get_err)?)?,
        created_at: row.get(8).map_err(&get_err)?,
        read_at: row.get(9).map_err(&get_err)?,
    };
    Ok((row.get(0).map_err(&get_err)?, item))
}

/// Inserts items whose id is new in their app; returns which were new.
pub(super) fn store(conn: &Connection, items: &[InboxItem]) -> Result<Vec<bool>, StoreError> {
    let mut insert = conn
        .prepare_cached(
            "INSERT INTO inbox_items
                (app_id, user_id, id, message_id, title, body, fields, state, created_at, read_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)
             ON CONFLICT (app_id, id) DO NOTHING",
        )
        .map_err(sql_err("preparing the inbox insert"))?;
    items
        .iter()
        .map(|item| {
            let fields = serde_json::to_string(&item.fields)
                .map_err(|e| StoreError::backend("encoding inbox fields", e))?;
            let inserted = insert
                .execute(params![
                    item.app_id.as_str(),
                    item.user_id,
                    item.id.as_str(),
                    item.message_id.as_str(),
                    item.title,
                    item.body,
                    fields,
                    state_code(item.state),
                    item.created_at,
                    item.read_at,
                ])
                .map_err(sql_err("storing an inbox item"))?;
            Ok(inserted == 1)
        })
        .collect()
}

pub(super) fn list(
    conn: &Connection,
    app: &AppId,
    user: &str,
    filter: InboxFilter,
    cursor: Option<&str>,
    limit: usize,
) -> Result<InboxPage, StoreError> {
    let before = cursor.map(decode_cursor).transpose()?.unwrap_or(i64::MAX);
    let (low, high) = state_range(filter);
    let limit = limit.clamp(1, 1000);
    let mut query = conn
        .prepare_cached(&format!(
            "SELECT {COLUMNS} FROM inbox_items
             WHERE app_id = ?1 AND user_id = ?2 AND state BETWEEN ?3 AND ?4 AND seq < ?5
             ORDER BY seq DESC LIMIT ?6"
        ))
        .map_err(sql_err("preparing the inbox listing"))?;
    let mut rows = query
        .query(params![
            app.as_str(),
            user,
            low,
            high,
            before,
            limit as i64 + 1
        ])
        .map_err(sql_err("listing the inbox"))?;
    let mut items = Vec::with_capacity(limit);
    let mut last_seq = None;
    let mut more = false;
    while let Some(row) = rows.next().map_err(sql_err("listing the inbox"))? {
        if items.len() == limit {
            more = true;
            break;
        }
        let (seq, item) = decode(app, row)?;
        last_seq = Some(seq);
        items.push(item);
    }
    Ok(InboxPage {
        items,
        next_cursor: last_seq.filter(|_| more).map(encode_cursor),
    })
}

pub(super) fn get(
    conn: &Connection,
    app: &AppId,
    user: &str,
    id: &DeliveryId,
) -> Result<Option<InboxItem>, StoreError> {
    let mut query = conn
        .prepare_cached(&format!(
            "SELECT {COLUMNS} FROM inbox_items
             WHERE app_id = ?1 AND user_id = ?2 AND id = ?3 AND state <> {DELETED}"
        ))
        .map_err(sql_err("preparing the inbox lookup"))?;
    let mut rows = query
        .query(params![app.as_str(), user, id.as_str()])
        .map_err(sql_err("reading an inbox item"))?;
    match rows.next().map_err(sql_err("reading an inbox item"))? {
        Some(row) => Ok(Some(decode(app, row)?.1)),
        None => Ok(None),
    }
}

pub(super) fn unread_count(conn: &Connection, app: &AppId, user: &str) -> Result<u64, StoreError> {
    conn.prepare_cached(
        "SELECT count(*) FROM inbox_items WHERE app_id = ?1 AND user_id = ?2 AND state = 0",
    )
    .and_then(|mut q| q.query_row(params![app.as_str(), user], |r| r.get::<_, i64>(0)))
    .map(|n| n as u64)
    .map_err(sql_err("counting unread inbox items"))
}

pub(super) fn set_state(
    conn: &Connection,
    app: &AppId,
    user: &str,
    id: &DeliveryId,
    state: InboxState,
    now: Millis,
) -> Result<Option<InboxItem>, StoreError> {
    let changed = conn
        .prepare_cached(&format!(
            "UPDATE inbox_items
             SET state = ?4,
                 read_at = CASE WHEN ?4 = 0 THEN NULL ELSE coalesce(read_at, ?5) END
             WHERE app_id = ?1 AND user_id = ?2 AND id = ?3 AND state <> {DELETED}"
        ))
        .and_then(|mut q| {
            q.execute(params![
                app.as_str(),
                user,
                id.as_str(),
                state_code(state),
                now
            ])
        })
        .map_err(sql_err("marking an inbox item"))?;
    if changed == 0 {
        return Ok(None);
    }
    get(conn, app, user, id)
}

pub(super) fn mark_all_read(
    conn: &Connection,
    app: &AppId,
    user: &str,
    now: Millis,
) -> Result<u64, StoreError> {
    conn.prepare_cached(
        "UPDATE inbox_items SET state = 1, read_at = coalesce(read_at, ?3)
         WHERE app_id = ?1 AND user_id = ?2 AND state = 0",
    )
    .and_then(|mut q| q.execute(params![app.as_str(), user, now]))
    .map(|n| n as u64)
    .map_err(sql_err("marking the inbox read"))
}

/// Turns the item into a tombstone: content erased, id kept for deduplication.
pub(super) fn delete(
    conn: &Connection,
    app: &AppId,
    user: &str,
    id: &DeliveryId,
) -> Result<bool, StoreError> {
    conn.prepare_cached(&format!(
        "UPDATE inbox_items
         SET state = {DELETED}, title = NULL, body = '', fields = '{{}}', read_at = NULL
         WHERE app_id = ?1 AND user_id = ?2 AND id = ?3 AND state <> {DELETED}"
    ))
    .and_then(|mut q| q.execute(params![app.as_str(), user, id.as_str()]))
    .map(|n| n == 1)
    .map_err(sql_err("deleting an inbox item"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_garbage_is_rejected() {
        assert_eq!(decode_cursor(&encode_cursor(12_345)).unwrap(), 12_345);
        for bad in ["", "i1", "i1zz", "c11f", "i1ffffffffffffffff"] {
            assert!(decode_cursor(bad).is_err(), "{bad:?} is rejected");
        }
    }
}
