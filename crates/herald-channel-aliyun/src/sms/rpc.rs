//! One signed dysmsapi RPC call: [`sign`] turns a call description into the exact request
//! (pure, so tests and the SDK cross-check can sign fixed inputs), [`invoke`] sends it and
//! sorts the answer into a business body (HTTP 200) or a gateway [`Outcome`].
//!
//! Like the current official SDK, every call is a `POST /` with the business parameters in the
//! query string and an empty body, except SendBatchSms whose `*Json` arrays travel in a form
//! body. v1 adds the common RPC parameters and `Signature` to the query; v3 sends `host`,
//! `x-acs-action`, `x-acs-version`, `x-acs-date`, `x-acs-signature-nonce`,
//! `x-acs-content-sha256` (and `content-type` with a body), all signed, plus `Authorization`.

use super::clock;
use super::config::{API_VERSION, Settings, SignatureVersion};
use super::errors::classify_gateway;
use super::signing::{self, percent_encode};
use herald_channels::http::{retry_after_ms, transport_outcome};
use herald_domain::Outcome;
use herald_domain::time::now_ms;
use serde_json::Value;
use std::time::SystemTime;

/// Content type of a form body.
pub const FORM_CONTENT_TYPE: &str = "application/x-www-form-urlencoded";
/// Response header with the throttling wait in milliseconds (read by the official SDK).
pub const RETRY_AFTER_HEADER: &str = "x-acs-retry-after";

/// A dysmsapi call: the action and its business parameters.
#[derive(Debug, Clone)]
pub struct RpcCall {
    pub action: &'static str,
    pub query: Vec<(String, String)>,
    pub form: Vec<(String, String)>,
}

/// Everything a signature depends on (the clock and the nonce are inputs).
#[derive(Debug, Clone)]
pub struct SigningInput<'a> {
    pub signature: SignatureVersion,
    pub method: &'a str,
    /// The `host` header: host, plus `:port` when not the scheme's default.
    pub host: &'a str,
    pub action: &'a str,
    pub version: &'a str,
    pub query: &'a [(String, String)],
    pub form: &'a [(String, String)],
    /// `yyyy-MM-ddTHH:mm:ssZ`.
    pub timestamp: &'a str,
    pub nonce: &'a str,
    pub access_key_id: &'a str,
    pub access_key_secret: &'a str,
}

/// A signed request: send `POST {endpoint}{path_and_query}` with these headers and body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedRequest {
    /// `/?…`: the encoded query, `Signature` last for v1.
    pub path_and_query: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    /// All parameters v1 signed (query and form), for cross-checks; empty for v3.
    pub v1_params: Vec<(String, String)>,
    /// The v1 `Signature` or the v3 hex signature.
    pub signature: String,
}

/// `k=v&…` form body, percent-encoded like the query.
fn form_body(form: &[(String, String)]) -> Vec<u8> {
    form.iter()
        .map(|(k, v)| format!("{}={}", percent_encode(k), percent_encode(v)))
        .collect::<Vec<_>>()
        .join("&")
        .into_bytes()
}

