//! APNs provider tokens (ES256 JWTs `{iss: team id, iat}` with `kid` = key id) and the
//! `apns-id` derived from a delivery id. Shared by the client and the simulator.

use crate::common::{TokenError, ensure_jwt_crypto};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// How long a provider token is reused: Apple asks for a new one at most every 20 minutes and
/// rejects tokens older than an hour. Cached for 55 min with the token source's 5 min
/// refresh margin, a token is used for 50 minutes.
pub const TOKEN_CACHE_SECS: i64 = 55 * 60;
/// Apple rejects tokens whose `iat` is older than this (`ExpiredProviderToken`).
pub const MAX_TOKEN_AGE_SECS: i64 = 3600;

/// The provider token's claims.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ProviderClaims {
    /// The 10-character Team ID.
    pub iss: String,
    /// Issue time, unix seconds.
    pub iat: i64,
}

/// Signs a provider token with the `.p8` key (PEM PKCS#8 P-256).
pub fn provider_token(
    team_id: &str,
    key_id: &str,
    private_key_pem: &str,
    iat: i64,
) -> Result<String, TokenError> {
    ensure_jwt_crypto();
    let key = EncodingKey::from_ec_pem(private_key_pem.as_bytes())
        .map_err(|e| TokenError::Config(format!("APNs private_key: {e}")))?;
    let mut header = Header::new(Algorithm::ES256);
    header.kid = Some(key_id.to_owned());
    header.typ = None;
    let claims = ProviderClaims {
        iss: team_id.to_owned(),
        iat,
    };
    jsonwebtoken::encode(&header, &claims, &key)
        .map_err(|e| TokenError::Config(format!("signing the APNs token: {e}")))
}

/// A UUID (lowercase, 8-4-4-4-12) derived from the delivery id, so every retry of a delivery
/// carries the same `apns-id`. Version nibble 8 (RFC 9562 custom) and the RFC variant bits.
pub fn apns_id(delivery_id: &str) -> String {
    let digest = Sha256::digest(delivery_id.as_bytes());
    let mut b = [0u8; 16];
    b.copy_from_slice(&digest[..16]);
    b[6] = (b[6] & 0x0f) | 0x80;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h = hex::encode(b);
    format!(
        "{}-{}-{}-{}-{}",
        &h[..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..]
    )
}

/// Whether `s` is a UUID in canonical text form (what APNs accepts as `apns-id`).
pub fn is_uuid(s: &str) -> bool {
    let groups: Vec<_> = s.split('-').collect();
    groups.len() == 5
        && groups
            .iter()
            .zip([8, 4, 4, 4, 12])
            .all(|(g, n)| g.len() == n && g.bytes().all(|b| b.is_ascii_hexdigit()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn apns_ids_are_stable_uuids() {
        let id = apns_id("dlv_01hzzzzzzzzzzzzzzzzzzzzzzz");
        assert_eq!(id, apns_id("dlv_01hzzzzzzzzzzzzzzzzzzzzzzz"));
        assert_ne!(id, apns_id("dlv_01hzzzzzzzzzzzzzzzzzzzzzzy"));
        assert!(is_uuid(&id), "{id}");
        assert_eq!(&id[14..15], "8", "version nibble");
        assert!(matches!(&id[19..20], "8" | "9" | "a" | "b"), "variant");
        assert!(!is_uuid("not-a-uuid"));
    }
}
