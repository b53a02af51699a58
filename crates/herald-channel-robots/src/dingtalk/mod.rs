//! The DingTalk custom group robot ("自定义机器人"): one message per `POST
//! {endpoint}/robot/send?access_token=T[&timestamp=ms&sign=S]` with a JSON body.
//!
//! - [`client`]: [`DingtalkChannel`], the [`Channel`](herald_ports::Channel) implementation.
//! - [`errors`]: the error table below, as code.
//! - [`payload`]: the text/markdown body built from template content and fields.
//! - [`signing`]: the HMAC-SHA256 "加签" signature, shared with the simulator.
//! - [`sim`]: the simulator under `/sim/dingtalk/...`.
//!
//! Robots have no receipts: a robot that answered `errcode 0` has posted into its group,
//! so success is `Delivered`. There is no dedup key to pass, so Herald never resends an
//! `Unknown` (timeout) send by itself, and `reconcile` stays `None`.
//!
//! ## Error table
//! | answer | outcome | code | notes |
//! |---|---|---|---|
//! | `errcode 0` | `Delivered` | — | no provider message id exists |
//! | `errcode 130101` (send too fast) | `Retryable` | `130101` | `retry_after_ms` = 10 min: DingTalk mutes the robot that long; the client also stops sending to it for 10 min |
//! | `errcode -1` (系统繁忙) | `Retryable` | `-1` | |
//! | `errcode 310000` (sign not match, invalid timestamp, keywords not in content, IP not allowed) | `Permanent` | `310000` | fix the secret, the clock, the keywords or the IP allow list |
//! | `errcode 300001`/`300005` (token is not exist) | `Permanent` | `300001` | wrong or deleted robot |
//! | any other `errcode` | `Permanent` | the errcode | |
//! | HTTP 408/425/429/5xx without errcode | `Retryable` | `http_<status>` | `Retry-After` honoured |
//! | other HTTP status without errcode | `Permanent` | `http_<status>` | |
//! | HTTP 2xx without errcode | `Unknown` | `invalid_response` | |
//! | in-process window full (20/min) | `Retryable` | `paced` | waits up to 1 s in-process first |
//! | connection refused, DNS | `Retryable` | `connect` | |
//! | timeout, broken connection | `Unknown` | `timeout`, `io` | the group may have the message |
//! | bad account config or template | `Permanent` | `config_invalid`, `template_invalid` | |

pub mod client;
pub mod errors;
pub mod payload;
pub mod signing;
pub mod sim;

pub use client::DingtalkChannel;
