//! Test support shared by the channel crates' integration tests (feature `testing`).
//!
//! Every provider crate tests its client against its simulator served on `127.0.0.1:0`;
//! what that takes is the same everywhere, so it lives here once:
//!
//! | item | what |
//! |---|---|
//! | [`SimServer`] | a router on a random local port until dropped, with [`ChannelDeps`](crate::ChannelDeps) and JSON helpers |
//! | [`RecordingSink`] | a [`ReceiptSink`](herald_ports::ReceiptSink) keeping what callbacks hand to the engine |
//! | [`MemoryDirectory`] | an [`AccountDirectory`](herald_ports::AccountDirectory) of registered accounts |
//! | [`account`], [`message`], [`send_one`] | fixtures for one send through a [`Channel`](herald_ports::Channel) |
//!
//! Test code: helpers panic (with the failing path) instead of returning errors.

mod callbacks;
mod fixtures;
mod server;

pub use callbacks::{MemoryDirectory, RecordingSink};
pub use fixtures::{account, message, send_one, unix_millis, unix_now};
pub use server::{RawResponse, SimServer, post_raw_with};
