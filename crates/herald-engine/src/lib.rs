//! Herald's engine: everything between the HTTP API and the ports.
//!
//! - [`accept`]: validate a send request, assign ids, commit records + tasks durably;
//! - [`dispatch`]: consume send/retry tasks → policies → render → rate permit → channel →
//!   classify → result events, retries and dead letters;
//! - [`results`]: apply result events to the records store;
//! - [`manage`]: apps, API keys, templates and accounts, with validation and caches;
//! - [`render`], [`crypto`], [`rate`], [`cache`]: the pieces those share.

pub mod accept;
pub mod cache;
pub mod crypto;
pub mod dispatch;
pub mod engine;
pub mod error;
pub mod manage;
pub mod metrics;
pub mod rate;
pub mod receipts;
pub mod render;
pub mod results;

pub use engine::{Engine, EngineDeps, EngineSettings, Principal};
pub use error::{EngineError, ItemError};
pub use metrics::EngineMetrics;
