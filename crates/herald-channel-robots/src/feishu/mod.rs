//! The Feishu (Lark) custom bot ("自定义机器人"): one message per `POST
//! {endpoint}/open-apis/bot/v2/hook/{hook_id}` with `{timestamp, sign, msg_type, content}`.
//!
//! - [`client`]: [`FeishuChannel`], the [`Channel`](herald_ports::Channel) implementation.
//! - [`errors`]: the error table below, as code.
//! - [`payload`]: the text / post / interactive body built from template content and fields.
//! - [`signing`]: the HMAC-SHA256 signature (key and message swapped vs DingTalk).
//! - [`sim`]: the simulator under `/sim/feishu/...`.
//!
//! Bots have no receipts: `code 0` means posted, so success is `Delivered`. There is no
//! dedup key to pass, so an `Unknown` (timeout) send is never resent blindly.
//!
//! ## Error table
//! | answer | outcome | code | notes |
//! |---|---|---|---|
//! | `code 0` (or legacy `StatusCode 0`) | `Delivered` | — | |
//! | `code 11232` (frequency limited) | `Retryable` | `11232` | `retry_after_ms` = `Retry-After` or 10 s |
//! | `code 2200` (Internal Error) | `Retryable` | `2200` | |
//! | `code 19021` (sign match fail or timestamp not within one hour) | `Permanent` | `19021` | fix the secret or the clock |
//! | `code 19001` (incoming webhook access token invalid) | `Permanent` | `19001` | wrong or deleted bot |
//! | `code 19024` (Key Words Not Found), `19022` (Ip Not Allowed), `9499` (Bad Request), any other | `Permanent` | the code | |
//! | HTTP 408/425/429/5xx without code | `Retryable` | `http_<status>` | `Retry-After` honoured |
//! | other HTTP status without code | `Permanent` | `http_<status>` | |
//! | HTTP 2xx without code | `Unknown` | `invalid_response` | |
//! | in-process window full (5/s, 100/min) | `Retryable` | `paced` | waits up to 1 s in-process first |
//! | connection refused, DNS | `Retryable` | `connect` | |
//! | timeout, broken connection | `Unknown` | `timeout`, `io` | the group may have the message |
//! | bad account config or template | `Permanent` | `config_invalid`, `template_invalid` | |

pub mod client;
pub mod errors;
pub mod payload;
pub mod signing;
pub mod sim;

pub use client::FeishuChannel;
