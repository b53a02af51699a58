//! End-user tokens: how an end-user app proves which user it acts for.
//!
//! The business backend (which knows its users) signs a short-lived token per user with the
//! app's *user token secret*; the end-user app sends it as `Authorization: Bearer <token>`.
//! Herald checks the signature with the same secret and serves only that user's inbox.
//!
//! ```text
//! hkusr.v1.<payload>.<signature>
//! payload   = base64url-nopad( JSON {"app": "<app id>", "sub": "<user id>", "exp": <unix seconds>} )
//! signature = base64url-nopad( HMAC-SHA256( user_token_secret, "hkusr.v1." + payload ) )
//! ```
//!
//! The MAC covers the ASCII text before the last `.` (prefix, version and encoded payload),
//! so neither the version nor a byte of the payload can change. Extra JSON members are
//! ignored (room for `iat`, `jti`, …). A token is refused when it is malformed, names an app
//! without a secret, carries a wrong signature, names a user id that is not a valid inbox
//! receiver, or when `exp` ≤ now. [`mint_user_token`] is the reference signer.

use async_trait::async_trait;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use herald_domain::{AppId, ChannelKind};
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// What every token starts with: the kind and the format version.
pub const TOKEN_PREFIX: &str = "hkusr.v1.";
/// Longest token accepted (a guard against huge headers being decoded).
const MAX_TOKEN_LEN: usize = 4096;

type HmacSha256 = Hmac<Sha256>;

/// Why a token was refused. Every variant is a 401; only the API error code differs.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    #[error("no user token was presented")]
    Missing,
    #[error("malformed user token: {0}")]
    Malformed(&'static str),
    /// The app has no user token secret (or does not exist).
    #[error("user tokens are not enabled for this app")]
    UnknownApp,
    #[error("the user token's signature does not match")]
    BadSignature,
    #[error("the user token has expired")]
    Expired,
}

/// Errors minting a token.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MintError {
    #[error("the user token secret is empty")]
    EmptySecret,
    #[error("invalid user id: {0}")]
    InvalidUser(String),
}

/// The JSON payload of a token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserClaims {
    /// The app id (`app_…`).
    pub app: String,
    /// The end-user id: the inbox receiver the business sends to.
    pub sub: String,
    /// Expiry, Unix seconds; the token is refused from this second on.
    pub exp: i64,
}

/// An authenticated end user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EndUser {
    pub app: AppId,
    pub user: String,
    /// The token's `exp` (Unix seconds): live streams end then.
    pub expires_at: i64,
}

/// Where the verifier finds an app's user token secret (the bytes both sides HMAC with).
/// Back it with configuration, an account secret or a catalog column; a plain closure
/// `Fn(&AppId) -> Option<Vec<u8>>` implements it.
#[async_trait]
pub trait UserSecrets: Send + Sync + 'static {
    /// The app's secret; `None` (or an empty secret) disables user tokens for the app.
    async fn user_token_secret(&self, app: &AppId) -> Option<Vec<u8>>;
}

#[async_trait]
impl<F> UserSecrets for F
where
    F: Fn(&AppId) -> Option<Vec<u8>> + Send + Sync + 'static,
{
    async fn user_token_secret(&self, app: &AppId) -> Option<Vec<u8>> {
        self(app)
    }
}

/// Fixed secrets per app (from configuration, or for tests).
#[derive(Debug, Clone, Default)]
pub struct StaticUserSecrets {
    /// Secret bytes by app.
    by_app: HashMap<AppId, Vec<u8>>,
}

impl StaticUserSecrets {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn with(mut self, app: AppId, secret: impl Into<Vec<u8>>) -> Self {
        self.by_app.insert(app, secret.into());
        self
    }
}

#[async_trait]
impl UserSecrets for StaticUserSecrets {
    async fn user_token_secret(&self, app: &AppId) -> Option<Vec<u8>> {
        self.by_app.get(app).cloned()
    }
}