/// Signs a call as described in the module doc.
pub fn sign(input: &SigningInput<'_>) -> SignedRequest {
    let body = form_body(input.form);
    let mut headers = Vec::new();
    if !body.is_empty() {
        headers.push(("content-type".to_owned(), FORM_CONTENT_TYPE.to_owned()));
    }
    match input.signature {
        SignatureVersion::V1 => {
            let mut query: Vec<(String, String)> = [
                ("AccessKeyId", input.access_key_id),
                ("Action", input.action),
                ("Format", "JSON"),
                ("SignatureMethod", signing::V1_METHOD),
                ("SignatureNonce", input.nonce),
                ("SignatureVersion", signing::V1_VERSION),
                ("Timestamp", input.timestamp),
                ("Version", input.version),
            ]
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect();
            query.extend(input.query.iter().cloned());
            let mut signed = query.clone();
            signed.extend(input.form.iter().cloned());
            let string_to_sign = signing::v1_string_to_sign(input.method, &signed);
            let signature = signing::v1_signature(input.access_key_secret, &string_to_sign);
            headers.push(("host".to_owned(), input.host.to_owned()));
            SignedRequest {
                path_and_query: format!(
                    "/?{}&Signature={}",
                    signing::canonical_query(&query),
                    percent_encode(&signature)
                ),
                headers,
                body,
                v1_params: signed,
                signature,
            }
        }
        SignatureVersion::V3 => {
            let hashed = signing::sha256_hex(&body);
            headers.extend(
                [
                    ("host", input.host),
                    ("x-acs-action", input.action),
                    ("x-acs-version", input.version),
                    ("x-acs-date", input.timestamp),
                    ("x-acs-signature-nonce", input.nonce),
                    ("x-acs-content-sha256", &hashed),
                ]
                .into_iter()
                .map(|(k, v)| (k.to_owned(), v.to_owned())),
            );
            let canonical =
                signing::v3_canonical_request(input.method, "/", input.query, &headers, &hashed);
            let signature = signing::v3_signature(
                input.access_key_secret,
                &signing::v3_string_to_sign(&canonical.text),
            );
            headers.push((
                "authorization".to_owned(),
                signing::v3_authorization(
                    input.access_key_id,
                    &canonical.signed_headers,
                    &signature,
                ),
            ));
            SignedRequest {
                path_and_query: format!("/?{}", signing::canonical_query(input.query)),
                headers,
                body,
                v1_params: Vec::new(),
                signature,
            }
        }
    }
}

/// A fresh `SignatureNonce` / `x-acs-signature-nonce`: 128 random bits in hex.
pub fn nonce() -> String {
    format!("{:032x}", rand::random::<u128>())
}

/// The `host` header for an endpoint URL.
fn host_of(endpoint: &str) -> Result<String, Outcome> {
    let url = reqwest::Url::parse(endpoint).map_err(|e| Outcome::Permanent {
        code: "config_invalid".into(),
        message: format!("endpoint {endpoint:?}: {e}"),
    })?;
    let host = url.host_str().unwrap_or_default();
    Ok(match url.port() {
        Some(port) => format!("{host}:{port}"),
        None => host.to_owned(),
    })
}

