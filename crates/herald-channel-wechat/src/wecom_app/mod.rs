//! WeCom application messages (`wecom_app`): text, textcard and markdown to members.
//!
//! - [`client`]: [`WecomAppChannel`]; tokens from `GET /cgi-bin/gettoken`, cached under
//!   `wecom:<corpid>:<agentid>`; one `POST /cgi-bin/message/send` per content and 1,000
//!   distinct members, with `enable_duplicate_check: 1`.
//! - [`limits`]: the per-member limits Herald enforces before sending.
//! - [`payload`]: bodies from template fields.
//! - [`errors`]: the error table.
//! - [`sim`]: the simulator under `/sim/wecom`.

pub mod client;
pub mod errors;
pub mod limits;
pub mod payload;
pub mod sim;

pub use client::WecomAppChannel;
