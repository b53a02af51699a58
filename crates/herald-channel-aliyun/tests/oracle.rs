//! Cross-check: Herald's v1 and v3 signatures equal the official Alibaba Cloud SDK's
//! (`scripts/aliyun_oracle.py`, PyPI `alibabacloud-tea-openapi`) on requests with Chinese
//! sign names, spaces, `*`, `~` and Unicode template parameters.
//!
//! Without python3 or the package the test prints why and passes, unless `CI=true`, where a
//! missing oracle is a failure. `PYTHON` names another interpreter.

use herald_channel_aliyun::sms::config::SignatureVersion;
use herald_channel_aliyun::sms::rpc::{SignedRequest, SigningInput, sign};
use serde_json::{Value, json};
use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};

type Params = Vec<(String, String)>;

fn pairs(items: &[(&str, &str)]) -> Params {
    items
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// The requests both signers sign: (query, form) per case.
fn cases() -> Vec<(&'static str, Params, Params)> {
    vec![
        (
            "SendSms",
            pairs(&[
                ("PhoneNumbers", "13800138000"),
                ("SignName", "阿里云短信测试"),
                ("TemplateCode", "SMS_154950909"),
                (
                    "TemplateParam",
                    r#"{"code":"1234","name":"张 三*~","note":"a+b=c&d/e"}"#,
                ),
                ("OutId", "dlv_01jc0000000000000000000000"),
            ]),
            Vec::new(),
        ),
        (
            "SendBatchSms",
            Vec::new(),
            pairs(&[
                ("PhoneNumberJson", r#"["13800138000","+85291234567"]"#),
                ("SignNameJson", r#"["阿里云 短信","Herald ~*'()!"]"#),
                ("TemplateCode", "SMS_1"),
                (
                    "TemplateParamJson",
                    r#"[{"name":"😀 émoji"},{"name":"100% off"}]"#,
                ),
            ]),
        ),
        (
            "QuerySendDetails",
            pairs(&[
                ("PhoneNumber", "13800138000"),
                ("SendDate", "20240201"),
                ("PageSize", "50"),
                ("CurrentPage", "1"),
                ("BizId", "900619746936498440^0"),
            ]),
            Vec::new(),
        ),
    ]
}

/// One request description for the oracle, from what Herald signed.
fn describe(
    version: SignatureVersion,
    query: &Params,
    signed: &SignedRequest,
    secret: &str,
) -> Value {
    let object = |items: &[(String, String)]| {
        Value::Object(items.iter().map(|(k, v)| (k.clone(), json!(v))).collect())
    };
    match version {
        SignatureVersion::V1 => json!({
            "kind": "v1", "method": "POST", "params": object(&signed.v1_params), "secret": secret,
        }),
        SignatureVersion::V3 => {
            let headers: Params = signed
                .headers
                .iter()
                .filter(|(k, _)| k != "authorization")
                .cloned()
                .collect();
            let payload = headers
                .iter()
                .find(|(k, _)| k == "x-acs-content-sha256")
                .map(|(_, v)| v.clone());
            json!({
                "kind": "v3", "method": "POST", "pathname": "/", "query": object(query),
                "headers": object(&headers), "payload_hash": payload, "access_key_id": "LTAI5t示例",
                "secret": secret,
            })
        }
    }
}

/// Runs the oracle; `Err` explains why it could not run.
fn run_oracle(input: &Value) -> Result<Vec<Value>, String> {
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../scripts/aliyun_oracle.py");
    let python = std::env::var("PYTHON").unwrap_or_else(|_| "python3".into());
    let mut child = Command::new(&python)
        .arg(&script)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot run {python}: {e}"))?;
    child
        .stdin
        .take()
        .expect("stdin is piped")
        .write_all(input.to_string().as_bytes())
        .map_err(|e| format!("writing to the oracle: {e}"))?;
    let output = child
        .wait_with_output()
        .map_err(|e| format!("waiting for the oracle: {e}"))?;
    let stderr = String::from_utf8_lossy(&output.stderr);
    match output.status.code() {
        Some(0) => {}
        Some(2) => return Err(format!("oracle unavailable: {stderr}")),
        _ => panic!("the oracle failed ({}): {stderr}", output.status),
    }
    serde_json::from_slice(&output.stdout).map_err(|e| panic!("oracle output is not JSON: {e}"))
}

#[test]
fn herald_signs_like_the_official_sdk() {
    let secret = "Sec+ret/with=symbols 密钥";
    let mut descriptions = Vec::new();
    let mut expected = Vec::new();
    for version in [SignatureVersion::V1, SignatureVersion::V3] {
        for (i, (action, query, form)) in cases().into_iter().enumerate() {
            let nonce = format!("nonce-{i}-{version:?}");
            let signed = sign(&SigningInput {
                signature: version,
                method: "POST",
                host: "dysmsapi.aliyuncs.com",
                action,
                version: "2017-05-25",
                query: &query,
                form: &form,
                timestamp: "2024-02-01T08:30:05Z",
                nonce: &nonce,
                access_key_id: "LTAI5t示例",
                access_key_secret: secret,
            });
            descriptions.push(describe(version, &query, &signed, secret));
            let authorization = signed
                .headers
                .iter()
                .find(|(k, _)| k == "authorization")
                .map(|(_, v)| v.clone());
            expected.push(match version {
                SignatureVersion::V1 => json!({ "signature": signed.signature }),
                SignatureVersion::V3 => json!({ "authorization": authorization }),
            });
        }
    }
    let results = match run_oracle(&Value::Array(descriptions)) {
        Ok(results) => results,
        Err(why) if std::env::var("CI").as_deref() == Ok("true") => {
            panic!("CI requires the SDK oracle: {why}")
        }
        Err(why) => {
            println!(
                "skipping the Alibaba Cloud SDK cross-check: {why} (pip install alibabacloud-tea-openapi)"
            );
            return;
        }
    };
    assert_eq!(results.len(), expected.len());
    for (i, (got, want)) in results.iter().zip(&expected).enumerate() {
        assert_eq!(got, want, "case {i}");
    }
}
