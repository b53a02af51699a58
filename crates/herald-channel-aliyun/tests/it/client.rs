//! The client against its simulator: success, batching, each error class, per-number limits,
//! timeouts reconciled through QuerySendDetails.

use crate::support::*;
use herald_channel_aliyun::sms::errors::BUSINESS_LIMIT_CONTROL;
use herald_domain::Outcome;
use herald_ports::Channel;
use serde_json::{Value, json};

fn biz_id(outcome: &Outcome) -> String {
    match outcome {
        Outcome::Sent {
            provider_id: Some(id),
        } => id.clone(),
        other => panic!("expected sent, got {other:?}"),
    }
}

#[tokio::test]
async fn a_single_send_is_sent_then_its_receipts_arrive_even_twice() {
    let sim = Sim::start().await;
    sim.settings(json!({ "receipts_url": "/callbacks/aliyun/sms/report", "duplicate_receipt_rate": 1.0, "receipt_delay_ms": 10 }))
        .await;
    let channel = sim.channel();
    assert_eq!(channel.max_batch(), 100);
    let message = message("13800138000", TEMPLATE, "123456");
    let result = send_one(&channel, &account(json!({})), &message).await;
    let biz = biz_id(&result.outcome);
    assert_eq!(result.provider_request_id.as_deref(), Some(biz.as_str()));

    let sent = sim.messages().await;
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0]["action"], "SendSms");
    assert_eq!(sent[0]["out_id"], message.delivery_id.as_str());
    assert_eq!(sent[0]["sign_name"], SIGN_NAME);
    let param: Value = serde_json::from_str(sent[0]["template_param"].as_str().unwrap()).unwrap();
    assert_eq!(param, json!({ "code": "123456", "product": "阿里 云*~" }));

    let receipts = sim.wait_receipts(2).await;
    assert_eq!(receipts.len(), 2, "the duplicate push is passed on too");
    for receipt in &receipts {
        assert_eq!(receipt.delivery_id.as_ref(), Some(&message.delivery_id));
        assert_eq!(receipt.provider_id.as_deref(), Some(biz.as_str()));
        assert_eq!(receipt.receiver.as_deref(), Some("13800138000"));
        assert!(receipt.delivered);
        assert_eq!(receipt.code.as_deref(), Some("DELIVERED"));
    }
    let stats = sim.stats(AK).await;
    assert_eq!(
        (stats["unique"].as_u64(), stats["rejected"].as_u64()),
        (Some(1), Some(0))
    );
}

#[tokio::test]
async fn rpc_v1_signing_is_accepted_for_single_and_batch_sends() {
    let sim = Sim::start().await;
    let channel = sim.channel();
    let account = account(json!({ "signature_version": "v1" }));
    let single = send_one(&channel, &account, &message("13800138001", TEMPLATE, "1")).await;
    assert_eq!(single.outcome.class(), "sent", "{:?}", single.outcome);
    let batch = [
        message("13800138002", TEMPLATE, "2"),
        message("13800138003", TEMPLATE, "3"),
    ];
    for result in channel.send(&account, &batch).await {
        assert_eq!(result.outcome.class(), "sent", "{:?}", result.outcome);
    }
    assert_eq!(sim.stats(AK).await["unique"], 2);
}

#[tokio::test]
async fn messages_sharing_a_template_go_out_in_one_batch_and_receipts_match_by_phone() {
    let sim = Sim::start().await;
    sim.settings(json!({
        "receipts_url": "/callbacks/aliyun/sms/report", "duplicate_receipt_rate": 0.0,
        "receipt_delay_ms": 10, "undeliverable_numbers": ["13800138012"],
    }))
    .await;
    let channel = sim.channel();
    let mut own_sign = message("+8613800138014", TEMPLATE, "14");
    own_sign
        .content
        .fields
        .insert("sign_name".into(), "另一个签名".into());
    let batch = [
        message("13800138011", TEMPLATE, "11"),
        message("13800138012", TEMPLATE, "12"),
        message("13800138013", "SMS_OTHER", "13"),
        own_sign,
    ];
    let results = channel.send(&account(json!({})), &batch).await;
    let ids: Vec<String> = results.iter().map(|r| biz_id(&r.outcome)).collect();
    assert_eq!(ids[0], ids[1]);
    assert_eq!(ids[0], ids[3]);
    assert_ne!(ids[0], ids[2], "another template is another call");

    let sent = sim.messages().await;
    let batched: Vec<&Value> = sent
        .iter()
        .filter(|m| m["action"] == "SendBatchSms")
        .collect();
    assert_eq!(batched.len(), 3);
    assert!(
        batched
            .iter()
            .all(|m| m["out_id"] == "" && m["biz_id"] == ids[0].as_str())
    );
    assert_eq!(batched[2]["phone_number"], "+8613800138014");
    assert_eq!(
        batched[2]["sign_name"], "另一个签名",
        "SignNameJson per number"
    );
    assert_eq!(batched[0]["sign_name"], SIGN_NAME);
    assert_eq!(
        batched[1]["template_param"],
        r#"{"code":"12","product":"阿里 云*~"}"#
    );
    assert_eq!(sim.stats(AK).await["unique"], 2, "two provider calls");

    let receipts = sim.wait_receipts(4).await;
    assert_eq!(receipts.len(), 4);
    let failed = receipts
        .iter()
        .find(|r| r.receiver.as_deref() == Some("13800138012"))
        .unwrap();
    assert!(!failed.delivered);
    assert_eq!(failed.code.as_deref(), Some("MOBILE_NOT_ON_SERVICE"));
    assert_eq!(
        (failed.delivery_id.as_ref(), failed.provider_id.as_deref()),
        (None, Some(ids[0].as_str()))
    );
    let single = receipts
        .iter()
        .find(|r| r.receiver.as_deref() == Some("13800138013"))
        .unwrap();
    assert_eq!(single.delivery_id.as_ref(), Some(&batch[2].delivery_id));
}

