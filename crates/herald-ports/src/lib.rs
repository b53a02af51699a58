//! Herald's ports: the traits the engine is written against, and the conformance suites that
//! every backend must pass.
//!
//! | port | what it owns |
//! |---|---|
//! | [`Intake`] | the durable accept: records + tasks + idempotency entry as one unit |
//! | [`Queue`] | send, retry and result topics; leases, acks, delays, dead letters |
//! | [`Catalog`] | apps, API keys, templates (versioned), channel accounts |
//! | [`Records`] | message/delivery/attempt records, versioned state, search |
//! | [`Channel`] | one provider protocol: send, token refresh, reconcile |
//! | [`RateLimiter`] | pacing per channel account (and per receiver where providers demand) |
//! | [`TokenCache`] | provider access tokens shared by every worker and node |
//! | [`ReceiptSink`] | provider delivery reports turned into result events |
//! | [`Inbox`] | in-site messages per end user: store (deduplicated), list, count, mark |

pub mod catalog;
pub mod channel;
pub mod conformance;
pub mod error;
pub mod inbox;
pub mod intake;
pub mod queue;
pub mod rate;
pub mod receipt;
pub mod records;
pub mod settle;
pub mod token;

pub use catalog::Catalog;
pub use channel::{
    AccountContext, AccountDirectory, AwaitingReceipt, Channel, OutboundMessage, RenderedContent,
    SecretValue, SendResult,
};
pub use error::StoreError;
pub use inbox::{Inbox, InboxFilter, InboxItem, InboxPage, InboxState};
pub use intake::{AcceptBatch, AcceptCommit, IdempotencyEntry, Intake};
pub use queue::{DeadLetter, Leased, Queue, QueueCommit, QueueStats, Receipt, Topic};
pub use rate::RateLimiter;
pub use receipt::{ProviderReceipt, ReceiptSink};
pub use records::{
    DeliveryRef, DeliveryView, MessageView, Records, SearchFilter, SearchHit, SearchPage,
    StoredState,
};
pub use settle::Settle;
pub use token::{CachedToken, TokenCache};

/// A boxed, sendable future. Long-running loops and the server's start are handed out this
/// way on purpose: an `async fn`'s state machine is compiled in the crate that polls it
/// concretely, so returning `impl Future` made the binary crate compile the whole server
/// (43 s, alone at the end of a clean release build); boxed, each crate compiles its own,
/// in parallel with the others (BENCHMARKS.md, Build).
pub type BoxFuture<'a, T> = std::pin::Pin<Box<dyn std::future::Future<Output = T> + Send + 'a>>;
