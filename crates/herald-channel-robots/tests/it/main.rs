//! Integration tests: the real DingTalk and Feishu clients against their simulators served
//! on `127.0.0.1:0` (plus raw requests a well-behaved client never sends), and the email
//! channel against a real SMTP server (`scripts/smtp_sink.py`, aiosmtpd).

mod dingtalk;
mod email;
mod feishu;
mod support;
