//! Alibaba Cloud request signing, shared by the client (which signs) and the simulator (which
//! verifies), so the two cannot drift apart. Pure functions over strings: no clock, no I/O.
//!
//! - **v1, RPC HMAC-SHA1**: every parameter (query and form body, without `Signature`) sorted
//!   by name, names and values [percent-encoded](percent_encode), joined `k=v&…`;
//!   `StringToSign = METHOD & pct("/") & pct(canonical)`; signature =
//!   `base64(HMAC-SHA1(secret + "&", StringToSign))`, sent as the `Signature` parameter.
//! - **v3, ACS3-HMAC-SHA256**: `CanonicalRequest = METHOD \n path \n canonical query \n
//!   canonical headers \n signed header names \n hex(sha256(body))`, `StringToSign =
//!   "ACS3-HMAC-SHA256\n" + hex(sha256(CanonicalRequest))`, signature =
//!   `hex(HMAC-SHA256(secret, StringToSign))`, sent as `Authorization: ACS3-HMAC-SHA256
//!   Credential=<AccessKeyId>,SignedHeaders=a;b,Signature=<hex>`.
//!
//! Both follow the official SDK (`alibabacloud_tea_openapi/utils.py`: `get_rpcsignature`,
//! `get_authorization`); `tests/oracle.rs` cross-checks them against it.

use base64::Engine as _;
use hmac::{Hmac, Mac};
use sha1::Sha1;
use sha2::{Digest, Sha256};

/// The v3 algorithm name (first line of the string to sign, first word of `Authorization`).
pub const ACS3_ALGORITHM: &str = "ACS3-HMAC-SHA256";
/// `SignatureMethod` of v1 requests.
pub const V1_METHOD: &str = "HMAC-SHA1";
/// `SignatureVersion` of v1 requests.
pub const V1_VERSION: &str = "1.0";

