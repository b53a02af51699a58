//! Alibaba Cloud SMS (dysmsapi, version 2017-05-25).
//!
//! - [`client`]: [`AliyunSmsChannel`]; SendSms per message (`OutId` = delivery id), or one
//!   SendBatchSms (≤ 100 numbers) per group of messages sharing a template code
//!   (`SignNameJson` carries each number's sign name).
//! - [`rpc`] and [`signing`]: the signed RPC call (ACS3-HMAC-SHA256 by default, RPC
//!   HMAC-SHA1 on request).
//! - [`errors`]: the error table. [`reconcile`]: QuerySendDetails after an `Unknown` send.
//! - [`limits`] and [`clock`]: per-number flow control in China-time clock windows.
//! - [`receipts`]: the receipt push endpoint. [`template`]: template fields → parameters.
//! - [`sim`]: the simulator under `/sim/aliyun/`.

pub mod client;
pub mod clock;
pub mod config;
pub mod errors;
pub mod limits;
pub mod poll;
pub mod receipts;
pub mod reconcile;
pub mod rpc;
pub mod signing;
pub mod sim;
pub mod template;

pub use client::AliyunSmsChannel;