#[tokio::test]
async fn provider_refusals_follow_the_error_table() {
    let sim = Sim::start().await;
    let channel = sim.channel();
    let ok = account(json!({}));
    let outcome = |o: &Outcome| (o.class(), o.code().unwrap_or_default().to_owned());

    let bad_number = send_one(&channel, &ok, &message("12345", TEMPLATE, "1")).await;
    assert_eq!(
        outcome(&bad_number.outcome),
        ("permanent", "isv.MOBILE_NUMBER_ILLEGAL".into())
    );
    assert!(
        bad_number.provider_request_id.is_some(),
        "the RequestId is kept"
    );

    let wrong_secret = account_with_secret(json!({}), AK, "not-the-secret");
    let refused = send_one(
        &channel,
        &wrong_secret,
        &message("13800138020", TEMPLATE, "1"),
    )
    .await;
    assert_eq!(
        outcome(&refused.outcome),
        ("permanent", "SignatureDoesNotMatch".into())
    );
    let unknown = account_with_secret(json!({}), "LTAI-nobody", SECRET);
    let refused = send_one(&channel, &unknown, &message("13800138020", TEMPLATE, "1")).await;
    assert_eq!(
        outcome(&refused.outcome),
        ("permanent", "InvalidAccessKeyId.NotFound".into())
    );

    sim.put_account(
        AK,
        json!({ "secret": SECRET, "fail_first": 1, "retry_after_secs": 2, "permanent_first": 1 }),
    )
    .await;
    let busy = send_one(&channel, &ok, &message("13800138021", TEMPLATE, "1")).await;
    assert_eq!(
        busy.outcome,
        Outcome::Retryable {
            code: "ServiceUnavailable".into(),
            message: "HTTP 503: The request has failed due to a temporary failure of the server."
                .into(),
            retry_after_ms: Some(2000),
        }
    );
    let injected = send_one(&channel, &ok, &message("13800138021", TEMPLATE, "1")).await;
    assert_eq!(
        outcome(&injected.outcome),
        ("permanent", "isv.INVALID_PARAMETERS".into())
    );
    let fine = send_one(&channel, &ok, &message("13800138021", TEMPLATE, "1")).await;
    assert_eq!(fine.outcome.class(), "sent");

    sim.put_account(AK, json!({ "secret": SECRET, "rate_limit_per_sec": 1 }))
        .await;
    let sends = (0..3)
        .map(|i| message(&format!("1380013803{i}"), TEMPLATE, "1"))
        .collect::<Vec<_>>();
    let results = futures::future::join_all(sends.iter().map(|m| send_one(&channel, &ok, m))).await;
    let throttled: Vec<_> = results
        .iter()
        .filter(|r| r.outcome.code() == Some("Throttling.User"))
        .collect();
    assert!(!throttled.is_empty(), "{results:?}");
    for r in throttled {
        assert!(
            matches!(r.outcome, Outcome::Retryable { retry_after_ms: Some(ms), .. } if ms <= 1000)
        );
    }
    assert!(sim.stats(AK).await["throttled"].as_u64().unwrap() >= 1);
}

