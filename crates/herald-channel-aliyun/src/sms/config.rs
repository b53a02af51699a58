//! An Alibaba Cloud SMS account as the client needs it: its `config` settings and `secret`
//! keys (documented in the crate root), read once per call. A bad account is a `Permanent`
//! `config_invalid` outcome: nothing changes until an operator fixes it.

use herald_channels::ChannelDeps;
use herald_domain::Outcome;
use herald_ports::AccountContext;
use serde::Deserialize;
use std::time::Duration;

/// The production endpoint (region `cn-hangzhou`, the mainland service).
pub const DEFAULT_ENDPOINT: &str = "https://dysmsapi.aliyuncs.com";
/// The dysmsapi version every call names.
pub const API_VERSION: &str = "2017-05-25";
/// Whole-request timeout when the account sets none.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);
/// Upper bound on a configured timeout.
const MAX_TIMEOUT: Duration = Duration::from_secs(120);

/// Which signature the account's requests carry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignatureVersion {
    /// RPC `Signature` parameter, HMAC-SHA1.
    V1,
    /// `Authorization: ACS3-HMAC-SHA256 …` (the SDK's default).
    V3,
}

/// The account's `config` JSON. Unknown keys are ignored (other layers may add their own).
#[derive(Debug, Default, Deserialize)]
struct RawConfig {
    endpoint: Option<String>,
    sign_name: Option<String>,
    region: Option<String>,
    timeout_ms: Option<u64>,
    #[serde(default)]
    code_template: bool,
    signature_version: Option<String>,
}

/// Everything a call needs from the account.
#[derive(Clone)]
pub struct Settings {
    /// Base URL without trailing slash; requests go to `{endpoint}/`.
    pub endpoint: String,
    /// Default `SignName` (a template's `sign_name` field overrides it).
    pub sign_name: Option<String>,
    pub timeout: Duration,
    /// The account sends verification codes: per-number code limits apply.
    pub code_template: bool,
    pub signature: SignatureVersion,
    pub access_key_id: String,
    pub access_key_secret: String,
}

impl std::fmt::Debug for Settings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Settings")
            .field("endpoint", &self.endpoint)
            .field("sign_name", &self.sign_name)
            .field("signature", &self.signature)
            .field("access_key_id", &self.access_key_id)
            .finish_non_exhaustive()
    }
}

fn invalid(message: String) -> Outcome {
    Outcome::Permanent {
        code: "config_invalid".into(),
        message,
    }
}

impl Settings {
    pub fn from_account(deps: &ChannelDeps, account: &AccountContext) -> Result<Self, Outcome> {
        let config = if account.account.config.is_null() {
            RawConfig::default()
        } else {
            RawConfig::deserialize(&account.account.config)
                .map_err(|e| invalid(format!("aliyun_sms account config: {e}")))?
        };
        let regional = match config.region.as_deref().map(str::trim) {
            None | Some("") | Some("cn-hangzhou") => DEFAULT_ENDPOINT.to_owned(),
            Some(region) => format!("https://dysmsapi.{region}.aliyuncs.com"),
        };
        let endpoint = deps
            .endpoint(config.endpoint.as_deref(), &regional)
            .map_err(invalid)?;
        let signature = match config.signature_version.as_deref() {
            None | Some("v3") => SignatureVersion::V3,
            Some("v1") => SignatureVersion::V1,
            Some(other) => {
                return Err(invalid(format!(
                    "signature_version {other:?}: must be \"v1\" or \"v3\""
                )));
            }
        };
        let secret = |key: &str| {
            account
                .secret
                .as_ref()
                .and_then(|s| s.str(key))
                .filter(|v| !v.is_empty())
                .map(str::to_owned)
                .ok_or_else(|| invalid(format!("aliyun_sms account secret: missing {key}")))
        };
        Ok(Self {
            endpoint,
            sign_name: config.sign_name.filter(|s| !s.trim().is_empty()),
            timeout: config
                .timeout_ms
                .map_or(DEFAULT_TIMEOUT, Duration::from_millis)
                .clamp(Duration::from_millis(1), MAX_TIMEOUT),
            code_template: config.code_template,
            signature,
            access_key_id: secret("access_key_id")?,
            access_key_secret: secret("access_key_secret")?,
        })
    }
}
