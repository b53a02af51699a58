//! DDL of the inbox table (idempotent: applied at every open).
//!
//! - `seq` orders items by arrival (AUTOINCREMENT: never reused, so cursors stay valid);
//! - `UNIQUE (app_id, id)` is the dedup of stores (the delivery id);
//! - `inbox_by_user_state` serves the unread count as an index-only count and the
//!   single-state listings; `inbox_by_user` serves the other listings in `seq` order.
//!
//! `state`: 0 unread, 1 read, 2 archived, 3 deleted (a tombstone with its content erased).

/// The inbox schema.
pub const SCHEMA: &str = r#"
CREATE TABLE IF NOT EXISTS inbox_items (
    seq         INTEGER PRIMARY KEY AUTOINCREMENT,
    app_id      TEXT    NOT NULL,
    user_id     TEXT    NOT NULL,
    id          TEXT    NOT NULL,
    message_id  TEXT    NOT NULL,
    title       TEXT,
    body        TEXT    NOT NULL,
    fields      TEXT    NOT NULL,
    state       INTEGER NOT NULL,
    created_at  INTEGER NOT NULL,
    read_at     INTEGER,
    UNIQUE (app_id, id)
);
CREATE INDEX IF NOT EXISTS inbox_by_user ON inbox_items (app_id, user_id, seq);
CREATE INDEX IF NOT EXISTS inbox_by_user_state ON inbox_items (app_id, user_id, state, seq);
"#;
