//! Request authentication exactly as the gateway does it, for both signature versions, plus
//! the replay guards (timestamp window, nonce book). Errors are Aliyun's gateway codes.

use super::{AliyunSim, gateway_error};
use crate::sms::clock::parse_acs_timestamp;
use crate::sms::signing;
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::Response;
use herald_channels::sim::SimState;
use herald_channels::sim::account::AccountSim;
use std::collections::HashSet;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::sync::Arc;

/// How far a request timestamp may be from the simulator's clock, either way.
pub const TIMESTAMP_TOLERANCE_SECS: i64 = 15 * 60;

/// Parameters of the v1 envelope, not business parameters.
const V1_COMMON: &[&str] = &[
    "AccessKeyId",
    "Action",
    "Format",
    "SignatureMethod",
    "SignatureNonce",
    "SignatureVersion",
    "Timestamp",
    "Version",
    "Signature",
    "RegionId",
];

/// v3 headers that must be present and signed.
const V3_REQUIRED: &[&str] = &[
    "x-acs-action",
    "x-acs-version",
    "x-acs-date",
    "x-acs-signature-nonce",
    "x-acs-content-sha256",
];

/// Nonces seen within the timestamp window, as hashes in two generations that rotate every
/// [`TIMESTAMP_TOLERANCE_SECS`]: a nonce is remembered 15 to 30 minutes, long enough that a
/// replay is either caught here or refused as stale.
#[derive(Debug, Default)]
pub struct NonceBook {
    current: HashSet<u64>,
    previous: HashSet<u64>,
    rotated_at: i64,
}

impl NonceBook {
    /// Records the nonce; false when it was used before.
    pub fn use_once(&mut self, access_key_id: &str, nonce: &str, now_sec: i64) -> bool {
        if now_sec - self.rotated_at >= TIMESTAMP_TOLERANCE_SECS {
            self.previous = std::mem::take(&mut self.current);
            self.rotated_at = now_sec;
        }
        let mut hasher = DefaultHasher::new();
        (access_key_id, nonce).hash(&mut hasher);
        let key = hasher.finish();
        !self.previous.contains(&key) && self.current.insert(key)
    }
}

/// A request that passed authentication.
#[derive(Debug)]
pub struct Authenticated {
    pub access_key_id: String,
    pub action: String,
    pub version: String,
    pub account: Arc<AccountSim>,
    /// Business parameters: query (without the v1 envelope) and form body.
    pub params: Vec<(String, String)>,
}

/// What arrived, for [`authenticate`].
pub struct Arrival<'a> {
    pub method: &'a Method,
    pub headers: &'a HeaderMap,
    pub query: &'a [(String, String)],
    pub form: &'a [(String, String)],
    pub body: &'a [u8],
    pub now_sec: i64,
}

fn param<'a>(params: &'a [(String, String)], name: &str) -> Option<&'a str> {
    params
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// The envelope of either version, before the signature check.
struct Envelope {
    access_key_id: String,
    action: String,
    version: String,
    timestamp: String,
    nonce: String,
}