/// RFC 3986 percent-encoding of UTF-8 bytes, leaving only `A-Za-z0-9-_.~` as is (so space is
/// `%20`, `*` is `%2A`, `~` stays): the encoding both signature versions use.
pub fn percent_encode(value: &str) -> String {
    let mut out = String::with_capacity(value.len() * 3);
    for byte in value.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_' | b'.' | b'~') {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// `k=v&…` with names and values percent-encoded, sorted by name (then value).
pub fn canonical_query<K: AsRef<str>, V: AsRef<str>>(params: &[(K, V)]) -> String {
    let mut pairs: Vec<(&str, &str)> = params
        .iter()
        .map(|(k, v)| (k.as_ref(), v.as_ref()))
        .collect();
    pairs.sort_unstable();
    pairs
        .iter()
        .map(|(k, v)| format!("{}={}", percent_encode(k), percent_encode(v)))
        .collect::<Vec<_>>()
        .join("&")
}

/// The v1 string to sign for `method` over every signed parameter (not `Signature`).
pub fn v1_string_to_sign<K: AsRef<str>, V: AsRef<str>>(method: &str, params: &[(K, V)]) -> String {
    format!(
        "{}&{}&{}",
        method.to_ascii_uppercase(),
        percent_encode("/"),
        percent_encode(&canonical_query(params))
    )
}

/// The v1 `Signature` value: `base64(HMAC-SHA1(secret + "&", string_to_sign))`.
pub fn v1_signature(access_key_secret: &str, string_to_sign: &str) -> String {
    let key = format!("{access_key_secret}&");
    let mut mac = Hmac::<Sha1>::new_from_slice(key.as_bytes()).expect("HMAC takes any key");
    mac.update(string_to_sign.as_bytes());
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

/// Lowercase hex SHA-256 (`x-acs-content-sha256`, the hashed payload).
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// A v3 canonical request and the `SignedHeaders` list it covers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CanonicalRequest {
    pub text: String,
    /// Lowercase header names, sorted, joined by `;`.
    pub signed_headers: String,
}

/// Builds the v3 canonical request. `headers` are the signed headers as `(name, value)`; names
/// are lowercased, repeated names have their trimmed values sorted and joined by `,`.
pub fn v3_canonical_request<K: AsRef<str>, V: AsRef<str>>(
    method: &str,
    path: &str,
    query: &[(K, V)],
    headers: &[(String, String)],
    hashed_payload: &str,
) -> CanonicalRequest {
    let mut grouped: std::collections::BTreeMap<String, Vec<&str>> = Default::default();
    for (name, value) in headers {
        grouped
            .entry(name.to_ascii_lowercase())
            .or_default()
            .push(value.trim());
    }
    let mut canonical_headers = String::new();
    for (name, values) in &mut grouped {
        values.sort_unstable();
        canonical_headers.push_str(&format!("{name}:{}\n", values.join(",")));
    }
    let signed_headers = grouped.keys().cloned().collect::<Vec<_>>().join(";");
    let text = format!(
        "{}\n{}\n{}\n{}\n{}\n{}",
        method.to_ascii_uppercase(),
        if path.is_empty() { "/" } else { path },
        canonical_query(query),
        canonical_headers,
        signed_headers,
        hashed_payload
    );
    CanonicalRequest {
        text,
        signed_headers,
    }
}

/// `ACS3-HMAC-SHA256\n` + hex(sha256(canonical request)).
pub fn v3_string_to_sign(canonical_request: &str) -> String {
    format!(
        "{ACS3_ALGORITHM}\n{}",
        sha256_hex(canonical_request.as_bytes())
    )
}

/// `hex(HMAC-SHA256(secret, string_to_sign))`.
pub fn v3_signature(access_key_secret: &str, string_to_sign: &str) -> String {
    let mut mac =
        Hmac::<Sha256>::new_from_slice(access_key_secret.as_bytes()).expect("HMAC takes any key");
    mac.update(string_to_sign.as_bytes());
    hex::encode(mac.finalize().into_bytes())
}

/// The `Authorization` header value of a v3 request.
pub fn v3_authorization(access_key_id: &str, signed_headers: &str, signature: &str) -> String {
    format!(
        "{ACS3_ALGORITHM} Credential={access_key_id},SignedHeaders={signed_headers},Signature={signature}"
    )
}

/// A parsed v3 `Authorization` header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Authorization {
    pub access_key_id: String,
    /// Lowercase header names in the order sent.
    pub signed_headers: Vec<String>,
    pub signature: String,
}

/// Parses `ACS3-HMAC-SHA256 Credential=…,SignedHeaders=…,Signature=…`; `None` when any
/// part is missing or another algorithm is named.
pub fn parse_authorization(header: &str) -> Option<Authorization> {
    let rest = header.trim().strip_prefix(ACS3_ALGORITHM)?.trim_start();
    let (mut credential, mut signed, mut signature) = (None, None, None);
    for part in rest.split(',') {
        let (key, value) = part.trim().split_once('=')?;
        match key {
            "Credential" => credential = Some(value.to_owned()),
            "SignedHeaders" => signed = Some(value),
            "Signature" => signature = Some(value.to_owned()),
            _ => {}
        }
    }
    Some(Authorization {
        access_key_id: credential.filter(|c| !c.is_empty())?,
        signed_headers: signed?
            .split(';')
            .filter(|s| !s.is_empty())
            .map(str::to_ascii_lowercase)
            .collect(),
        signature: signature?,
    })
}

