//! Getui (个推) UniPush REST API v2.
//!
//! - [`client`]: [`GetuiChannel`], `push/single/cid` per delivery with the auth token cached
//!   through the shared token cache under `getui:<appId>` (24 h, refreshed 5 min early).
//! - [`signing`]: the auth `sign` and the `request_id` derived from the delivery id.
//! - [`errors`]: the error table below, as code.
//! - [`sim`]: the simulator (`/sim/getui/v2/{appId}/…`).
//!
//! ## Request
//! `POST {endpoint}/v2/{appId}/auth` `{"sign": hex(sha256(appkey + timestamp + mastersecret)),
//! "timestamp": "<ms>", "appkey"}` → `{"code": 0, "data": {"token", "expire_time"}}`; then
//! `POST {endpoint}/v2/{appId}/push/single/cid`, header `token`, body `{"request_id": <delivery
//! id, letters and digits>, "audience": {"cid": [<receiver>]}, "push_message":
//! {"notification": {"title", "body", "click_type", "url"?, "intent"?, "payload"?}}}`. The
//! `request_id` is the same on every retry, so Getui drops a resend after `Unknown`.
//!
//! ## Error table
//! | Getui answer | outcome | code | notes |
//! |---|---|---|---|
//! | `code` 0 | `Delivered` | — | provider id = the task id |
//! | `10001` token wrong/expired (401) | `TokenExpired` | `getui_10001` | cached token dropped; `refresh_token` authenticates again |
//! | `21001` target user invalid | `Permanent` | `unregistered` | cid marked dead (mapping unverified) |
//! | `20001` invalid parameter (400) | `Permanent` | `getui_20001` | |
//! | `10002` blacklisted, `30000`-range package limits, other codes | `Permanent` | `getui_<code>` | |
//! | `10003`/`10005` per-minute auth/call limit, `30014`/`30015` push frequency, `2` starting | `Retryable` | `getui_<code>` | |
//! | other 408/429/5xx | `Retryable` | `getui_<code>` or `http_<status>` | |
//! | auth refused (non-zero code) | `Permanent` | `credentials_rejected` | fix appkey/mastersecret |
//! | auth 5xx / unreachable / `10003` | `Retryable` | `token_unavailable` | |
//! | connection refused / DNS | `Retryable` | `connect` | |
//! | timeout, broken connection | `Unknown` | `timeout` / `io` | |
//! | bad config (no app_id/app_key/master_secret) | `Permanent` | `config_invalid` | |

pub mod client;
pub mod errors;
pub mod signing;
pub mod sim;

pub use client::GetuiChannel;