/// Checks end-user tokens against the apps' secrets.
#[derive(Clone)]
pub struct UserTokenVerifier {
    /// The per-app secret lookup.
    secrets: Arc<dyn UserSecrets>,
}

impl std::fmt::Debug for UserTokenVerifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("UserTokenVerifier")
    }
}

impl UserTokenVerifier {
    pub fn new(secrets: Arc<dyn UserSecrets>) -> Self {
        Self { secrets }
    }

    /// Verifies `token` now.
    pub async fn verify(&self, token: &str) -> Result<EndUser, TokenError> {
        self.verify_at(token, unix_now()).await
    }

    /// Verifies `token` as of `now` (Unix seconds).
    pub async fn verify_at(&self, token: &str, now: i64) -> Result<EndUser, TokenError> {
        if token.is_empty() {
            return Err(TokenError::Missing);
        }
        if token.len() > MAX_TOKEN_LEN {
            return Err(TokenError::Malformed("too long"));
        }
        let rest = token
            .strip_prefix(TOKEN_PREFIX)
            .ok_or(TokenError::Malformed("expected the hkusr.v1. prefix"))?;
        let (payload, signature) = rest
            .split_once('.')
            .ok_or(TokenError::Malformed("expected payload.signature"))?;
        let signature = URL_SAFE_NO_PAD
            .decode(signature)
            .map_err(|_| TokenError::Malformed("signature is not base64url"))?;
        let json = URL_SAFE_NO_PAD
            .decode(payload)
            .map_err(|_| TokenError::Malformed("payload is not base64url"))?;
        let claims: UserClaims = serde_json::from_slice(&json)
            .map_err(|_| TokenError::Malformed("payload is not the expected JSON"))?;
        let app = AppId::parse(&claims.app).ok_or(TokenError::Malformed("app is not an app id"))?;
        let secret = self
            .secrets
            .user_token_secret(&app)
            .await
            .filter(|s| !s.is_empty())
            .ok_or(TokenError::UnknownApp)?;
        let signed = &token[..TOKEN_PREFIX.len() + payload.len()];
        mac(&secret)
            .chain_update(signed.as_bytes())
            .verify_slice(&signature)
            .map_err(|_| TokenError::BadSignature)?;
        if ChannelKind::Inbox.validate_receiver(&claims.sub).is_err() {
            return Err(TokenError::Malformed("sub is not a valid user id"));
        }
        if claims.exp <= now {
            return Err(TokenError::Expired);
        }
        Ok(EndUser {
            app,
            user: claims.sub,
            expires_at: claims.exp,
        })
    }
}

/// Signs a token for `user` of `app`, valid for `ttl` from now.
pub fn mint_user_token(
    secret: &[u8],
    app: &AppId,
    user: &str,
    ttl: Duration,
) -> Result<String, MintError> {
    let ttl = i64::try_from(ttl.as_secs()).unwrap_or(i64::MAX);
    mint_user_token_until(secret, app, user, unix_now().saturating_add(ttl))
}

/// Signs a token for `user` of `app` that expires at `exp` (Unix seconds).
pub fn mint_user_token_until(
    secret: &[u8],
    app: &AppId,
    user: &str,
    exp: i64,
) -> Result<String, MintError> {
    if secret.is_empty() {
        return Err(MintError::EmptySecret);
    }
    ChannelKind::Inbox
        .validate_receiver(user)
        .map_err(MintError::InvalidUser)?;
    let claims = UserClaims {
        app: app.to_string(),
        sub: user.to_owned(),
        exp,
    };
    let json = serde_json::to_vec(&claims).expect("claims of strings and an integer serialize");
    let signed = format!("{TOKEN_PREFIX}{}", URL_SAFE_NO_PAD.encode(json));
    let signature = mac(secret).chain_update(signed.as_bytes()).finalize();
    Ok(format!(
        "{signed}.{}",
        URL_SAFE_NO_PAD.encode(signature.into_bytes())
    ))
}

fn mac(secret: &[u8]) -> HmacSha256 {
    <HmacSha256 as Mac>::new_from_slice(secret).expect("HMAC takes keys of any length")
}

fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}
