//! DingTalk robot signing ("加签"), shared by the client (which signs) and the simulator
//! (which verifies), so the two cannot drift apart.
//!
//! `sign = urlencode(base64(HMAC-SHA256(key = secret, message = timestamp + "\n" + secret)))`
//! with `timestamp` the send time in unix **milliseconds**, both sent as query parameters
//! next to `access_token`. [`sign`] returns the base64 text; the URL encoding is done by the
//! query-string serializer (a raw `+` in the query would be read back as a space: the most
//! common reason for `310000 sign not match`).

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

fn mac(secret: &str, timestamp_ms: i64) -> HmacSha256 {
    let mut mac =
        HmacSha256::new_from_slice(secret.as_bytes()).expect("HMAC accepts keys of any length");
    mac.update(format!("{timestamp_ms}\n{secret}").as_bytes());
    mac
}

/// The base64 signature of a send at `timestamp_ms` (before URL encoding).
pub fn sign(secret: &str, timestamp_ms: i64) -> String {
    STANDARD.encode(mac(secret, timestamp_ms).finalize().into_bytes())
}

/// Whether `signature` (URL-decoded base64) signs `timestamp_ms`; constant-time comparison.
pub fn verify(secret: &str, timestamp_ms: i64, signature: &str) -> bool {
    STANDARD
        .decode(signature)
        .is_ok_and(|tag| mac(secret, timestamp_ms).verify_slice(&tag).is_ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Computed independently: `printf '1700000000000\nSECtest0123456789' | openssl dgst
    /// -sha256 -hmac SECtest0123456789 -binary | base64`.
    const EXPECTED: &str = "yBKp5IlG6qCzcQWmgyRK/ziJBdVNJmHfFE2ST/CzT/g=";

    #[test]
    fn matches_the_hand_computed_vector() {
        assert_eq!(sign("SECtest0123456789", 1_700_000_000_000), EXPECTED);
        assert!(verify("SECtest0123456789", 1_700_000_000_000, EXPECTED));
        assert!(!verify("SECtest0123456789", 1_700_000_000_001, EXPECTED));
        assert!(!verify("SECother", 1_700_000_000_000, EXPECTED));
        assert!(!verify(
            "SECtest0123456789",
            1_700_000_000_000,
            "not base64!"
        ));
    }
}
