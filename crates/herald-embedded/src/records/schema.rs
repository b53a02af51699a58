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
//!
//! Receivers are not a B-tree index: real receivers (phone numbers, device tokens) arrive in
//! random order, so an `(app_id, receiver, created_at)` index dirtied one random page per
//! delivery and every commit wrote those pages to the WAL — 17 µs of the writer's 24 µs per
//! delivery insert in a measurement with random receivers (BENCHMARKS.md). They live in a
//! second FTS5 table instead, `delivery_receivers` (rowid = `seq`, one token per delivery,
//! see [`receiver_key`]): FTS5 appends sorted segments, ~2 µs per delivery. A job writes the
//! key to `temp.receivers_pending`, and the writer moves the whole group's keys with
//! [`FLUSH_PENDING`] before each commit, because FTS5 starts a new segment at every statement
//! that writes to it. A database from before this change is upgraded at open: its keys are
//! built from `deliveries` and the old index is dropped, in one transaction.
//!
//! `delivery_vocab` holds the distinct words of `delivery_text.body` (read through
//! `delivery_vocab_terms`), so a search's last word can be expanded to exact terms (see
//! `vocab`). A database from before it gets it at open: the upgrade block copies
//! `delivery_text`'s own body terms, 10,000 to a row, in the transaction that creates it. It
//! walks every doclist, so it takes time in proportion to the indexed words (3.1–3.5 s for
//! 600k–2M short messages). After an older binary wrote to the file, drop both vocabulary
//! tables (and `delivery_vocab_staged`) to have it rebuilt (decision 0020).

/// Bits of `seq` below the millisecond.
pub(super) const SEQ_SHIFT: u32 = 20;

/// The smallest `seq` of a millisecond (times are clamped to the representable range).
pub(super) fn seq_floor(created_at: i64) -> i64 {
    created_at.clamp(0, (1 << (63 - SEQ_SHIFT)) - 1) << SEQ_SHIFT
}

/// Moves the staged terms (see `vocab`) into `delivery_vocab` as one row: run by a result
/// batch at most about once a second, and at open for what a stop left staged.
macro_rules! flush_staged_terms {
    () => {
        "INSERT INTO delivery_vocab (rowid, term)
         SELECT (SELECT coalesce(max(id), 0) + 1 FROM delivery_vocab_docsize),
                group_concat(terms, ' ')
           FROM delivery_vocab_staged
         HAVING count(*) > 0;
         DELETE FROM delivery_vocab_staged;"
    };
}

/// [`flush_staged_terms`] as a statement batch.
pub(super) const FLUSH_STAGED_TERMS: &str = flush_staged_terms!();

/// DDL of the records store (idempotent).
pub const SCHEMA: &str = concat!(
    "
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

CREATE VIRTUAL TABLE IF NOT EXISTS delivery_receivers USING fts5 (
    key,
    content = '',
    columnsize = 0,
    detail = none
);
CREATE TEMP TABLE IF NOT EXISTS receivers_pending (
    seq INTEGER PRIMARY KEY,
    key TEXT NOT NULL
);

BEGIN IMMEDIATE;
CREATE TEMP TABLE IF NOT EXISTS vocab_upgrade (needed INTEGER NOT NULL);
DELETE FROM temp.vocab_upgrade;
INSERT INTO temp.vocab_upgrade
SELECT count(*) = 0 FROM sqlite_master WHERE name = 'delivery_vocab';
CREATE VIRTUAL TABLE IF NOT EXISTS delivery_vocab USING fts5 (
    term,
    content = '',
    detail = none,
    tokenize = 'unicode61 remove_diacritics 2'
);
CREATE VIRTUAL TABLE IF NOT EXISTS delivery_vocab_terms USING fts5vocab (delivery_vocab, 'row');
CREATE VIRTUAL TABLE IF NOT EXISTS temp.delivery_text_terms
    USING fts5vocab (main, delivery_text, 'col');
INSERT INTO delivery_vocab (rowid, term)
SELECT chunk + 1, group_concat(term, ' ')
  FROM (SELECT t.term, (row_number() OVER ()) / 10000 AS chunk
          FROM (SELECT 1 FROM temp.vocab_upgrade WHERE needed) AS upgrading
          CROSS JOIN temp.delivery_text_terms AS t
         WHERE t.col = 'body')
 GROUP BY chunk;
DROP TABLE temp.delivery_text_terms;
DROP TABLE temp.vocab_upgrade;
CREATE TABLE IF NOT EXISTS delivery_vocab_staged (
    id    INTEGER PRIMARY KEY,
    terms TEXT NOT NULL
);
",
    flush_staged_terms!(),
    "
COMMIT;

BEGIN IMMEDIATE;
INSERT INTO delivery_receivers (rowid, key)
SELECT d.seq, 'r' || lower(hex(d.app_id || char(31) || d.receiver))
  FROM (SELECT 1 FROM sqlite_master
         WHERE type = 'index' AND name = 'deliveries_by_receiver') AS upgrading
  CROSS JOIN deliveries AS d;
DROP INDEX IF EXISTS deliveries_by_receiver;
COMMIT;
"
);

