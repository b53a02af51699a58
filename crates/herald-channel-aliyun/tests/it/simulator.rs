//! The simulator refuses what Aliyun refuses, with Aliyun's codes: hand-signed requests with
//! stale timestamps, reused nonces, wrong signatures, unknown keys, bad parameters.

use crate::support::*;
use herald_channel_aliyun::sms::config::SignatureVersion::{self, V1, V3};
use herald_channel_aliyun::sms::signing;
use serde_json::{Value, json};

const SEND: &[(&str, &str)] = &[
    ("PhoneNumbers", "13800138000"),
    ("SignName", SIGN_NAME),
    ("TemplateCode", TEMPLATE),
    ("TemplateParam", r#"{"code":"1234"}"#),
];

async fn send(
    sim: &Sim,
    version: SignatureVersion,
    query: &[(&str, &str)],
    timestamp: &str,
    nonce: &str,
) -> (u16, Value) {
    let (status, _, body) = sim
        .raw_call(
            version,
            (AK, SECRET),
            "SendSms",
            query,
            &[],
            timestamp,
            nonce,
        )
        .await;
    (status, body)
}

#[tokio::test]
async fn authentication_failures_get_aliyun_gateway_codes() {
    let sim = Sim::start().await;
    for version in [V1, V3] {
        let (status, body) = send(&sim, version, SEND, &now_timestamp(), &fresh_nonce()).await;
        assert_eq!(
            (status, body["Code"].as_str()),
            (200, Some("OK")),
            "{version:?} {body}"
        );

        let stale = herald_channel_aliyun::sms::clock::acs_timestamp(
            herald_domain::time::now_ms() - 16 * 60_000,
        );
        let (status, body) = send(&sim, version, SEND, &stale, &fresh_nonce()).await;
        assert_eq!(
            (status, body["Code"].as_str()),
            (400, Some("InvalidTimeStamp.Expired")),
            "{version:?}"
        );

        let nonce = fresh_nonce();
        let query = [("PhoneNumbers", "13800138001"), SEND[1], SEND[2]];
        assert_eq!(
            send(&sim, version, &query, &now_timestamp(), &nonce)
                .await
                .0,
            200
        );
        let (status, body) = send(&sim, version, &query, &now_timestamp(), &nonce).await;
        assert_eq!(
            (status, body["Code"].as_str()),
            (400, Some("SignatureNonceUsed")),
            "{version:?}"
        );

        let (status, _, body) = sim
            .raw_call(
                version,
                (AK, "wrong"),
                "SendSms",
                SEND,
                &[],
                &now_timestamp(),
                &fresh_nonce(),
            )
            .await;
        assert_eq!(
            (status, body["Code"].as_str()),
            (400, Some("SignatureDoesNotMatch")),
            "{version:?}"
        );
        assert!(
            body["Message"]
                .as_str()
                .unwrap()
                .contains("server string to sign is:")
        );
        assert!(body["RequestId"].is_string() && body["Recommend"].is_string());

        let (status, _, body) = sim
            .raw_call(
                version,
                ("LTAI-unknown", SECRET),
                "SendSms",
                SEND,
                &[],
                &now_timestamp(),
                &fresh_nonce(),
            )
            .await;
        assert_eq!(
            (status, body["Code"].as_str()),
            (404, Some("InvalidAccessKeyId.NotFound")),
            "{version:?}"
        );
    }
    let stats = sim.stats(AK).await;
    assert_eq!(
        (stats["unique"].as_u64(), stats["rejected"].as_u64()),
        (Some(4), Some(6))
    );
}

#[tokio::test]
async fn a_tampered_request_fails_its_signature() {
    let sim = Sim::start().await;
    let host = sim.base.trim_start_matches("http://").to_owned();
    let query: Vec<(String, String)> = vec![];
    let form: Vec<(String, String)> = vec![
        ("PhoneNumberJson".into(), r#"["13800138000"]"#.into()),
        ("SignNameJson".into(), format!(r#"["{SIGN_NAME}"]"#)),
        ("TemplateCode".into(), TEMPLATE.into()),
    ];
    for version in [V1, V3] {
        let signed =
            herald_channel_aliyun::sms::rpc::sign(&herald_channel_aliyun::sms::rpc::SigningInput {
                signature: version,
                method: "POST",
                host: &host,
                action: "SendBatchSms",
                version: "2017-05-25",
                query: &query,
                form: &form,
                timestamp: &now_timestamp(),
                nonce: &fresh_nonce(),
                access_key_id: AK,
                access_key_secret: SECRET,
            });
        let mut body = signed.body.clone();
        body.extend_from_slice(b"0"); // one more digit in TemplateCode
        let (status, _, answer) = sim
            .send_signed(&signed.path_and_query, &signed.headers, body)
            .await;
        assert_eq!(
            (status, answer["Code"].as_str()),
            (400, Some("SignatureDoesNotMatch")),
            "{version:?}"
        );
        let (status, _, answer) = sim
            .send_signed(&signed.path_and_query, &signed.headers, signed.body)
            .await;
        assert_eq!(
            (status, answer["Code"].as_str()),
            (200, Some("OK")),
            "{version:?} {answer}"
        );
    }
}

#[tokio::test]
async fn v3_verification_uses_the_signed_headers_actually_sent() {
    let sim = Sim::start().await;
    let host = sim.base.trim_start_matches("http://").to_owned();
    let payload = signing::sha256_hex(b"");
    let headers: Vec<(String, String)> = [
        ("host", host.as_str()),
        ("x-acs-action", "SendSms"),
        ("x-acs-version", "2017-05-25"),
        ("x-acs-date", &now_timestamp()),
        ("x-acs-signature-nonce", &fresh_nonce()),
        ("x-acs-content-sha256", &payload),
        ("x-acs-extra", "  signed too  "),
        ("accept", "application/json"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    let query: Vec<(String, String)> = SEND
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let canonical = signing::v3_canonical_request("POST", "/", &query, &headers, &payload);
    let signature = signing::v3_signature(SECRET, &signing::v3_string_to_sign(&canonical.text));
    let mut sent = headers.clone();
    sent.push((
        "authorization".into(),
        signing::v3_authorization(AK, &canonical.signed_headers, &signature),
    ));
    let path = format!("/?{}", signing::canonical_query(&query));
    let (status, _, body) = sim.send_signed(&path, &sent, Vec::new()).await;
    assert_eq!((status, body["Code"].as_str()), (200, Some("OK")), "{body}");

    // Dropping a required header from SignedHeaders makes the signature incomplete.
    let partial: Vec<(String, String)> = headers
        .iter()
        .filter(|(k, _)| k != "x-acs-signature-nonce")
        .cloned()
        .collect();
    let canonical = signing::v3_canonical_request("POST", "/", &query, &partial, &payload);
    let signature = signing::v3_signature(SECRET, &signing::v3_string_to_sign(&canonical.text));
    let mut sent = headers.clone();
    sent.push((
        "authorization".into(),
        signing::v3_authorization(AK, &canonical.signed_headers, &signature),
    ));
    let (status, _, body) = sim.send_signed(&path, &sent, Vec::new()).await;
    assert_eq!(
        (status, body["Code"].as_str()),
        (400, Some("IncompleteSignature"))
    );
}

#[tokio::test]
async fn versions_actions_and_the_account_rate_limit_are_enforced() {
    let sim = Sim::start().await;
    let (status, _, body) = sim
        .raw_call(
            V3,
            (AK, SECRET),
            "DescribeRegions",
            &[],
            &[],
            &now_timestamp(),
            &fresh_nonce(),
        )
        .await;
    assert_eq!(
        (status, body["Code"].as_str()),
        (404, Some("InvalidAction.NotFound"))
    );

    sim.put_account(AK, json!({ "secret": SECRET, "rate_limit_per_sec": 2 }))
        .await;
    let mut throttled = 0;
    for i in 0..6 {
        let phone = format!("1380013810{i}");
        let query = [("PhoneNumbers", phone.as_str()), SEND[1], SEND[2]];
        let (status, headers, body) = sim
            .raw_call(
                V3,
                (AK, SECRET),
                "SendSms",
                &query,
                &[],
                &now_timestamp(),
                &fresh_nonce(),
            )
            .await;
        if status == 400 {
            assert_eq!(body["Code"], "Throttling.User");
            let wait: u64 = headers["x-acs-retry-after"]
                .to_str()
                .unwrap()
                .parse()
                .unwrap();
            assert!((1..=1000).contains(&wait));
            throttled += 1;
        }
    }
    assert!(throttled >= 2, "6 calls within ~2 seconds at 2/s");
    assert_eq!(sim.stats(AK).await["throttled"], throttled);
}

#[tokio::test]
async fn business_parameters_are_checked_with_http_200_codes() {
    let sim = Sim::start().await;
    let call = |action: &'static str,
                query: Vec<(&'static str, String)>,
                form: Vec<(&'static str, String)>| {
        let sim = &sim;
        async move {
            let query: Vec<(&str, &str)> = query.iter().map(|(k, v)| (*k, v.as_str())).collect();
            let form: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
            sim.raw_call(
                V3,
                (AK, SECRET),
                action,
                &query,
                &form,
                &now_timestamp(),
                &fresh_nonce(),
            )
            .await
        }
    };
    let send = |params: Value| {
        let query = [
            ("PhoneNumbers", "13800138000"),
            ("SignName", SIGN_NAME),
            ("TemplateCode", TEMPLATE),
        ]
        .into_iter()
        .map(|(k, v)| (k, v.to_owned()))
        .chain([("TemplateParam", params.to_string())])
        .collect::<Vec<_>>();
        call("SendSms", query, vec![])
    };
    let (_, _, body) = send(json!({ "code": 1234 })).await;
    assert_eq!(body["Code"], "isv.INVALID_JSON_PARAM");
    let (status, _, body) = call("SendSms", vec![("SignName", SIGN_NAME.into())], vec![]).await;
    assert_eq!(
        (status, body["Code"].as_str()),
        (400, Some("MissingPhoneNumbers"))
    );

    let phones =
        |n: usize| json!((0..n).map(|i| format!("138{i:08}")).collect::<Vec<_>>()).to_string();
    let signs = |n: usize| json!(vec![SIGN_NAME; n]).to_string();
    let batch = |p: String, s: String| {
        call(
            "SendBatchSms",
            vec![],
            vec![
                ("PhoneNumberJson", p),
                ("SignNameJson", s),
                ("TemplateCode", TEMPLATE.into()),
            ],
        )
    };
    let (_, _, body) = batch(phones(101), signs(101)).await;
    assert_eq!(body["Code"], "isv.MOBILE_COUNT_OVER_LIMIT");
    let (_, _, body) = batch(phones(3), signs(2)).await;
    assert_eq!(body["Code"], "isv.INVALID_PARAMETERS");
    let (_, _, body) = batch(r#"["13800138000","999"]"#.into(), signs(2)).await;
    assert_eq!(body["Code"], "isv.MOBILE_NUMBER_ILLEGAL");
    let (_, _, body) = batch(phones(2), signs(2)).await;
    assert_eq!(body["Code"], "OK");

    let query = |page_size: &str| {
        vec![
            ("PhoneNumber", "13800000001".to_owned()),
            (
                "SendDate",
                herald_channel_aliyun::sms::clock::send_date(herald_domain::time::now_ms()),
            ),
            ("PageSize", page_size.to_owned()),
            ("CurrentPage", "1".to_owned()),
        ]
    };
    let (_, _, body) = call("QuerySendDetails", query("10"), vec![]).await;
    assert_eq!(
        (body["Code"].as_str(), body["TotalCount"].as_u64()),
        (Some("OK"), Some(1))
    );
    let detail = &body["SmsSendDetailDTOs"]["SmsSendDetailDTO"][0];
    assert_eq!(
        (detail["PhoneNum"].as_str(), detail["TemplateCode"].as_str()),
        (Some("13800000001"), Some(TEMPLATE))
    );
    let (_, _, body) = call("QuerySendDetails", query("51"), vec![]).await;
    assert_eq!(body["Code"], "isv.INVALID_PARAMETERS");
}
