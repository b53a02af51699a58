//! The receipt-side lookups the conformance suite does not cover: a delivery by id, by the
//! provider id its attempt recorded (batch sends pick by receiver), and the `sent`
//! deliveries whose receipt is overdue; and content kept when a receipt carries none.

mod common;

use common::{event, fast_options, message};
use herald_domain::DeliveryState::*;
use herald_domain::{AppId, DeliveryId, EventVersion};
use herald_ports::Records;
use herald_store_search::SearchRecords;
use herald_store_search::fake::FakeElasticsearch;

#[tokio::test]
async fn receipts_find_their_delivery_and_overdue_sends_are_listed() {
    let fake = FakeElasticsearch::start().await.unwrap();
    let records = SearchRecords::connect(&fake.url(), fast_options("rcpt"))
        .await
        .unwrap();
    let app = AppId::generate();
    let m = message(&app, 10_000, &["+861", "+862", "+863"]);
    records
        .record_accepted(std::slice::from_ref(&m))
        .await
        .unwrap();
    let id = |i: usize| m.deliveries[i].id.clone();

    let mut sent0 = event(&m, 0, 1, Sent, 100, Some("batch-7"));
    sent0.content = Some("您的验证码".into());
    let events = vec![
        sent0,
        event(&m, 1, 1, Sent, 200, Some("batch-7")),
        event(&m, 2, 1, Retrying, 300, Some("single-9")),
        event(&m, 2, 2, Sent, 400, Some("single-10")),
    ];
    assert_eq!(records.apply(events).await.unwrap(), 4);

    let found = records.find_delivery(&id(1)).await.unwrap().unwrap();
    assert_eq!(
        (found.app_id.clone(), found.message_id.clone()),
        (app.clone(), m.id.clone())
    );
    assert_eq!((found.receiver.as_str(), found.state.state), ("+862", Sent));
    assert_eq!(
        records
            .find_delivery(&DeliveryId::generate())
            .await
            .unwrap(),
        None
    );

    let by_receiver = records
        .find_by_provider_id("batch-7", Some("+862"))
        .await
        .unwrap();
    assert_eq!(
        by_receiver.unwrap().delivery_id,
        id(1),
        "a batch id picks by receiver"
    );
    let older = records.find_by_provider_id("single-9", None).await.unwrap();
    assert_eq!(
        older.unwrap().delivery_id,
        id(2),
        "an earlier attempt's id still finds it"
    );
    assert_eq!(
        records
            .find_by_provider_id("batch-7", Some("+869"))
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        records.find_by_provider_id("nope", None).await.unwrap(),
        None
    );

    let overdue = records.awaiting_receipts(10_000, 10_350, 10).await.unwrap();
    let listed: Vec<_> = overdue
        .iter()
        .map(|a| (a.delivery_id.clone(), a.sent_at))
        .collect();
    assert_eq!(
        listed,
        [(id(0), 10_100), (id(1), 10_200)],
        "oldest first, `until` exclusive"
    );
    assert_eq!(overdue[0].provider_id.as_deref(), Some("batch-7"));
    assert_eq!(overdue[0].account_id, m.account_id);
    let later = records.awaiting_receipts(10_150, 20_000, 10).await.unwrap();
    assert_eq!(later.len(), 2);
    assert_eq!(
        later[1].provider_id.as_deref(),
        Some("single-10"),
        "the latest attempt's id"
    );
    assert_eq!(
        records
            .awaiting_receipts(10_000, 20_000, 1)
            .await
            .unwrap()
            .len(),
        1
    );

    // The receipt carries no content: the stored content and its search terms stay.
    let receipt = event(&m, 0, 1, Delivered, 500, None);
    assert_eq!(records.apply(vec![receipt]).await.unwrap(), 1);
    let view = records.get_message(&app, &m.id).await.unwrap().unwrap();
    assert_eq!(view.deliveries[0].content.as_deref(), Some("您的验证码"));
    assert_eq!(view.deliveries[0].version, EventVersion::new(1, Delivered));
    let (version, doc) = fake.document("rcpt-deliveries", id(0).as_str()).unwrap();
    assert_eq!(
        version,
        EventVersion::new(1, Delivered).as_u64(),
        "_version is the event version"
    );
    assert_eq!(doc["content_terms"], "您的 的验 验证 证码");
    assert_eq!(doc["content_tail"], serde_json::json!(["码"]));
    assert!(
        records
            .awaiting_receipts(10_000, 20_000, 10)
            .await
            .unwrap()
            .iter()
            .all(|a| a.delivery_id != id(0))
    );
}
