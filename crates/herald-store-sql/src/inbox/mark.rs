//! Changing a user's items: one item's state, "read all", and deletion into a tombstone.
//! Every statement names the app and the user and leaves tombstones alone.

use super::item::{COLUMNS, DELETED, UNREAD, decode, state_code};
use crate::db::{SqlDb, db_err, params};
use herald_domain::{AppId, DeliveryId, Millis};
use herald_ports::{InboxItem, InboxState, StoreError};

/// Moves one item to `state`: `read_at` is cleared by `unread` and otherwise set to `now`
/// unless already set. Returns the item as it is afterwards.
///
/// The UPDATE and the read-back share a transaction, so the item returned is the one this
/// call left (the UPDATE holds the row until commit). Whether the item exists is decided by
/// the read-back, not by the UPDATE's row count: the drivers count a row whose values did not
/// change (marking a read item read) differently.
pub(super) async fn set_state(
    db: &SqlDb,
    app: &AppId,
    user: &str,
    id: &DeliveryId,
    state: InboxState,
    now: Millis,
) -> Result<Option<InboxItem>, StoreError> {
    let (read_at, mut params) = match state {
        InboxState::Unread => ("NULL", params![state_code(state)]),
        InboxState::Read | InboxState::Archived => {
            ("COALESCE(read_at, ?)", params![state_code(state), now])
        }
    };
    params.extend(params![app.as_str(), id.as_str(), user]);
    let mut tx = db.begin().await?;
    tx.execute(
        &format!(
            "UPDATE inbox_items SET state = ?, read_at = {read_at}
              WHERE app_id = ? AND id = ? AND user_id = ? AND state <> {DELETED}"
        ),
        params,
    )
    .await
    .map_err(db_err("marking an inbox item"))?;
    let rows = tx
        .fetch_all(
            &format!(
                "SELECT {COLUMNS} FROM inbox_items
                  WHERE app_id = ? AND id = ? AND user_id = ? AND state <> {DELETED}"
            ),
            params![app.as_str(), id.as_str(), user],
        )
        .await
        .map_err(db_err("reading a marked inbox item"))?;
    tx.commit().await?;
    rows.first()
        .map(|row| decode(app, row).map(|(_, item)| item))
        .transpose()
}

/// Marks every unread item of the user read at `now`; returns how many changed.
pub(super) async fn mark_all_read(
    db: &SqlDb,
    app: &AppId,
    user: &str,
    now: Millis,
) -> Result<u64, StoreError> {
    db.execute(
        &format!(
            "UPDATE inbox_items SET state = ?, read_at = COALESCE(read_at, ?)
              WHERE app_id = ? AND user_id = ? AND state = {UNREAD}"
        ),
        params![state_code(InboxState::Read), now, app.as_str(), user],
    )
    .await
    .map_err(db_err("marking the inbox read"))
}

/// Turns the item into a tombstone: title, body, fields and `read_at` erased, the row (and
/// so its id) kept, so that storing the id again stays a no-op. `false` when there was no
/// such item of the user, or it was already deleted.
pub(super) async fn delete(
    db: &SqlDb,
    app: &AppId,
    user: &str,
    id: &DeliveryId,
) -> Result<bool, StoreError> {
    let deleted = db
        .execute(
            &format!(
                "UPDATE inbox_items
                    SET state = {DELETED}, title = NULL, body = '', fields = ?, read_at = NULL
                  WHERE app_id = ? AND id = ? AND user_id = ? AND state <> {DELETED}"
            ),
            params!["{}", app.as_str(), id.as_str(), user],
        )
        .await
        .map_err(db_err("deleting an inbox item"))?;
    Ok(deleted > 0)
}
