//! Webhook request signing, shared by the client (which signs) and the simulator (which
//! verifies), so the two can never drift apart.
//!
//! Scheme `v1`: `herald-signature: v1=<lowercase hex HMAC-SHA256(secret, "{id}.{timestamp}.{body}")>`
//! where `id` is the `herald-id` header (the delivery id), `timestamp` the `herald-timestamp`
//! header (unix seconds) and `body` the raw request body bytes. The secret is the UTF-8 bytes
//! of the account's `signing_secret`. Binding the id and the timestamp into the MAC lets a
//! receiver reject replays older than its tolerance window and dedupe by id.
//!
//! A header may carry several space-separated signatures (`v1=… v1=…`) so a sender can sign
//! with an old and a new secret while a receiver rotates; one match is enough.

use hmac::{Hmac, Mac};
use sha2::Sha256;

/// The only signature scheme so far; the prefix of every signature.
pub const SCHEME: &str = "v1";

type HmacSha256 = Hmac<Sha256>;

fn mac_over(secret: &[u8], id: &str, timestamp: i64, body: &[u8]) -> HmacSha256 {
    let mut mac = HmacSha256::new_from_slice(secret).expect("HMAC accepts keys of any length");
    mac.update(id.as_bytes());
    mac.update(b".");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    mac
}

/// The `herald-signature` header value for one request: `v1=<hex>`.
pub fn sign(secret: &[u8], id: &str, timestamp: i64, body: &[u8]) -> String {
    let tag = mac_over(secret, id, timestamp, body)
        .finalize()
        .into_bytes();
    format!("{SCHEME}={}", hex::encode(tag))
}

/// Whether any `v1=` entry of `header` is a valid signature of the request (constant-time
/// comparison per entry).
pub fn verify(secret: &[u8], id: &str, timestamp: i64, body: &[u8], header: &str) -> bool {
    let mac = mac_over(secret, id, timestamp, body);
    header
        .split([' ', ','])
        .filter_map(|entry| entry.strip_prefix(SCHEME)?.strip_prefix('='))
        .filter_map(|hex_tag| hex::decode(hex_tag).ok())
        .any(|tag| mac.clone().verify_slice(&tag).is_ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    const ID: &str = "dlv_01jc0000000000000000000000";
    const BODY: &[u8] = br#"{"id":"dlv_01jc0000000000000000000000","body":"hello"}"#;
    /// Computed independently: `printf '%s' '<id>.1700000000.<body>' | openssl dgst -sha256 -hmac whsec_test`.
    const EXPECTED: &str = "v1=b873565770b12048d85055da25747e41bf421111a6f4ab4d6c1c542d02bc0d93";

    #[test]
    fn matches_the_fixed_test_vector() {
        assert_eq!(sign(b"whsec_test", ID, 1_700_000_000, BODY), EXPECTED);
        assert!(verify(b"whsec_test", ID, 1_700_000_000, BODY, EXPECTED));
    }

    #[test]
    fn rejects_any_tampering() {
        assert!(!verify(b"whsec_other", ID, 1_700_000_000, BODY, EXPECTED));
        assert!(!verify(b"whsec_test", ID, 1_700_000_001, BODY, EXPECTED));
        assert!(!verify(
            b"whsec_test",
            "dlv_other",
            1_700_000_000,
            BODY,
            EXPECTED
        ));
        assert!(!verify(b"whsec_test", ID, 1_700_000_000, b"{}", EXPECTED));
        assert!(!verify(b"whsec_test", ID, 1_700_000_000, BODY, ""));
        assert!(!verify(b"whsec_test", ID, 1_700_000_000, BODY, "v1=zz"));
        let without_scheme = EXPECTED.trim_start_matches("v1=");
        assert!(!verify(
            b"whsec_test",
            ID,
            1_700_000_000,
            BODY,
            without_scheme
        ));
    }

    #[test]
    fn accepts_one_good_signature_among_several() {
        let rotated = format!("v1=00ff {EXPECTED}");
        assert!(verify(b"whsec_test", ID, 1_700_000_000, BODY, &rotated));
    }
}
