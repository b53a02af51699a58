//! The webhook channel: a signed JSON `POST` to the account's URL. It is Herald's sandbox
//! channel too: a relative account URL (`/sim/webhook/demo`) points at the built-in simulator
//! of the same node.
//!
//! - [`client`]: [`WebhookChannel`], the [`Channel`](herald_ports::Channel) implementation.
//! - [`errors`]: the error table below, as code.
//! - [`payload`]: the body and header names an integrator's endpoint sees.
//! - [`signature`]: `v1` HMAC-SHA256 signing and verification, shared with the simulator.
//! - [`sim`]: the simulator's `POST /sim/webhook/{name}` endpoint.
//!
//! Account config: `{"url": "https://…" | "/sim/webhook/<name>", "timeout_ms": 10000}`;
//! account secret: `{"signing_secret": "…"}` (optional; without it no signature is sent).
//!
//! ## Request
//! `POST url`, body `{"id", "message_id", "app_id", "receiver": {"to", "timezone"?, "locale"?},
//! "title"?, "body", "fields"?, "attempt", "timestamp"}`, headers `content-type:
//! application/json`, `herald-id: <delivery id>` (the receiver's dedup key, the same on every
//! retry), `herald-timestamp: <unix secs>`, `herald-signature: v1=<hex>`.
//!
//! ## Error table
//! | receiver's answer | outcome | code | notes |
//! |---|---|---|---|
//! | 2xx | `Delivered` | — | `provider_id` = response `x-request-id` |
//! | 408, 425, 429, 5xx | `Retryable` | `http_<status>` | `retry_after_ms` from `Retry-After` (seconds or HTTP-date), capped at 1 h |
//! | other 4xx (and 1xx/3xx) | `Permanent` | `http_<status>` | the endpoint refuses this request; a resend would too |
//! | connection refused, DNS failure | `Retryable` | `connect` | the request never left |
//! | timeout | `Unknown` | `timeout` | it may have arrived: never resend blindly |
//! | connection broken mid-request | `Unknown` | `io` | same |
//! | bad account config (no url, relative url without local base, bad URL) | `Permanent` | `config_invalid` | fix the account, then replay |
//!
//! Webhooks have no receipts, so success is `Delivered`, never `Sent`; there is no provider to
//! ask about an `Unknown` send, so `reconcile` stays `None` — receivers dedupe by `herald-id`.

pub mod client;
pub mod errors;
pub mod payload;
pub mod signature;
pub mod sim;

pub use client::WebhookChannel;
