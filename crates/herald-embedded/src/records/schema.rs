//! The records tables, their search indexes and the full-text table.
//!
//! Deliveries carry their message's search facts (template, channel, account, created_at)
//! so every search filter is one index range on one table; each index starts with `app_id`
//! and ends with `created_at` (plus the implicit rowid `seq`), which is exactly the search
//! order, so a filtered page is an index walk that stops after `limit` rows.
//!
//! A delivery's `seq` (its rowid, and the rowid of its full-text entry) is not a counter:
//! it is `created_at << 20 | n`, with `n` the next free slot in that millisecond. So rowid
//! order *is* page order (`created_at`, then arrival), a time window is a rowid range, and
//! full-text search can walk FTS5's doclists newest first and stop after one page instead
//! of collecting every match. 43 bits of milliseconds last until the year 2248; 2^20
//! deliveries per millisecond is far beyond what one writer commits.

/// Bits of `seq` below the millisecond.
pub(super) const SEQ_SHIFT: u32 = 20;

/// The smallest `seq` of a millisecond (times are clamped to the representable range).
pub(super) fn seq_floor(created_at: i64) -> i64 {
    created_at.clamp(0, (1 << (63 - SEQ_SHIFT)) - 1) << SEQ_SHIFT
}

/// DDL of the records store (idempotent).
pub const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS messages (
    id               TEXT PRIMARY KEY,
    app_id           TEXT NOT NULL,
    template_id      TEXT NOT NULL,
    template_version INTEGER NOT NULL,
    channel          TEXT NOT NULL,
    account_id       TEXT NOT NULL,
    priority         INTEGER NOT NULL,
    send_at          INTEGER,
    expire_at        INTEGER,
    created_at       INTEGER NOT NULL,
    variables        TEXT NOT NULL
) WITHOUT ROWID;

CREATE TABLE IF NOT EXISTS deliveries (
    seq          INTEGER PRIMARY KEY,
    id           TEXT NOT NULL UNIQUE,
    message_id   TEXT NOT NULL,
    app_id       TEXT NOT NULL,
    template_id  TEXT NOT NULL,
    channel      TEXT NOT NULL,
    account_id   TEXT NOT NULL,
    receiver     TEXT NOT NULL,
    receiver_json TEXT NOT NULL,
    variables    TEXT NOT NULL,
    state        TEXT NOT NULL,
    version      INTEGER NOT NULL,
    code         TEXT,
    detail       TEXT,
    next_at      INTEGER,
    content      TEXT,
    created_at   INTEGER NOT NULL,
    updated_at   INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS deliveries_by_app_message ON deliveries (app_id, message_id, created_at);
CREATE INDEX IF NOT EXISTS deliveries_by_time     ON deliveries (app_id, created_at);
CREATE INDEX IF NOT EXISTS deliveries_by_state    ON deliveries (app_id, state, created_at);
CREATE INDEX IF NOT EXISTS deliveries_by_template ON deliveries (app_id, template_id, created_at);
CREATE INDEX IF NOT EXISTS deliveries_by_channel  ON deliveries (app_id, channel, created_at);
CREATE INDEX IF NOT EXISTS deliveries_by_account  ON deliveries (app_id, account_id, created_at);
CREATE INDEX IF NOT EXISTS deliveries_by_receiver ON deliveries (app_id, receiver, created_at);

CREATE TABLE IF NOT EXISTS attempts (
    delivery_id         TEXT NOT NULL,
    attempt             INTEGER NOT NULL,
    app_id              TEXT NOT NULL,
    at                  INTEGER NOT NULL,
    account_id          TEXT NOT NULL,
    latency_ms          INTEGER NOT NULL,
    outcome             TEXT NOT NULL,
    provider_request_id TEXT,
    code                TEXT,
    message             TEXT,
    PRIMARY KEY (delivery_id, attempt)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS deliveries_awaiting_receipt ON deliveries (updated_at)
    WHERE state = 'sent';
CREATE INDEX IF NOT EXISTS attempts_by_provider_id ON attempts (provider_request_id)
    WHERE provider_request_id IS NOT NULL;

CREATE VIRTUAL TABLE IF NOT EXISTS delivery_text USING fts5 (
    app, body, tail,
    content = '',
    contentless_delete = 1,
    tokenize = 'unicode61 remove_diacritics 2'
);
";