/// Sends `call` for the account. `Ok` is the JSON body of an HTTP 200 (business `Code`
/// still to check); `Err` is the outcome of a gateway error, transport failure or a 200
/// that is not JSON.
pub async fn invoke(
    http: &reqwest::Client,
    settings: &Settings,
    call: &RpcCall,
) -> Result<Value, Outcome> {
    let host = host_of(&settings.endpoint)?;
    let timestamp = clock::acs_timestamp(now_ms());
    let nonce = nonce();
    let signed = sign(&SigningInput {
        signature: settings.signature,
        method: "POST",
        host: &host,
        action: call.action,
        version: API_VERSION,
        query: &call.query,
        form: &call.form,
        timestamp: &timestamp,
        nonce: &nonce,
        access_key_id: &settings.access_key_id,
        access_key_secret: &settings.access_key_secret,
    });
    let mut request = http
        .post(format!("{}{}", settings.endpoint, signed.path_and_query))
        .timeout(settings.timeout)
        .header("accept", "application/json");
    for (name, value) in &signed.headers {
        request = request.header(name.as_str(), value.as_str());
    }
    let response = request
        .body(signed.body)
        .send()
        .await
        .map_err(|e| transport_outcome(&e))?;
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let body = response.bytes().await.map_err(|e| transport_outcome(&e))?;
    let parsed = serde_json::from_slice::<Value>(&body).ok();
    if status == 200 {
        return parsed
            .filter(Value::is_object)
            .ok_or_else(|| Outcome::Unknown {
                code: "bad_response".into(),
                message: format!(
                    "{}: HTTP 200 without a JSON body: {}",
                    call.action,
                    String::from_utf8_lossy(&body)
                        .chars()
                        .take(200)
                        .collect::<String>()
                ),
            });
    }
    let field = |name: &str| {
        parsed
            .as_ref()
            .and_then(|v| v.get(name))
            .and_then(Value::as_str)
            .map(str::to_owned)
    };
    let message = field("Message")
        .unwrap_or_else(|| String::from_utf8_lossy(&body).chars().take(200).collect());
    let retry_after = headers
        .get(RETRY_AFTER_HEADER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
        .filter(|ms| *ms > 0)
        .or_else(|| retry_after_ms(&headers, SystemTime::now()));
    Err(classify_gateway(
        status,
        field("Code").as_deref(),
        &message,
        retry_after,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    type Params = Vec<(String, String)>;

    /// A query and a form body with Chinese text and a space.
    fn input() -> (Params, Params) {
        let query = vec![("PhoneNumbers".to_owned(), "13800000000".to_owned())];
        let form = vec![("SignNameJson".to_owned(), r#"["阿里 云"]"#.to_owned())];
        (query, form)
    }

    #[test]
    fn v1_puts_common_parameters_and_the_signature_in_the_query() {
        let (query, form) = input();
        let signed = sign(&SigningInput {
            signature: SignatureVersion::V1,
            method: "POST",
            host: "dysmsapi.aliyuncs.com",
            action: "SendBatchSms",
            version: API_VERSION,
            query: &query,
            form: &form,
            timestamp: "2024-01-01T00:00:00Z",
            nonce: "n1",
            access_key_id: "ak",
            access_key_secret: "sk",
        });
        assert!(signed.path_and_query.starts_with("/?AccessKeyId=ak&Action=SendBatchSms&Format=JSON&PhoneNumbers=13800000000&SignatureMethod=HMAC-SHA1"));
        assert!(
            signed
                .path_and_query
                .ends_with(&format!("&Signature={}", percent_encode(&signed.signature)))
        );
        assert_eq!(
            signed.body,
            b"SignNameJson=%5B%22%E9%98%BF%E9%87%8C%20%E4%BA%91%22%5D"
        );
        let expected =
            signing::v1_signature("sk", &signing::v1_string_to_sign("POST", &signed.v1_params));
        assert_eq!(signed.signature, expected);
        assert_eq!(signed.v1_params.len(), 10, "8 common + query + form");
    }

    #[test]
    fn v3_signs_its_headers_and_body_hash() {
        let (query, form) = input();
        let signed = sign(&SigningInput {
            signature: SignatureVersion::V3,
            method: "POST",
            host: "127.0.0.1:8080",
            action: "SendBatchSms",
            version: API_VERSION,
            query: &query,
            form: &form,
            timestamp: "2024-01-01T00:00:00Z",
            nonce: "n1",
            access_key_id: "ak",
            access_key_secret: "sk",
        });
        assert_eq!(signed.path_and_query, "/?PhoneNumbers=13800000000");
        let header = |name: &str| {
            signed
                .headers
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.clone())
        };
        assert_eq!(
            header("x-acs-content-sha256").unwrap(),
            signing::sha256_hex(&signed.body)
        );
        let auth = signing::parse_authorization(&header("authorization").unwrap()).unwrap();
        assert_eq!(
            auth.signed_headers.join(";"),
            "content-type;host;x-acs-action;x-acs-content-sha256;x-acs-date;x-acs-signature-nonce;x-acs-version"
        );
        assert_eq!(auth.signature, signed.signature);
    }

    #[test]
    fn hosts_keep_non_default_ports() {
        assert_eq!(
            host_of("https://dysmsapi.aliyuncs.com").unwrap(),
            "dysmsapi.aliyuncs.com"
        );
        assert_eq!(
            host_of("http://127.0.0.1:9/sim/aliyun").unwrap(),
            "127.0.0.1:9"
        );
        assert!(host_of("not a url").is_err());
    }
}
