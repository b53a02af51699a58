//! The channels Herald delivers through, and what a valid receiver looks like on each.
//!
//! A template fixes its channel; receivers are validated against it at accept time so a
//! malformed phone number or device token is a 422, never a queued task that fails later.

use serde::{Deserialize, Serialize};
use std::fmt;

/// A delivery channel (one provider protocol).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChannelKind {
    /// Signed JSON POST to an HTTP endpoint; also the sandbox channel.
    Webhook,
    AliyunSms,
    WechatOa,
    WecomApp,
    WecomRobot,
    Fcm,
    Apns,
    Jpush,
    Getui,
    Inbox,
    Email,
    Dingtalk,
    Feishu,
}

impl ChannelKind {
    pub const ALL: [ChannelKind; 13] = [
        Self::Webhook,
        Self::AliyunSms,
        Self::WechatOa,
        Self::WecomApp,
        Self::WecomRobot,
        Self::Fcm,
        Self::Apns,
        Self::Jpush,
        Self::Getui,
        Self::Inbox,
        Self::Email,
        Self::Dingtalk,
        Self::Feishu,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Webhook => "webhook",
            Self::AliyunSms => "aliyun_sms",
            Self::WechatOa => "wechat_oa",
            Self::WecomApp => "wecom_app",
            Self::WecomRobot => "wecom_robot",
            Self::Fcm => "fcm",
            Self::Apns => "apns",
            Self::Jpush => "jpush",
            Self::Getui => "getui",
            Self::Inbox => "inbox",
            Self::Email => "email",
            Self::Dingtalk => "dingtalk",
            Self::Feishu => "feishu",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|c| c.as_str() == s)
    }

    /// What a receiver identifier is on this channel, for error messages.
    pub fn receiver_kind(self) -> &'static str {
        match self {
            Self::AliyunSms => "a phone number (digits, optional leading +, 6 to 20 digits)",
            Self::WechatOa => "an OpenID (1 to 64 letters, digits, '-' or '_')",
            Self::WecomApp => "a WeCom user id (1 to 64 letters, digits, '.', '@', '-' or '_')",
            Self::Fcm | Self::Jpush | Self::Getui => {
                "a device token (letters, digits, ':', '-' or '_')"
            }
            Self::Apns => "an APNs device token (64 to 200 hex digits)",
            Self::Email => "an email address",
            Self::Inbox => "an end-user id (1 to 128 characters, no spaces)",
            Self::Webhook | Self::WecomRobot | Self::Dingtalk | Self::Feishu => {
                "a receiver id (1 to 256 printable characters)"
            }
        }
    }

    /// Checks that `to` is a receiver this channel can address.
    pub fn validate_receiver(self, to: &str) -> Result<(), String> {
        let ok = match self {
            Self::AliyunSms => {
                let digits = to.strip_prefix('+').unwrap_or(to);
                (6..=20).contains(&digits.len()) && digits.bytes().all(|b| b.is_ascii_digit())
            }
            Self::WechatOa => {
                within(to, 1, 64)
                    && to
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
            }
            Self::WecomApp => {
                within(to, 1, 64)
                    && to
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b"-_.@".contains(&b))
            }
            Self::Fcm | Self::Jpush | Self::Getui => {
                within(to, 8, 4096)
                    && to
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b"-_:".contains(&b))
            }
            Self::Apns => within(to, 64, 200) && to.bytes().all(|b| b.is_ascii_hexdigit()),
            Self::Email => is_email(to),
            Self::Inbox => {
                within(to, 1, 128) && !to.chars().any(|c| c.is_whitespace() || c.is_control())
            }
            Self::Webhook | Self::WecomRobot | Self::Dingtalk | Self::Feishu => {
                within(to, 1, 256) && !to.chars().any(char::is_control)
            }
        };
        if ok {
            Ok(())
        } else {
            Err(format!("must be {}", self.receiver_kind()))
        }
    }
}

fn within(s: &str, min: usize, max: usize) -> bool {
    (min..=max).contains(&s.chars().count())
}

fn is_email(s: &str) -> bool {
    let Some((local, domain)) = s.rsplit_once('@') else {
        return false;
    };
    within(s, 3, 254)
        && !local.is_empty()
        && !local.chars().any(|c| c.is_whitespace() || c.is_control())
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && domain
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.')
}

impl fmt::Display for ChannelKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn receivers_are_checked_per_channel() {
        assert!(
            ChannelKind::AliyunSms
                .validate_receiver("13800138000")
                .is_ok()
        );
        assert!(
            ChannelKind::AliyunSms
                .validate_receiver("+8613800138000")
                .is_ok()
        );
        assert!(
            ChannelKind::AliyunSms
                .validate_receiver("1380013800x")
                .is_err()
        );
        assert!(
            ChannelKind::Email
                .validate_receiver("a@example.com")
                .is_ok()
        );
        assert!(
            ChannelKind::Email
                .validate_receiver("not-an-email")
                .is_err()
        );
        assert!(
            ChannelKind::Apns
                .validate_receiver(&"ab".repeat(32))
                .is_ok()
        );
        assert!(ChannelKind::Apns.validate_receiver("xyz").is_err());
        assert!(ChannelKind::Webhook.validate_receiver("user-1").is_ok());
        assert!(ChannelKind::Webhook.validate_receiver("").is_err());
        for c in ChannelKind::ALL {
            assert_eq!(ChannelKind::parse(c.as_str()), Some(c));
        }
    }
}
