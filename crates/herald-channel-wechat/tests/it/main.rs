//! Integration tests: the real clients against their simulators served on `127.0.0.1:0`,
//! Herald's WeChat callback endpoint on the same server, and raw HTTP for what a
//! well-behaved client never sends.

mod callback;
mod support;
mod wechat_oa;
mod wechat_sim;
mod wecom_app;
mod wecom_robot;
