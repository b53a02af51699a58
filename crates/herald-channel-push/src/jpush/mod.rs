//! JPush (极光推送) REST API v3.
//!
//! - [`client`]: [`JpushChannel`], `POST /v3/push` with Basic authentication; batches of up to
//!   1,000 registration ids per call (`max_batch`), one call per distinct content.
//! - [`errors`]: the error table below, as code.
//! - [`sim`]: the simulator (`/sim/jpush/v3/push`).
//!
//! ## Request
//! `POST {endpoint}/v3/push`, `Authorization: Basic base64(appKey:masterSecret)`, body
//! `{"platform": "all", "audience": {"registration_id": [..]}, "notification": {"alert":
//! body, "android": {"alert", "title"?, "extras"?}, "ios": {"alert": body | {title, body},
//! "extras"?}}, "options": {"apns_production": bool}}` → `{"sendno", "msg_id"}`. Every
//! message of one call gets the same outcome; provider id = `msg_id`. JPush has no dedup key,
//! so timeouts stay `Unknown`.
//!
//! ## Error table
//! | JPush answer | outcome | code | notes |
//! |---|---|---|---|
//! | 200 `{sendno, msg_id}` | `Delivered` | — | for every message of the call |
//! | `1011` no target | `Permanent` | `unregistered` | every registration id of the call marked dead |
//! | `1004` authentication failed (401) | `Permanent` | `jpush_1004` | fix appKey/masterSecret |
//! | `1002`/`1003` missing/invalid parameter, `1005` too long, other codes | `Permanent` | `jpush_<code>` | |
//! | `2002` rate limit (429) | `Retryable` | `jpush_2002` | after `X-Rate-Limit-Reset` seconds |
//! | `2003` app restricted | `Retryable` | `jpush_2003` | treated as a (long) throttle |
//! | `1000` server error, `1030` internal timeout | `Retryable` | `jpush_<code>` | |
//! | non-JSON 408/429/5xx | `Retryable` | `http_<status>` | |
//! | connection refused / DNS | `Retryable` | `connect` | |
//! | timeout, broken connection | `Unknown` | `timeout` / `io` | |
//! | bad config (no app_key / master_secret) | `Permanent` | `config_invalid` | |

pub mod client;
pub mod errors;
pub mod sim;

pub use client::JpushChannel;
