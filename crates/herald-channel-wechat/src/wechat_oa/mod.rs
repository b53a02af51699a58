//! WeChat Official Account (`wechat_oa`): template messages and subscribe messages.
//!
//! - [`client`]: [`WechatOaChannel`]; access tokens from `POST /cgi-bin/stable_token`,
//!   cached under `wechat:<appid>` in the shared token cache, refreshed 5 minutes early and
//!   after 40001/40014/42001 (the rejected token is dropped, `refresh_token` refetches, and
//!   forces a new one if WeChat hands the rejected token back).
//! - [`payload`]: the request bodies built from the template fields.
//! - [`errors`]: the error table.
//! - [`signing`]: callback signatures and safe-mode AES, shared with the simulator.
//! - [`callback`]: `GET/POST /callbacks/wechat/{app_id}/{account_id}` (URL check, receipts).
//! - [`sim`]: the simulator under `/sim/wechat`.

pub mod callback;
pub mod client;
pub mod errors;
pub mod payload;
pub mod signing;
pub mod sim;

pub use client::WechatOaChannel;
