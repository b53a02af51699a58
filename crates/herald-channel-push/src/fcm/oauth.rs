//! Google service-account OAuth: the RS256 JWT assertion and its exchange for a Bearer token
//! at the token URI (RFC 7523 `jwt-bearer` grant). Shared by the client (which signs) and
//! the simulator (which verifies with the same claim types).

use crate::common::{TokenError, ensure_jwt_crypto, read_body, snippet};
use herald_domain::time::now_ms;
use herald_ports::CachedToken;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// The OAuth scope FCM HTTP v1 needs.
pub const SCOPE: &str = "https://www.googleapis.com/auth/firebase.messaging";
/// Google's token endpoint (the `token_uri` of every service-account file).
pub const DEFAULT_TOKEN_URI: &str = "https://oauth2.googleapis.com/token";
/// The grant type of a JWT assertion exchange.
pub const GRANT_TYPE: &str = "urn:ietf:params:oauth:grant-type:jwt-bearer";
/// Lifetime of an assertion: Google accepts at most one hour.
pub const ASSERTION_LIFETIME_SECS: i64 = 3600;

/// The fields of a service-account key file (the JSON downloaded from the console) that
/// FCM needs; the account secret is that JSON as it is.
#[derive(Clone, Deserialize)]
pub struct ServiceAccount {
    pub client_email: String,
    /// PEM PKCS#8 RSA private key.
    pub private_key: String,
    /// Sent as the JWT `kid` so Google picks the right public key.
    #[serde(default)]
    pub private_key_id: Option<String>,
    #[serde(default)]
    pub token_uri: Option<String>,
    #[serde(default)]
    pub project_id: Option<String>,
}

impl std::fmt::Debug for ServiceAccount {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServiceAccount")
            .field("client_email", &self.client_email)
            .field("project_id", &self.project_id)
            .finish_non_exhaustive()
    }
}

/// The assertion's claims.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AssertionClaims {
    /// The service account's email.
    pub iss: String,
    /// Space-separated scopes.
    pub scope: String,
    /// The token URI the assertion is exchanged at.
    pub aud: String,
    pub iat: i64,
    pub exp: i64,
}

/// Signs an assertion for `aud` issued at `iat` (unix seconds), valid one hour.
pub fn assertion(account: &ServiceAccount, aud: &str, iat: i64) -> Result<String, TokenError> {
    ensure_jwt_crypto();
    let key = EncodingKey::from_rsa_pem(account.private_key.as_bytes())
        .map_err(|e| TokenError::Config(format!("service account private_key: {e}")))?;
    let mut header = Header::new(Algorithm::RS256);
    header.kid = account.private_key_id.clone();
    let claims = AssertionClaims {
        iss: account.client_email.clone(),
        scope: SCOPE.to_owned(),
        aud: aud.to_owned(),
        iat,
        exp: iat + ASSERTION_LIFETIME_SECS,
    };
    jsonwebtoken::encode(&header, &claims, &key)
        .map_err(|e| TokenError::Config(format!("signing the assertion: {e}")))
}

/// A successful token answer.
#[derive(Debug, Deserialize)]
struct TokenResponse {
    access_token: String,
    #[serde(default)]
    expires_in: Option<i64>,
}

/// An OAuth error answer (`{"error": "invalid_grant", "error_description": "…"}`).
#[derive(Debug, Deserialize)]
struct OAuthError {
    error: String,
    #[serde(default)]
    error_description: Option<String>,
}

/// Exchanges `assertion` at `token_url` for an access token.
pub async fn exchange(
    http: &reqwest::Client,
    token_url: &str,
    assertion: &str,
    timeout: Duration,
) -> Result<CachedToken, TokenError> {
    let response = http
        .post(token_url)
        .timeout(timeout)
        .form(&[("grant_type", GRANT_TYPE), ("assertion", assertion)])
        .send()
        .await
        .map_err(|e| TokenError::Unavailable(format!("token endpoint: {e}")))?;
    let status = response.status();
    let body = read_body(response).await;
    if status.is_success() {
        let token: TokenResponse = serde_json::from_slice(&body)
            .map_err(|e| TokenError::Unavailable(format!("token answer: {e}")))?;
        let lifetime_ms = token.expires_in.unwrap_or(3600).max(0) * 1000;
        return Ok(CachedToken {
            value: token.access_token,
            expires_at: now_ms() + lifetime_ms,
        });
    }
    let described = serde_json::from_slice::<OAuthError>(&body)
        .map(|e| match e.error_description {
            Some(d) => format!("{}: {d}", e.error),
            None => e.error,
        })
        .unwrap_or_else(|_| snippet(&body));
    let message = format!("HTTP {status}: {described}");
    if status.is_server_error() || status.as_u16() == 429 {
        Err(TokenError::Unavailable(message))
    } else {
        Err(TokenError::Rejected(message))
    }
}
