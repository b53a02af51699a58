//! An email account's settings: SMTP server, TLS mode, sender, timeout and credentials,
//! parsed once per send from `Account::config` and the account secret.

use crate::robot::config_invalid;
use herald_domain::Outcome;
use herald_ports::AccountContext;
use lettre::message::Mailbox;
use serde::Deserialize;
use std::net::IpAddr;
use std::time::Duration;

/// Per-message timeout when the account config sets none.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);
/// Upper bound on a configured timeout.
const MAX_TIMEOUT: Duration = Duration::from_secs(300);

/// How the connection is protected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TlsMode {
    /// Plain connect, then `STARTTLS` (required: a server without it is refused). Port 587.
    Starttls,
    /// TLS from the first byte ("SMTPS"). Port 465.
    Tls,
    /// No encryption. Port 25. Credentials are only sent to a loopback host.
    None,
}

impl TlsMode {
    fn default_port(self) -> u16 {
        match self {
            Self::Starttls => 587,
            Self::Tls => 465,
            Self::None => 25,
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct EmailConfig {
    host: String,
    #[serde(default)]
    port: Option<u16>,
    #[serde(default)]
    tls: Option<TlsMode>,
    from: String,
    #[serde(default)]
    timeout_ms: Option<u64>,
    /// Name sent with `EHLO`; default this machine's hostname.
    #[serde(default)]
    hello_name: Option<String>,
}

/// Resolved settings of one email account.
#[derive(Debug, Clone)]
pub struct EmailSettings {
    pub host: String,
    pub port: u16,
    pub tls: TlsMode,
    pub from: Mailbox,
    pub timeout: Duration,
    pub hello_name: Option<String>,
    /// `(username, password)` from the secret; `None` = no `AUTH`.
    pub credentials: Option<(String, String)>,
}

impl EmailSettings {
    pub fn from_account(account: &AccountContext) -> Result<Self, Outcome> {
        let config = EmailConfig::deserialize(&account.account.config)
            .map_err(|e| config_invalid(format!("email account config: {e}")))?;
        let host = config.host.trim().to_owned();
        if host.is_empty() {
            return Err(config_invalid("email account config: host is empty"));
        }
        let from: Mailbox = config
            .from
            .parse()
            .map_err(|e| config_invalid(format!("email account config: from: {e}")))?;
        let tls = config.tls.unwrap_or(TlsMode::Starttls);
        let secret = |key: &str| {
            account
                .secret
                .as_ref()
                .and_then(|s| s.str(key))
                .filter(|v| !v.is_empty())
                .map(str::to_owned)
        };
        let credentials = match (secret("username"), secret("password")) {
            (Some(user), Some(password)) => Some((user, password)),
            (None, None) => None,
            _ => {
                return Err(config_invalid(
                    "email account secret: set both username and password, or neither",
                ));
            }
        };
        if credentials.is_some() && tls == TlsMode::None && !is_loopback(&host) {
            return Err(config_invalid(
                "email account: refusing to send credentials without TLS to a non-loopback host",
            ));
        }
        Ok(Self {
            port: config.port.unwrap_or_else(|| tls.default_port()),
            host,
            tls,
            from,
            timeout: config
                .timeout_ms
                .map_or(DEFAULT_TIMEOUT, Duration::from_millis)
                .clamp(Duration::from_millis(1), MAX_TIMEOUT),
            hello_name: config.hello_name.filter(|h| !h.trim().is_empty()),
            credentials,
        })
    }
}

fn is_loopback(host: &str) -> bool {
    host.eq_ignore_ascii_case("localhost")
        || host
            .trim_matches(|c| c == '[' || c == ']')
            .parse::<IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

#[cfg(test)]
mod tests {
    use super::*;
    use herald_domain::{Account, AccountId, AppId, ChannelKind, RateLimit, RetrySchedule};
    use herald_ports::SecretValue;
    use serde_json::{Value, json};

    fn account(config: Value, secret: Option<Value>) -> AccountContext {
        AccountContext {
            account: Account {
                id: AccountId::generate(),
                app_id: AppId::generate(),
                name: "mail".into(),
                channel: ChannelKind::Email,
                config,
                rate_limit: RateLimit::default(),
                retry: RetrySchedule::default(),
                enabled: true,
                has_secret: secret.is_some(),
                created_at: 0,
                updated_at: 0,
            },
            secret: secret.map(SecretValue),
        }
    }

    #[test]
    fn defaults_follow_the_tls_mode() {
        let s = EmailSettings::from_account(&account(
            json!({"host": "smtp.example.com", "from": "Herald <no-reply@example.com>"}),
            None,
        ))
        .unwrap();
        assert_eq!(
            (s.port, s.tls, s.timeout),
            (587, TlsMode::Starttls, DEFAULT_TIMEOUT)
        );
        assert_eq!(s.from.email.to_string(), "no-reply@example.com");
        let s = EmailSettings::from_account(&account(
            json!({"host": "h", "from": "a@b.c", "tls": "tls"}),
            None,
        ))
        .unwrap();
        assert_eq!(s.port, 465);
    }

    #[test]
    fn bad_configs_and_cleartext_credentials_are_refused() {
        let creds = Some(json!({"username": "u", "password": "p"}));
        for (config, secret) in [
            (json!({"host": "h"}), None),
            (json!({"host": "h", "from": "not an address"}), None),
            (json!({"host": "h", "from": "a@b.c", "tls": "ssl"}), None),
            (
                json!({"host": "h", "from": "a@b.c", "tls": "none"}),
                creds.clone(),
            ),
            (
                json!({"host": "h", "from": "a@b.c"}),
                Some(json!({"username": "u"})),
            ),
        ] {
            let err = EmailSettings::from_account(&account(config.clone(), secret)).unwrap_err();
            assert_eq!(err.code(), Some("config_invalid"), "{config}");
        }
        let local = json!({"host": "127.0.0.1", "from": "a@b.c", "tls": "none"});
        let s = EmailSettings::from_account(&account(local, creds)).unwrap();
        assert_eq!(s.credentials, Some(("u".into(), "p".into())));
    }
}
