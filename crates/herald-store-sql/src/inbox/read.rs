//! Reading a user's inbox: pages newest stored first, one item, the unread count. Every
//! statement names the app and the user, and none returns a tombstone.

use super::item::{
    COLUMNS, DELETED, UNREAD, decode, decode_cursor, encode_cursor, state_condition,
};
use crate::db::{SqlDb, db_err, params};
use herald_domain::{AppId, DeliveryId};
use herald_ports::{InboxFilter, InboxItem, InboxPage, StoreError};

/// The most items one page returns.
const MAX_PAGE: usize = 1000;

/// One page of `user`'s items matching `filter`, strictly before `cursor` in `seq` order.
/// One row more than the page is fetched to learn whether another page follows.
pub(super) async fn list(
    db: &SqlDb,
    app: &AppId,
    user: &str,
    filter: InboxFilter,
    cursor: Option<&str>,
    limit: usize,
) -> Result<InboxPage, StoreError> {
    let before = cursor.map(decode_cursor).transpose()?.unwrap_or(i64::MAX);
    let limit = limit.clamp(1, MAX_PAGE);
    let (state_condition, state) = state_condition(filter);
    let rows = db
        .fetch_all(
            &format!(
                "SELECT {COLUMNS} FROM inbox_items
                  WHERE app_id = ? AND user_id = ? AND {state_condition} AND seq < ?
                  ORDER BY seq DESC LIMIT ?"
            ),
            params![app.as_str(), user, state, before, limit + 1],
        )
        .await
        .map_err(db_err("listing the inbox"))?;
    let more = rows.len() > limit;
    let mut items = Vec::with_capacity(limit.min(rows.len()));
    let mut last_seq = None;
    for row in rows.iter().take(limit) {
        let (seq, item) = decode(app, row)?;
        last_seq = Some(seq);
        items.push(item);
    }
    Ok(InboxPage {
        items,
        next_cursor: last_seq.filter(|_| more).map(encode_cursor),
    })
}

/// The user's item `id`, unless it is deleted or not theirs.
pub(super) async fn get(
    db: &SqlDb,
    app: &AppId,
    user: &str,
    id: &DeliveryId,
) -> Result<Option<InboxItem>, StoreError> {
    let rows = db
        .fetch_all(
            &format!(
                "SELECT {COLUMNS} FROM inbox_items
                  WHERE app_id = ? AND id = ? AND user_id = ? AND state <> {DELETED}"
            ),
            params![app.as_str(), id.as_str(), user],
        )
        .await
        .map_err(db_err("reading an inbox item"))?;
    rows.first()
        .map(|row| decode(app, row).map(|(_, item)| item))
        .transpose()
}

/// How many of the user's items are unread: a count over the `(app, user, state, seq)`
/// index alone.
pub(super) async fn unread_count(db: &SqlDb, app: &AppId, user: &str) -> Result<u64, StoreError> {
    let rows = db
        .fetch_all(
            &format!(
                "SELECT COUNT(*) FROM inbox_items
                  WHERE app_id = ? AND user_id = ? AND state = {UNREAD}"
            ),
            params![app.as_str(), user],
        )
        .await
        .map_err(db_err("counting unread inbox items"))?;
    let count = rows.first().map(|row| row.int(0)).transpose()?.unwrap_or(0);
    Ok(u64::try_from(count).unwrap_or(0))
}