#[tokio::test]
async fn local_problems_are_permanent_or_retryable_without_a_call() {
    let sim = Sim::start().await;
    let channel = sim.channel();
    let mut no_template = message("13800138040", TEMPLATE, "1");
    no_template.content.fields.remove("template_code");
    let result = send_one(&channel, &account(json!({})), &no_template).await;
    assert_eq!(result.outcome.code(), Some("template_invalid"));
    let result = send_one(
        &channel,
        &account(json!({ "signature_version": "v2" })),
        &message("13800138040", TEMPLATE, "1"),
    )
    .await;
    assert_eq!(result.outcome.code(), Some("config_invalid"));
    let nowhere = account(json!({ "endpoint": "http://127.0.0.1:9" }));
    let result = send_one(&channel, &nowhere, &message("13800138040", TEMPLATE, "1")).await;
    assert_eq!(
        (result.outcome.class(), result.outcome.code()),
        ("retryable", Some("connect"))
    );
    assert_eq!(
        sim.stats(AK).await["received"],
        0,
        "nothing reached the simulator"
    );
}

#[tokio::test]
async fn code_limits_are_counted_before_calling() {
    let sim = Sim::start().await;
    sim.settings(json!({ "code_templates": [TEMPLATE] })).await;
    let channel = sim.channel();
    let codes = account(json!({ "code_template": true }));
    let first = send_one(&channel, &codes, &message("13800138050", TEMPLATE, "1")).await;
    assert_eq!(first.outcome.class(), "sent");
    let second = send_one(&channel, &codes, &message("+8613800138050", TEMPLATE, "2")).await;
    match &second.outcome {
        Outcome::Retryable {
            code,
            message,
            retry_after_ms: Some(ms),
        } => {
            assert_eq!(code, BUSINESS_LIMIT_CONTROL);
            assert!(message.contains("Herald"), "{message}");
            assert!(*ms <= 60_000);
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(
        sim.stats(AK).await["received"],
        1,
        "the held-back send burnt no call"
    );
    let other_number = send_one(&channel, &codes, &message("13800138051", TEMPLATE, "3")).await;
    assert_eq!(other_number.outcome.class(), "sent");

    // An account that does not know it sends codes learns it from the provider.
    let unaware = account(json!({}));
    let refused = send_one(&channel, &unaware, &message("13800138050", TEMPLATE, "4")).await;
    match &refused.outcome {
        Outcome::Retryable {
            code,
            message,
            retry_after_ms: Some(ms),
        } => {
            assert_eq!(code, BUSINESS_LIMIT_CONTROL);
            assert_eq!(message, "触发分钟级流控Permits:1");
            assert!(*ms <= 60_000);
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(sim.stats(AK).await["throttled"], 1);
}

#[tokio::test]
async fn a_timeout_is_unknown_and_reconciled_through_query_send_details() {
    let sim = Sim::start().await;
    sim.settings(json!({ "receipt_delay_ms": 0, "undeliverable_numbers": ["13800138061"] }))
        .await;
    sim.put_account(
        AK,
        json!({ "secret": SECRET, "timeout_first": 2, "timeout_sleep_ms": 600 }),
    )
    .await;
    let channel = sim.channel();
    let slow = account(json!({ "timeout_ms": 200 }));
    let delivered = message("13800138060", TEMPLATE, "1");
    let failed = message("13800138061", TEMPLATE, "2");
    let results =
        futures::future::join_all([&delivered, &failed].map(|m| send_one(&channel, &slow, m)))
            .await;
    for result in &results {
        assert_eq!(
            (result.outcome.class(), result.outcome.code()),
            ("unknown", Some("timeout"))
        );
    }
    tokio::time::sleep(std::time::Duration::from_millis(700)).await; // the provider finishes
    assert_eq!(
        channel.reconcile(&slow, &delivered).await,
        Some(Outcome::Delivered { provider_id: None })
    );
    match channel.reconcile(&slow, &failed).await {
        Some(Outcome::Permanent { code, .. }) => assert_eq!(code, "MOBILE_NOT_ON_SERVICE"),
        other => panic!("{other:?}"),
    }
    let never = message("13800138062", TEMPLATE, "3");
    match channel.reconcile(&slow, &never).await {
        Some(Outcome::Retryable { code, .. }) => assert_eq!(code, "not_sent"),
        other => panic!("{other:?}"),
    }
    // A batched send has no OutId: it is recognised by template and time.
    let batch = [
        message("13800138063", TEMPLATE, "4"),
        message("13800138064", TEMPLATE, "5"),
    ];
    let results = channel.send(&slow, &batch).await;
    assert!(results.iter().all(|r| r.outcome.class() == "sent"));
    assert_eq!(
        channel.reconcile(&slow, &batch[1]).await,
        Some(Outcome::Delivered { provider_id: None })
    );
    // A query the provider refuses leaves the delivery unknown.
    let wrong = account_with_secret(json!({}), AK, "wrong");
    assert_eq!(channel.reconcile(&wrong, &delivered).await, None);
}
