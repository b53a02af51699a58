//! Herald's group-robot channels (DingTalk, Feishu) and its email channel (SMTP), with the
//! robots' simulators.
//!
//! | module | what |
//! |---|---|
//! | [`dingtalk`] | DingTalk custom robot: client, error table, signing, simulator |
//! | [`feishu`] | Feishu (Lark) custom bot: client, error table, signing, simulator |
//! | [`email`] | SMTP via lettre (STARTTLS / TLS / plain), tested against a real SMTP server |
//! | [`pacing`] | in-process per-robot windows (20/min; 5/s and 100/min) |
//!
//! None of these providers sends receipts: success is `Delivered`, so there are no
//! callback routes. [`channels`] builds the three channels; [`sim_routes`] mounts the
//! DingTalk and Feishu simulators (email is tested against `scripts/smtp_sink.py`, a real
//! SMTP server on aiosmtpd; there is no built-in SMTP simulator).
//!
//! ## DingTalk (`ChannelKind::Dingtalk`)
//! | where | key | meaning |
//! |---|---|---|
//! | config | `endpoint` | base URL; default `https://oapi.dingtalk.com`; `/sim/dingtalk` = this node's simulator |
//! | config | `timeout_ms` | whole-request timeout (default 10000) → `unknown` |
//! | config | `rate_limit_per_minute` | in-process pacing per robot (default 20, DingTalk's limit; 0 = off) |
//! | secret | `access_token` | the robot webhook's `access_token` (required) |
//! | secret | `secret` | the `SEC…` signing secret when the robot uses 加签 (optional) |
//! | field | `msgtype` | `text` (default) or `markdown` (title = template title or the body's first line) |
//! | field | `at_mobiles`, `at_user_ids` | comma-separated mentions (`at.atMobiles`, `at.atUserIds`) |
//! | field | `at_all` | `true` → `at.isAtAll` |
//!
//! The receiver (`to`) names the audience for Herald's records only: the robot posts into
//! its one group.
//!
//! ## Feishu (`ChannelKind::Feishu`)
//! | where | key | meaning |
//! |---|---|---|
//! | config | `endpoint` | base URL; default `https://open.feishu.cn` (Lark: `https://open.larksuite.com`); `/sim/feishu` = simulator |
//! | config | `timeout_ms` | whole-request timeout (default 10000) → `unknown` |
//! | config | `rate_limit_per_minute` | in-process pacing per bot (default 100; 5/s always applies) |
//! | secret | `hook_id` | the webhook id, last segment of `…/open-apis/bot/v2/hook/<id>` (required) |
//! | secret | `secret` | the signing secret when the bot uses 签名校验 (optional) |
//! | field | `msg_type` | `text` (default), `post` (title + one paragraph per body line) or `interactive` |
//! | field | `card` | interactive card JSON (default: the body parsed as JSON) |
//! | field | `at_user_ids` | comma-separated open ids / user ids to mention |
//! | field | `at_all` | `true` → mention everyone |
//!
//! ## Email (`ChannelKind::Email`)
//! | where | key | meaning |
//! |---|---|---|
//! | config | `host` | SMTP server (required) |
//! | config | `port` | default 587 (`starttls`), 465 (`tls`), 25 (`none`) |
//! | config | `tls` | `starttls` (default; required, not opportunistic), `tls` (implicit), `none` |
//! | config | `from` | sender mailbox, `Name <addr>` or `addr` (required); its domain ends the `Message-ID` |
//! | config | `timeout_ms` | per message, connect included (default 10000) |
//! | config | `hello_name` | `EHLO` name (default this host's name) |
//! | secret | `username`, `password` | SMTP AUTH (PLAIN or LOGIN); both or neither; over `none` only to loopback |
//! | field | `html` | HTML alternative: the mail becomes `multipart/alternative` (text = body) |
//! | field | `reply_to` | `Reply-To` mailbox |
//!
//! The receiver (`to`) is the recipient address; the template title is the `Subject`.
//!
//! ## Simulator routes ([`sim_routes`])
//! | route | what |
//! |---|---|
//! | `POST /sim/dingtalk/robot/send?access_token=&timestamp=&sign=` | DingTalk robot ([`dingtalk::sim`]); sim account = access_token, secret = signing secret |
//! | `GET /sim/dingtalk/robots/{access_token}/received?limit=N` | what a DingTalk robot posted |
//! | `POST /sim/feishu/open-apis/bot/v2/hook/{id}` | Feishu bot ([`feishu::sim`]); sim account = hook id, secret = signing secret |
//! | `GET /sim/feishu/hooks/{id}/received?limit=N` | what a Feishu bot posted |

pub mod dingtalk;
pub mod email;
pub mod feishu;
pub mod pacing;
mod robot;
mod sim_common;

pub use dingtalk::DingtalkChannel;
pub use email::EmailChannel;
pub use feishu::FeishuChannel;

use herald_channels::ChannelDeps;
use herald_channels::sim::SimState;
use herald_ports::Channel;
use std::sync::Arc;

/// The DingTalk, Feishu and email channels.
pub fn channels(deps: &ChannelDeps) -> Vec<Arc<dyn Channel>> {
    vec![
        Arc::new(DingtalkChannel::new(deps.clone())),
        Arc::new(FeishuChannel::new(deps.clone())),
        Arc::new(EmailChannel::new()),
    ]
}

/// The DingTalk and Feishu simulators, under `/sim/dingtalk/...` and `/sim/feishu/...`.
pub fn sim_routes() -> axum::Router<SimState> {
    axum::Router::new()
        .merge(dingtalk::sim::routes())
        .merge(feishu::sim::routes())
}
