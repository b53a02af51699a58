//! Herald's channels: one folder per provider holding its client (the
//! [`Channel`](herald_ports::Channel) implementation), its error table and its simulator.
//!
//! | module | what |
//! |---|---|
//! | [`webhook`] | signed JSON POSTs; also the sandbox channel |
//! | [`sim`] | the simulator framework: shared state, counters, fault injection, `/sim` router |
//! | [`registry`] | [`Channels`]: channel implementations by kind, for the engine |
//! | [`http`] | `Retry-After` and transport-failure classification shared by HTTP providers |
//! | `testing` | (feature `testing`) the harness provider crates' integration tests share |
//!
//! Provider folders to come follow `webhook/`: `client.rs`, `errors.rs` (the table),
//! `sim.rs` (routes merged by [`sim::router`]).

pub mod deps;
pub mod http;
pub mod registry;
pub mod sim;
#[cfg(feature = "testing")]
pub mod testing;
pub mod token;
pub mod webhook;

pub use deps::{CallbackDeps, ChannelDeps};
pub use registry::{Channels, ChannelsError, http_client};
pub use webhook::WebhookChannel;
