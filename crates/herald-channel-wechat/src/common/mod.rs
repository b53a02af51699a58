//! What the WeChat Official Account and WeCom channels share: the call helper and reply
//! shape, flat XML, sliding-window counters, and the simulators' token table and replies.

pub mod call;
pub mod sim_tokens;
pub mod sim_util;
pub mod window;
pub mod xml;