/// Checks the signature, then the timestamp window, then the nonce.
// The error is the HTTP answer itself, built once per refused request: boxing buys nothing.
#[allow(clippy::result_large_err)]
pub fn authenticate(
    state: &SimState,
    sim: &AliyunSim,
    arrival: &Arrival<'_>,
) -> Result<Authenticated, Response> {
    let incomplete = || {
        gateway_error(
            sim,
            StatusCode::BAD_REQUEST,
            "IncompleteSignature",
            "The request signature does not conform to Aliyun standards.",
        )
    };
    let authorization = header(arrival.headers, "authorization");
    let v3 = authorization.is_some_and(|a| a.trim_start().starts_with(signing::ACS3_ALGORITHM));
    let (envelope, v3_auth) = if v3 {
        let auth = signing::parse_authorization(authorization.unwrap_or_default())
            .ok_or_else(incomplete)?;
        let signed_all = V3_REQUIRED.iter().all(|h| {
            auth.signed_headers.iter().any(|s| s == h) && header(arrival.headers, h).is_some()
        });
        if !signed_all {
            return Err(incomplete());
        }
        let get = |h: &str| {
            header(arrival.headers, h)
                .unwrap_or_default()
                .trim()
                .to_owned()
        };
        let envelope = Envelope {
            access_key_id: auth.access_key_id.clone(),
            action: get("x-acs-action"),
            version: get("x-acs-version"),
            timestamp: get("x-acs-date"),
            nonce: get("x-acs-signature-nonce"),
        };
        (envelope, Some(auth))
    } else {
        let mut all: Vec<(String, String)> = arrival.query.to_vec();
        all.extend(arrival.form.iter().cloned());
        let get = |name: &str| param(&all, name).map(str::to_owned);
        for name in [
            "AccessKeyId",
            "Signature",
            "SignatureNonce",
            "Timestamp",
            "Action",
            "Version",
        ] {
            if get(name).is_none_or(|v| v.is_empty()) {
                let message = format!("{name} is mandatory for this action.");
                return Err(gateway_error(
                    sim,
                    StatusCode::BAD_REQUEST,
                    &format!("Missing{name}"),
                    &message,
                ));
            }
        }
        if get("SignatureMethod").as_deref() != Some(signing::V1_METHOD) {
            return Err(incomplete());
        }
        let envelope = Envelope {
            access_key_id: get("AccessKeyId").unwrap_or_default(),
            action: get("Action").unwrap_or_default(),
            version: get("Version").unwrap_or_default(),
            timestamp: get("Timestamp").unwrap_or_default(),
            nonce: get("SignatureNonce").unwrap_or_default(),
        };
        (envelope, None)
    };

    let not_found = || {
        gateway_error(
            sim,
            StatusCode::NOT_FOUND,
            "InvalidAccessKeyId.NotFound",
            "Specified access key is not found.",
        )
    };
    let account = state
        .existing_account(&envelope.access_key_id)
        .ok_or_else(not_found)?;
    let config = account.config();
    let Some(secret) = config.secret.as_ref().map(|s| s.0.clone()) else {
        return Err(not_found());
    };
    let reject = |status, code: &str, message: &str| {
        account.reject(arrival.now_sec);
        gateway_error(sim, status, code, message)
    };

    let (expected, given, string_to_sign) = match &v3_auth {
        Some(auth) => {
            let signed: Vec<(String, String)> = auth
                .signed_headers
                .iter()
                .flat_map(|name| {
                    let values: Vec<_> = arrival.headers.get_all(name.as_str()).iter().collect();
                    if values.is_empty() {
                        vec![(name.clone(), String::new())]
                    } else {
                        values
                            .into_iter()
                            .map(|v| {
                                (
                                    name.clone(),
                                    String::from_utf8_lossy(v.as_bytes()).into_owned(),
                                )
                            })
                            .collect()
                    }
                })
                .collect();
            let hashed = header(arrival.headers, "x-acs-content-sha256")
                .unwrap_or_default()
                .trim()
                .to_owned();
            let canonical = signing::v3_canonical_request(
                arrival.method.as_str(),
                "/",
                arrival.query,
                &signed,
                &hashed,
            );
            let string_to_sign = signing::v3_string_to_sign(&canonical.text);
            let body_matches = signing::sha256_hex(arrival.body) == hashed;
            let expected = signing::v3_signature(&secret, &string_to_sign);
            // A body that does not match its signed hash fails like a wrong signature.
            let expected = if body_matches {
                expected
            } else {
                String::new()
            };
            (expected, auth.signature.clone(), string_to_sign)
        }
        None => {
            let mut signed: Vec<(String, String)> = arrival.query.to_vec();
            signed.extend(arrival.form.iter().cloned());
            let given = param(&signed, "Signature").unwrap_or_default().to_owned();
            signed.retain(|(k, _)| k != "Signature");
            let string_to_sign = signing::v1_string_to_sign(arrival.method.as_str(), &signed);
            (
                signing::v1_signature(&secret, &string_to_sign),
                given,
                string_to_sign,
            )
        }
    };
    if expected.is_empty() || !signing::same_signature(&expected, &given) {
        let message = format!(
            "Specified signature is not matched with our calculation. server string to sign is:{string_to_sign}"
        );
        return Err(reject(
            StatusCode::BAD_REQUEST,
            "SignatureDoesNotMatch",
            &message,
        ));
    }
    let fresh = parse_acs_timestamp(&envelope.timestamp)
        .is_some_and(|t| (arrival.now_sec - t).abs() <= TIMESTAMP_TOLERANCE_SECS);
    if !fresh {
        let message = "Specified time stamp or date value is expired.";
        return Err(reject(
            StatusCode::BAD_REQUEST,
            "InvalidTimeStamp.Expired",
            message,
        ));
    }
    if !sim
        .nonces
        .lock()
        .use_once(&envelope.access_key_id, &envelope.nonce, arrival.now_sec)
    {
        let message = "Specified signature nonce was used already.";
        return Err(reject(
            StatusCode::BAD_REQUEST,
            "SignatureNonceUsed",
            message,
        ));
    }

    let mut params: Vec<(String, String)> = arrival.query.to_vec();
    params.extend(arrival.form.iter().cloned());
    if !v3 {
        params.retain(|(k, _)| !V1_COMMON.contains(&k.as_str()));
    }
    Ok(Authenticated {
        access_key_id: envelope.access_key_id,
        action: envelope.action,
        version: envelope.version,
        account,
        params,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nonces_are_single_use_across_a_rotation() {
        let mut book = NonceBook::default();
        assert!(book.use_once("ak", "n1", 1_000));
        assert!(!book.use_once("ak", "n1", 1_001));
        assert!(book.use_once("other", "n1", 1_001), "per access key");
        assert!(book.use_once("ak", "n2", 1_000 + TIMESTAMP_TOLERANCE_SECS));
        assert!(
            !book.use_once("ak", "n1", 1_000 + TIMESTAMP_TOLERANCE_SECS + 1),
            "kept one generation more"
        );
    }
}
