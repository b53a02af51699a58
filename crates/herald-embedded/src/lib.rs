//! Herald's embedded default: catalog, records, idempotency and the durable queue in **one**
//! SQLite database (`herald-data/herald.db`), written by a single group-committing writer.
//!
//! Keeping them in one file is what makes the write paths cheap and safe: a keyed request's
//! message records, queue tasks and idempotency entry commit in one transaction — one fsync
//! shared with every other request in the same group — and a dispatcher's ack plus its
//! result event commit together too. See `docs/decisions/0002-embedded-single-sqlite.md`.
//! Accepts without a key are first made durable in a small second file, `journal.db`, and
//! indexed into `herald.db` in batches (`journal`, decision 0016).

mod backlog;
pub mod catalog;
pub mod db;
pub mod inbox;
pub mod intake;
pub mod journal;
pub mod open;
pub mod queue;
pub mod records;
pub mod search_text;
pub mod settle;
#[cfg(feature = "sql-profile")]
pub mod sql_profile;
mod writer;

pub use db::{CommitStats, Db, DbOptions};
pub use intake::EmbeddedIntake;
pub use open::{Embedded, EmbeddedOptions};
pub use queue::{EmbeddedQueue, QueueOptions};
pub use settle::EmbeddedSettle;
