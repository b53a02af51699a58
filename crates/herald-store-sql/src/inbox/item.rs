//! How an inbox item is kept in `inbox_items`: state codes, the selected columns and their
//! decoding, and the page cursor (the last listed item's `seq`).

use crate::db::Row;
use herald_domain::{AppId, DeliveryId, MessageId};
use herald_ports::{InboxFilter, InboxItem, InboxState, StoreError};
use std::collections::BTreeMap;

/// The stored code of an unread item.
pub(super) const UNREAD: i64 = 0;
/// The stored code of a deleted item's tombstone.
pub(super) const DELETED: i64 = 3;

pub(super) fn state_code(state: InboxState) -> i64 {
    match state {
        InboxState::Unread => UNREAD,
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

/// The states a listing selects, as a SQL condition on `state` and its parameter: one state
/// is an equality (so the `(app, user, state, seq)` index yields rows in page order), several
/// are every code up to the highest (tombstones, code 3, are never selected).
pub(super) fn state_condition(filter: InboxFilter) -> (&'static str, i64) {
    match filter {
        InboxFilter::Only(state) => ("state = ?", state_code(state)),
        InboxFilter::Active => ("state <= ?", state_code(InboxState::Read)),
        InboxFilter::All => ("state <= ?", state_code(InboxState::Archived)),
    }
}

/// The columns [`decode`] reads, in order.
pub(super) const COLUMNS: &str =
    "seq, user_id, id, message_id, title, body, fields, state, created_at, read_at";

/// A row selected with [`COLUMNS`] as `(seq, item)`.
pub(super) fn decode(app: &AppId, row: &Row) -> Result<(i64, InboxItem), StoreError> {
    let fields: BTreeMap<String, String> = serde_json::from_str(&row.text(6)?)
        .map_err(|e| StoreError::Corrupt(format!("inbox_items.fields: {e}")))?;
    let item = InboxItem {
        id: DeliveryId::from_trusted(row.text(2)?),
        app_id: app.clone(),
        user_id: row.text(1)?,
        message_id: MessageId::from_trusted(row.text(3)?),
        title: row.opt_text(4)?,
        body: row.text(5)?,
        fields,
        state: state_from_code(row.int(7)?)?,
        created_at: row.int(8)?,
        read_at: row.opt_int(9)?,
    };
    Ok((row.int(0)?, item))
}

/// The stored form of an item's extra fields.
pub(super) fn encode_fields(fields: &BTreeMap<String, String>) -> Result<String, StoreError> {
    serde_json::to_string(fields).map_err(|e| StoreError::backend("encoding inbox fields", e))
}

/// The cursor after an item: `q1<seq hex>`. The prefix differs from the SQLite inbox's
/// (`i1`): a cursor of one backend names a position in another table, so it is refused.
pub(super) fn encode_cursor(seq: i64) -> String {
    format!("q1{:x}", seq as u64)
}

/// The `seq` a cursor names; anything [`encode_cursor`] did not make is `InvalidInput`.
pub(super) fn decode_cursor(cursor: &str) -> Result<i64, StoreError> {
    let invalid = || StoreError::InvalidInput(format!("invalid inbox cursor {cursor:?}"));
    let hex = cursor.strip_prefix("q1").ok_or_else(invalid)?;
    let seq = u64::from_str_radix(hex, 16).map_err(|_| invalid())?;
    i64::try_from(seq).map_err(|_| invalid())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_foreign_tokens_are_refused() {
        for seq in [1, 12_345, i64::MAX] {
            assert_eq!(decode_cursor(&encode_cursor(seq)).unwrap(), seq);
        }
        for bad in [
            "",
            "q1",
            "q1zz",
            "q1-1",
            "i11f",
            "s11.1",
            "q1ffffffffffffffff",
        ] {
            assert!(
                matches!(decode_cursor(bad), Err(StoreError::InvalidInput(_))),
                "{bad:?} is refused"
            );
        }
    }

    #[test]
    fn filters_select_their_states_and_never_tombstones() {
        for filter in [
            InboxFilter::Active,
            InboxFilter::All,
            InboxFilter::Only(InboxState::Unread),
            InboxFilter::Only(InboxState::Read),
            InboxFilter::Only(InboxState::Archived),
        ] {
            let (condition, value) = state_condition(filter);
            let selects = |code: i64| match condition {
                "state = ?" => code == value,
                "state <= ?" => code <= value,
                other => panic!("unexpected condition {other}"),
            };
            for state in InboxState::ALL {
                assert_eq!(
                    selects(state_code(state)),
                    filter.matches(state),
                    "{filter:?} and {state:?}"
                );
            }
            assert!(!selects(DELETED), "{filter:?} never selects a tombstone");
        }
    }
}
