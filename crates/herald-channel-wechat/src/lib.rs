//! Herald's WeChat family of channels: WeChat Official Account messages (`wechat_oa`), WeCom
//! application messages (`wecom_app`) and WeCom group robots (`wecom_robot`) — clients,
//! error tables, the WeChat callback endpoint and faithful simulators.
//!
//! | module | what |
//! |---|---|
//! | [`wechat_oa`] | template + subscribe messages, stable_token, TEMPLATESENDJOBFINISH receipts |
//! | [`wecom_app`] | application messages to ≤ 1,000 members a call, per-member limits |
//! | [`wecom_robot`] | group robot webhooks |
//! | [`common`] | call helper, flat XML, sliding windows, simulator tokens and replies |
//!
//! Wiring: [`channels`] builds the three channels, [`sim_routes`] the simulators (merge into
//! `herald_channels::sim::router_with`), [`callback_routes`] the WeChat callback endpoint.
//! Every account may set `endpoint` (default: the production API; `/sim/wechat` or
//! `/sim/wecom` for the built-in simulators) and `timeout_ms` (default 10,000; a timeout
//! is `unknown`, never resent blindly).
//!
//! ## `wechat_oa` — WeChat Official Account
//! | where | key | meaning |
//! |---|---|---|
//! | config | `appid` (required) | the Official Account's AppID |
//! | config | `endpoint`, `timeout_ms` | see above (production `https://api.weixin.qq.com`) |
//! | config | `callback_token` | the console's server Token; needed for receipts |
//! | secret | `app_secret` (required) | the AppSecret (tokens via `POST /cgi-bin/stable_token`) |
//! | secret | `encoding_aes_key` | the 43-character EncodingAESKey, for safe-mode callbacks |
//! | field | `kind` | `template` (default; `Sent`, receipt follows) or `subscribe` (`Delivered`, no receipt) |
//! | field | `template_id` (required) | the template |
//! | field | `data.<key>` (at least one) | becomes `data: {<key>: {value}}` |
//! | field | `color.<key>` | template messages: the value's colour |
//! | field | `url` / `page` | link of a template / page of a subscribe message |
//! | field | `miniprogram_appid`, `miniprogram_pagepath` | open a mini program instead |
//!
//! The receiver is the user's OpenID; the delivery id is sent as `client_msg_id` (WeChat
//! sends one message per OpenID and id within 10 minutes). Token cache key `wechat:<appid>`.
//! Receipts: register `https://<herald>/callbacks/wechat/{app_id}/{account_id}` (Herald app
//! id and channel-account id) as the server URL, with the same Token and, in safe mode, the
//! same EncodingAESKey; see [`wechat_oa::callback`]. Error table: [`wechat_oa::errors`].
//!
//! ## `wecom_app` — WeCom application messages
//! | where | key | meaning |
//! |---|---|---|
//! | config | `corpid`, `agentid` (required) | the corp and the application's AgentId |
//! | config | `endpoint`, `timeout_ms` | see above (production `https://qyapi.weixin.qq.com`) |
//! | config | `per_member_per_minute`, `per_member_per_hour` | lower WeCom's 30 / 1,000 per member (never higher) |
//! | secret | `corpsecret` (required) | the application's Secret (`GET /cgi-bin/gettoken`) |
//! | field | `msgtype` | `text` (default), `textcard` or `markdown`; the content is the body |
//! | field | `title`, `url`, `btntxt` | textcard title (default: the template title), link (required) and button |
//! | field | `safe` | `1` = confidential message |
//! | field | `duplicate_check_interval` | seconds (default 1,800, at most 14,400); the duplicate check is always on |
//!
//! The receiver is the member's UserID; up to 1,000 receivers with the same content share a
//! call (`max_batch` 1,000). Token cache key `wecom:<corpid>:<agentid>`. Error table:
//! [`wecom_app::errors`]; limits: [`wecom_app::limits`].
//!
//! ## `wecom_robot` — WeCom group robot
//! | where | key | meaning |
//! |---|---|---|
//! | config | `endpoint`, `timeout_ms` | see above (production `https://qyapi.weixin.qq.com`) |
//! | secret | `key` (required) | the robot's webhook key |
//! | field | `msgtype` | `text` (default) or `markdown`; the content is the body |
//! | field | `mentioned_list`, `mentioned_mobile_list` | text only: comma-separated UserIDs / mobiles to @ (`@all` allowed) |
//!
//! The receiver names the target group (any text; the key decides where it goes); one call
//! per message. Error table: [`wecom_robot::errors`].

pub mod common;
pub mod wechat_oa;
pub mod wecom_app;
pub mod wecom_robot;

use herald_channels::sim::SimState;
use herald_channels::{CallbackDeps, ChannelDeps};
use herald_ports::Channel;
use std::sync::Arc;

pub use wechat_oa::WechatOaChannel;
pub use wecom_app::WecomAppChannel;
pub use wecom_robot::WecomRobotChannel;

/// The three channels of this family, sharing `deps` (HTTP pool, token cache, node base URL).
pub fn channels(deps: &ChannelDeps) -> Vec<Arc<dyn Channel>> {
    vec![
        Arc::new(WechatOaChannel::new(deps.clone())),
        Arc::new(WecomAppChannel::new(deps.clone())),
        Arc::new(WecomRobotChannel::new(deps.clone())),
    ]
}

/// The simulators: `/sim/wechat/...` (Official Account) and `/sim/wecom/...` (applications
/// and robots). Each call makes fresh simulator state (tokens, settings, windows).
pub fn sim_routes() -> axum::Router<SimState> {
    axum::Router::new()
        .merge(wechat_oa::sim::routes())
        .merge(wecom_app::sim::routes())
        .merge(wecom_robot::sim::routes())
}

/// Herald's WeChat callback endpoint: `GET/POST /callbacks/wechat/{app_id}/{account_id}`.
pub fn callback_routes(deps: CallbackDeps) -> axum::Router {
    wechat_oa::callback::routes(deps)
}
