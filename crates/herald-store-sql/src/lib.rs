//! Herald's catalog, records and outbox intake on PostgreSQL and MySQL/MariaDB.
//!
//! One code base for both databases ([`db`]): statements are written once with `?`
//! placeholders and branch on [`Dialect`] only where the SQL differs; the schema is
//! versioned per database ([`migrate`]). Full-text search analyzes text with Herald's own
//! CJK bigram analyzer and indexes the tokens in a B-tree term table, so two-character
//! Chinese queries work on both (decision 0006). The state nodes must share — rate-limit
//! slot schedules and provider tokens — lives here too ([`shared`], decision 0009).

pub mod catalog;
pub mod db;
pub mod inbox;
pub mod intake;
pub mod migrate;
pub mod outbox;
pub mod records;
pub mod settle;
pub mod shared;
pub mod testing;

pub use catalog::SqlCatalog;
pub use db::{Dialect, SqlDb, SqlOptions};
pub use inbox::SqlInbox;
pub use intake::SqlIntake;
pub use migrate::{MIGRATIONS, Migration, migrate};
pub use outbox::{Outbox, OutboxRow};
pub use records::SqlRecords;
pub use settle::SqlSettle;
pub use shared::{SqlRateLimiter, SqlTokenCache, TokenSealer};
