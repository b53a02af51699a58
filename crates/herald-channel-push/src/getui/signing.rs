//! Getui UniPush v2 authentication signature and `request_id` derivation, shared by the
//! client and the simulator.

use sha2::{Digest, Sha256};

/// `sign` of `POST /v2/{appId}/auth`: lowercase hex SHA-256 of `appkey + timestamp_ms +
/// mastersecret`.
pub fn sign(app_key: &str, timestamp_ms: i64, master_secret: &str) -> String {
    hex::encode(Sha256::digest(format!(
        "{app_key}{timestamp_ms}{master_secret}"
    )))
}

/// Getui's `request_id` (unique, 10–32 characters) for a delivery: its letters and digits
/// (`dlv_01h…` → `dlv01h…`, 29 characters), the same on every retry; an id that does not
/// fit is replaced by 32 hex digits of its SHA-256.
pub fn request_id(delivery_id: &str) -> String {
    let squeezed: String = delivery_id
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .collect();
    if (10..=32).contains(&squeezed.len()) {
        squeezed
    } else {
        hex::encode(&Sha256::digest(delivery_id.as_bytes())[..16])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sign_is_sha256_hex_of_the_concatenation() {
        // sha256("k" + "1700000000000" + "s"), computed independently with `sha256sum`.
        assert_eq!(
            sign("k", 1_700_000_000_000, "s"),
            "ea69308234fc809599f8b5934fae803c77be085338d5c57d31e2fd18afe3752e"
        );
    }

    #[test]
    fn request_ids_fit_getui_limits() {
        assert_eq!(
            request_id("dlv_01hq3v4n5m6k7j8h9g0f1e2d3c"),
            "dlv01hq3v4n5m6k7j8h9g0f1e2d3c"
        );
        for odd in ["x", "a-b", &"z".repeat(60)] {
            let id = request_id(odd);
            assert_eq!(id.len(), 32, "{odd}");
            assert_eq!(id, request_id(odd));
        }
    }
}