/// Constant-time string comparison for signatures.
pub fn same_signature(expected: &str, given: &str) -> bool {
    let (a, b) = (expected.as_bytes(), given.as_bytes());
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn published_v1_params() -> Vec<(&'static str, &'static str)> {
        vec![
            ("AccessKeyId", "testid"),
            ("Action", "DescribeRegions"),
            ("Format", "XML"),
            ("SignatureMethod", "HMAC-SHA1"),
            ("SignatureNonce", "3ee8c1b8-83d3-44af-a94f-4e0ad82fd6cf"),
            ("SignatureVersion", "1.0"),
            ("Timestamp", "2016-02-23T12:46:24Z"),
            ("Version", "2014-05-26"),
        ]
    }

    #[test]
    fn v1_matches_the_published_get_and_post_vectors() {
        let params = published_v1_params();
        let get = v1_string_to_sign("GET", &params);
        assert_eq!(
            get,
            "GET&%2F&AccessKeyId%3Dtestid%26Action%3DDescribeRegions%26Format%3DXML\
             %26SignatureMethod%3DHMAC-SHA1%26SignatureNonce%3D3ee8c1b8-83d3-44af-a94f-4e0ad82fd6cf\
             %26SignatureVersion%3D1.0%26Timestamp%3D2016-02-23T12%253A46%253A24Z%26Version%3D2014-05-26"
        );
        assert_eq!(
            v1_signature("testsecret", &get),
            "OLeaidS1JvxuMvnyHOwuJ+uX5qY="
        );
        let post = v1_string_to_sign("POST", &params);
        assert_eq!(
            v1_signature("testsecret", &post),
            "MxbnVAM4w6sft9xjVpe/GCKueuk="
        );
    }

    #[test]
    fn v3_matches_the_published_vector() {
        let query = [
            (
                "ImageId",
                "win2019_1809_x64_dtc_zh-cn_40G_alibase_20230811.vhd",
            ),
            ("RegionId", "cn-shanghai"),
        ];
        let payload = sha256_hex(b"");
        let headers: Vec<(String, String)> = [
            ("host", "ecs.cn-shanghai.aliyuncs.com"),
            ("x-acs-action", "RunInstances"),
            ("x-acs-version", "2014-05-26"),
            ("x-acs-date", "2023-10-26T10:22:32Z"),
            ("x-acs-signature-nonce", "3156853299f313e23d1673dc12e1703d"),
            ("x-acs-content-sha256", &payload),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
        let canonical = v3_canonical_request("POST", "/", &query, &headers, &payload);
        assert_eq!(
            canonical.signed_headers,
            "host;x-acs-action;x-acs-content-sha256;x-acs-date;x-acs-signature-nonce;x-acs-version"
        );
        let signature = v3_signature("YourAccessKeySecret", &v3_string_to_sign(&canonical.text));
        assert_eq!(
            signature,
            "06563a9e1b43f5dfe96b81484da74bceab24a1d853912eee15083a6f0f3283c0"
        );
        let header = v3_authorization("YourAccessKeyId", &canonical.signed_headers, &signature);
        let parsed = parse_authorization(&header).unwrap();
        assert_eq!(parsed.access_key_id, "YourAccessKeyId");
        assert_eq!(parsed.signed_headers.len(), 6);
        assert!(same_signature(&signature, &parsed.signature));
    }

    #[test]
    fn encoding_leaves_only_unreserved_characters() {
        assert_eq!(
            percent_encode("a b*c~d-_.!'()"),
            "a%20b%2Ac~d-_.%21%27%28%29"
        );
        assert_eq!(percent_encode("阿里云"), "%E9%98%BF%E9%87%8C%E4%BA%91");
        assert_eq!(percent_encode("+/="), "%2B%2F%3D");
    }

    #[test]
    fn headers_group_trim_and_sort() {
        let headers = vec![
            ("X-B".to_owned(), " 2 ".to_owned()),
            ("x-a".to_owned(), "z".to_owned()),
            ("x-b".to_owned(), "1".to_owned()),
        ];
        let query: [(&str, &str); 0] = [];
        let canonical = v3_canonical_request("post", "", &query, &headers, "h");
        assert_eq!(canonical.text, "POST\n/\n\nx-a:z\nx-b:1,2\n\nx-a;x-b\nh");
    }

    #[test]
    fn malformed_authorization_headers_are_refused() {
        assert!(parse_authorization("ACS3-HMAC-SHA256 Credential=a,SignedHeaders=h").is_none());
        assert!(parse_authorization("HMAC Credential=a,SignedHeaders=h,Signature=s").is_none());
        assert!(
            parse_authorization("ACS3-HMAC-SHA256 Credential=,SignedHeaders=h,Signature=s")
                .is_none()
        );
        assert!(!same_signature("abc", "abd"));
        assert!(!same_signature("abc", "ab"));
    }
}