/// Moves the receiver keys written by the group's jobs into `delivery_receivers`, in one
/// statement per commit (see the module notes); run by the writer before every COMMIT.
pub const FLUSH_PENDING: &[&str] = &[
    "INSERT INTO delivery_receivers (rowid, key) SELECT seq, key FROM temp.receivers_pending",
    "DELETE FROM temp.receivers_pending",
];

/// The token a delivery's receiver is indexed under in `delivery_receivers`: `r` and the
/// lowercase hex of `app_id`, U+001F and the receiver. Hex keeps any receiver one
/// `unicode61` token; the app in front keeps apps apart; FTS5's prefix compression makes the
/// shared app part nearly free. The upgrade in [`SCHEMA`] computes the same in SQL.
pub(crate) fn receiver_key(app_id: &str, receiver: &str) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut key = String::with_capacity(1 + 2 * (app_id.len() + 1 + receiver.len()));
    key.push('r');
    for byte in app_id.bytes().chain([0x1f]).chain(receiver.bytes()) {
        key.push(HEX[usize::from(byte >> 4)] as char);
        key.push(HEX[usize::from(byte & 0xf)] as char);
    }
    key
}

#[cfg(test)]
mod tests {
    use super::*;
    use rusqlite::Connection;

    fn matches(conn: &Connection, app: &str, receiver: &str) -> Vec<i64> {
        let expression = format!("\"{}\"", receiver_key(app, receiver));
        let mut stmt = conn
            .prepare("SELECT rowid FROM delivery_receivers WHERE delivery_receivers MATCH ?1")
            .unwrap();
        stmt.query_map([expression], |row| row.get(0))
            .unwrap()
            .map(Result::unwrap)
            .collect()
    }

    /// A database from before `delivery_receivers` (receivers in a B-tree index) gets its
    /// receiver keys at open — built in SQL exactly as `receiver_key` builds them in Rust —
    /// and loses the old index; opening it again changes nothing.
    #[test]
    fn an_old_database_is_upgraded_to_the_receiver_table_at_open() {
        let conn = Connection::open_in_memory().unwrap();
        conn.execute_batch(SCHEMA).unwrap();
        conn.execute_batch(
            "INSERT INTO delivery_receivers (delivery_receivers) VALUES ('delete-all');
             CREATE INDEX deliveries_by_receiver ON deliveries (app_id, receiver, created_at);",
        )
        .unwrap();
        for (seq, app, receiver) in [
            (1, "app_A", "13800138000"),
            (2, "app_A", "用户@例子.cn"),
            (3, "app_B", "13800138000"),
        ] {
            conn.execute(
                "INSERT INTO deliveries (seq, id, message_id, app_id, template_id, channel,
                     account_id, receiver, receiver_json, variables, state, version,
                     created_at, updated_at)
                 VALUES (?1, 'dlv_' || ?1, 'msg_1', ?2, 'tpl_1', 'webhook', 'acc_1', ?3, '{}',
                     '{}', 'accepted', 0, 1, 1)",
                rusqlite::params![seq, app, receiver],
            )
            .unwrap();
        }
        assert!(matches(&conn, "app_A", "13800138000").is_empty());

        conn.execute_batch(SCHEMA).unwrap();
        assert_eq!(matches(&conn, "app_A", "13800138000"), vec![1]);
        assert_eq!(matches(&conn, "app_A", "用户@例子.cn"), vec![2]);
        assert_eq!(matches(&conn, "app_B", "13800138000"), vec![3]);
        assert!(matches(&conn, "app_B", "用户@例子.cn").is_empty());
        let old_index: i64 = conn
            .query_row(
                "SELECT count(*) FROM sqlite_master WHERE name = 'deliveries_by_receiver'",
                [],
                |row| row.get(0),
            )
            .unwrap();
        assert_eq!(old_index, 0);

        conn.execute_batch(SCHEMA).unwrap();
        assert_eq!(
            matches(&conn, "app_A", "13800138000"),
            vec![1],
            "a second open indexes nothing twice"
        );
    }

    #[test]
    fn receiver_keys_are_one_lowercase_hex_token_per_app_and_receiver() {
        assert_eq!(receiver_key("a", "B"), "r611f42");
        assert_ne!(receiver_key("app_1", "x"), receiver_key("app_2", "x"));
        assert_ne!(receiver_key("a", "bc"), receiver_key("ab", "c"));
    }
}
