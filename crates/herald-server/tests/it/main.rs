//! End-to-end tests through the HTTP API of a real server started on port 0, with the
//! built-in simulators as the providers (the webhook sandbox, and every provider channel in
//! [`channels`]).

// The RocketMQ client (feature `rocketmq`) makes the server future deep enough to need more.
#![recursion_limit = "256"]

mod accept;
mod auth;
mod channels;
mod distributed;
mod harness;
mod idempotency;
mod lifecycle;
mod retry;
mod search;
