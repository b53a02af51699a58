//! Herald's Alibaba Cloud channel family: **Alibaba Cloud SMS** (`aliyun_sms`), its receipt
//! endpoint and its simulator. Wiring: [`channels`] for `herald serve`, [`sim_routes`] for
//! `herald sim` (and the embedded sandbox), [`callback_routes`] for receipt pushes.
//!
//! ## `aliyun_sms` account `config`
//! | key | default | meaning |
//! |---|---|---|
//! | `endpoint` | `https://dysmsapi.aliyuncs.com` | base URL; `/sim/aliyun` = this node's simulator |
//! | `region` | — | without `endpoint`: `dysmsapi.<region>.aliyuncs.com` (e.g. `ap-southeast-1`); `cn-hangzhou` = the default |
//! | `sign_name` | — | default `SignName` (templates may override) |
//! | `signature_version` | `"v3"` | `"v3"` ACS3-HMAC-SHA256, or `"v1"` RPC HMAC-SHA1 |
//! | `timeout_ms` | `10000` | whole-request timeout (max 120 s); a timeout is `unknown`, reconciled with QuerySendDetails |
//! | `code_template` | `false` | the account sends verification codes: Herald counts 1/min, 5/h, 10/day per sign name + number (China-time clock windows) and holds excess sends back instead of calling |
//!
//! ## `aliyun_sms` account `secret`
//! | key | meaning |
//! |---|---|
//! | `access_key_id` | AccessKey ID (the simulator account's name) |
//! | `access_key_secret` | AccessKey secret (the simulator account's `secret`) |
//!
//! ## `aliyun_sms` template `fields`
//! | field | meaning |
//! |---|---|
//! | `template_code` | required: `TemplateCode` (`SMS_…`) |
//! | `sign_name` | optional: `SignName` for this template, overriding the account's |
//! | `param.<name>` | `TemplateParam["<name>"]`; render variables into it (`param.code = "{{ code }}"`) |
//! | `params` | optional JSON object merged into `TemplateParam` first (values sent as strings) |
//! | `sms_up_extend_code` | optional `SmsUpExtendCode` |
//!
//! The rendered `body`/`title` are not sent: Aliyun renders its own approved template.
//!
//! ## Outcomes and receipts
//! A send Aliyun accepted is `sent` with provider id = `BizId` (shared by a batch); the
//! receipt decides `delivered`/`failed`. Errors follow [`sms::errors`]. Operators register
//! **`https://<herald>/callbacks/aliyun/sms/report`** as the SMS receipt push URL (console →
//! 通用设置 → 订阅 SmsReport, HTTP batch push); see [`sms::receipts`]. Receipts match by
//! `out_id` (single sends) or by `biz_id` + phone number (batches).
//!
//! ## Simulator
//! `/sim/aliyun/…`, documented in [`sms::sim`]: accounts named by AccessKeyId with the
//! AccessKey secret as `secret`; `PUT /sim/aliyun/receipts-target {"url": …}` (or
//! `PUT /sim/aliyun/settings`) sets where receipts are pushed.

pub mod sms;

pub use sms::AliyunSmsChannel;

use herald_channels::sim::SimState;
use herald_channels::{CallbackDeps, ChannelDeps};
use herald_ports::Channel;
use std::sync::Arc;

/// The channels of this family: `aliyun_sms`.
pub fn channels(deps: &ChannelDeps) -> Vec<Arc<dyn Channel>> {
    vec![Arc::new(AliyunSmsChannel::new(deps.clone()))]
}

/// The simulators of this family, under `/sim/aliyun/…` (fresh simulator state per call).
pub fn sim_routes() -> axum::Router<SimState> {
    sms::sim::routes()
}

/// Receipt endpoints: `POST /callbacks/aliyun/sms/report`.
pub fn callback_routes(deps: CallbackDeps) -> axum::Router {
    sms::receipts::routes(deps)
}
