//! The library half of the `herald` binary: configuration, command-line shapes, the benchmark
//! and the API client commands, kept in a library so their tests and public helpers (such as
//! [`config::Config`]) are reachable without going through `main`. The server and simulator
//! entry points live beside `main.rs` in the binary.

pub mod bench;
pub mod cli;
pub mod client;
pub mod config;
pub mod healthcheck;
pub mod logging;
