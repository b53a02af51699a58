//! Per-app settings of the WeChat simulator (what the WeChat console would hold), set with
//! `PUT /sim/wechat/apps/{appid}`, and the counters `GET` shows next to them.

use crate::wechat_oa::signing::AesKey;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// How the simulator pushes events to the app's server URL.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CallbackMode {
    /// Plain XML, `signature` in the query.
    #[default]
    Plain,
    /// Safe mode: `encrypt_type=aes`, `msg_signature`, the event AES-encrypted in `Encrypt`.
    Safe,
}

/// The app's server configuration (console "服务器配置").
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CallbackTarget {
    /// Where events go, e.g. `http://127.0.0.1:8080/callbacks/wechat/<app>/<account>`.
    pub url: String,
    /// The console Token (Herald's account config `callback_token`).
    pub token: String,
    #[serde(default)]
    pub mode: CallbackMode,
    /// 43 characters; required in safe mode (Herald's account secret `encoding_aes_key`).
    #[serde(default, skip_serializing)]
    pub encoding_aes_key: Option<String>,
}

impl std::fmt::Debug for CallbackTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CallbackTarget")
            .field("url", &self.url)
            .field("mode", &self.mode)
            .finish_non_exhaustive()
    }
}

/// How one simulated Official Account behaves.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AppSettings {
    /// Lifetime of issued tokens (7,200 s like WeChat; shorten it to test expiry).
    pub token_ttl_secs: u64,
    /// How long a token replaced by `/cgi-bin/token` keeps working (WeChat: 5 minutes).
    pub token_overlap_secs: u64,
    /// Messages per China day before 45009 (0 = unlimited).
    pub daily_quota: u64,
    /// Known templates and their data keys; empty = any well-formed template id is accepted.
    pub templates: BTreeMap<String, Vec<String>>,
    /// The account's original id, `ToUserName` of pushed events.
    pub original_id: String,
    /// Where TEMPLATESENDJOBFINISH events go; none = no pushes.
    pub callback: Option<CallbackTarget>,
    /// Delay before an event is pushed (WeChat's arrive seconds after the send).
    pub receipt_delay_ms: u64,
}

impl Default for AppSettings {
    fn default() -> Self {
        Self {
            token_ttl_secs: 7200,
            token_overlap_secs: 300,
            daily_quota: 0,
            templates: BTreeMap::new(),
            original_id: "gh_0123456789ab".into(),
            callback: None,
            receipt_delay_ms: 100,
        }
    }
}

impl AppSettings {
    /// Checks the settings; the message names the offending field.
    pub fn validate(&self) -> Result<(), String> {
        if self.token_ttl_secs == 0 {
            return Err("token_ttl_secs: must be at least 1".into());
        }
        if let Some(callback) = &self.callback {
            if !(callback.url.starts_with("http://") || callback.url.starts_with("https://")) {
                return Err("callback.url: must be an http(s) URL".into());
            }
            if callback.token.is_empty() {
                return Err("callback.token: required".into());
            }
            match (&callback.mode, &callback.encoding_aes_key) {
                (CallbackMode::Safe, None) => {
                    return Err("callback.encoding_aes_key: required in safe mode".into());
                }
                (_, Some(key)) if AesKey::from_encoding_key(key).is_err() => {
                    return Err("callback.encoding_aes_key: must be 43 base64 characters".into());
                }
                _ => {}
            }
        }
        Ok(())
    }

    /// Stable tokens are renewed in their last 5 minutes (half the lifetime when shorter).
    pub fn renew_before_ms(&self) -> i64 {
        (self.token_ttl_secs as i64 * 1000 / 2).min(300_000)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn safe_mode_needs_a_valid_key() {
        let mut settings: AppSettings = serde_json::from_value(serde_json::json!({
            "callback": {"url": "http://h/cb", "token": "t", "mode": "safe"}
        }))
        .unwrap();
        assert!(
            settings
                .validate()
                .unwrap_err()
                .starts_with("callback.encoding_aes_key")
        );
        if let Some(cb) = settings.callback.as_mut() {
            cb.encoding_aes_key = Some("a".repeat(43));
        }
        assert_eq!(settings.validate(), Ok(()));
        let shown = serde_json::to_string(&settings).unwrap();
        assert!(!shown.contains("aaaa"), "the key is write-only: {shown}");
        assert_eq!(settings.renew_before_ms(), 300_000);
        settings.token_ttl_secs = 2;
        assert_eq!(settings.renew_before_ms(), 1000);
    }
}
