//! Feishu custom-bot signing ("签名校验"), shared by the client and the simulator.
//!
//! `sign = base64(HMAC-SHA256(key = timestamp + "\n" + secret, message = ""))` with
//! `timestamp` in unix **seconds**, both sent in the JSON body. Key and message are swapped
//! relative to DingTalk (which keys the HMAC with the secret and signs the joined string):
//! reusing one provider's function for the other is the classic `19021` bug.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

fn mac(secret: &str, timestamp_secs: i64) -> HmacSha256 {
    let key = format!("{timestamp_secs}\n{secret}");
    // The message is empty: nothing to update.
    HmacSha256::new_from_slice(key.as_bytes()).expect("HMAC accepts keys of any length")
}

/// The base64 signature of a send at `timestamp_secs`.
pub fn sign(secret: &str, timestamp_secs: i64) -> String {
    STANDARD.encode(mac(secret, timestamp_secs).finalize().into_bytes())
}

/// Whether `signature` signs `timestamp_secs`; constant-time comparison.
pub fn verify(secret: &str, timestamp_secs: i64, signature: &str) -> bool {
    STANDARD
        .decode(signature)
        .is_ok_and(|tag| mac(secret, timestamp_secs).verify_slice(&tag).is_ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Computed independently: `printf '' | openssl dgst -sha256 -hmac
    /// "$(printf '1700000000\nSECtest0123456789')" -binary | base64`.
    const EXPECTED: &str = "xqhKocb0RcGBDr30iFkLPByPLrRBM9Oy/dgBx968k0U=";

    #[test]
    fn matches_the_hand_computed_vector() {
        assert_eq!(sign("SECtest0123456789", 1_700_000_000), EXPECTED);
        assert!(verify("SECtest0123456789", 1_700_000_000, EXPECTED));
        assert!(!verify("SECtest0123456789", 1_700_000_001, EXPECTED));
        assert!(!verify("SECother", 1_700_000_000, EXPECTED));
    }

    #[test]
    fn differs_from_the_dingtalk_arrangement() {
        // DingTalk's arrangement over the same inputs (key = secret, message = joined).
        let dingtalk_style = crate::dingtalk::signing::sign("SECtest0123456789", 1_700_000_000);
        assert_eq!(
            dingtalk_style,
            "0NBQZql6ThhhwcdrHnRhujVQ7C45fzWmfijjiMkahSs="
        );
        assert_ne!(sign("SECtest0123456789", 1_700_000_000), dingtalk_style);
        assert!(!verify("SECtest0123456789", 1_700_000_000, &dingtalk_style));
    }
}
