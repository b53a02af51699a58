//! Records checks beyond the conformance suite: search semantics the suite does not pin
//! (one CJK character, a word being typed, token order, replaced content, long receivers,
//! bad cursors), receipt lookups, and concurrent appliers (two "nodes").

use super::fixtures::{event, message, with_content, with_provider_id};
use herald_domain::DeliveryState::*;
use herald_domain::time::now_ms;
use herald_domain::{AppId, DeliveryId};
use herald_ports::{Records, SearchFilter, StoreError};
use herald_store_sql::{SqlDb, SqlOptions, SqlRecords};
use std::collections::HashSet;

async fn found(records: &SqlRecords, app: &AppId, text: &str) -> HashSet<DeliveryId> {
    let filter = SearchFilter {
        text: Some(text.into()),
        ..Default::default()
    };
    let page = records.search(app, &filter, None, 100).await.unwrap();
    page.hits.into_iter().map(|h| h.delivery_id).collect()
}

/// Text search means what it means in the embedded store.
pub async fn search_semantics(db: &SqlDb) {
    let records = SqlRecords::new(db.clone());
    let app = AppId::generate();
    let long_receiver = "f".repeat(4096);
    let m = message(&app, &["a", "b", "c", &long_receiver]);
    records
        .record_accepted(std::slice::from_ref(&m))
        .await
        .unwrap();
    let contents = [
        "您的短信验证码 delivered",
        "国人 and 中国",
        "shipping notice",
        "尊敬的客户",
    ];
    let events = contents
        .iter()
        .enumerate()
        .map(|(i, c)| with_content(event(&m, i, 1, Sent), c))
        .collect();
    assert_eq!(records.apply(events).await.unwrap(), 4);
    let d = |i: usize| m.deliveries[i].id.clone();
    let set = |ids: &[usize]| ids.iter().map(|i| d(*i)).collect::<HashSet<_>>();

    assert_eq!(
        found(&records, &app, "码").await,
        set(&[0]),
        "last char of a run"
    );
    assert_eq!(
        found(&records, &app, "短").await,
        set(&[0]),
        "first char of a bigram"
    );
    assert_eq!(
        found(&records, &app, "国").await,
        set(&[1]),
        "lone-ish characters"
    );
    assert_eq!(
        found(&records, &app, "ship").await,
        set(&[2]),
        "a word being typed"
    );
    assert_eq!(found(&records, &app, "deliv").await, set(&[0]));
    assert_eq!(
        found(&records, &app, "中国人").await,
        set(&[]),
        "both bigrams present, but not adjacent"
    );
    assert_eq!(
        found(&records, &app, "客户").await,
        set(&[3]),
        "long receiver row"
    );

    // Replaced content is re-indexed: the old words no longer match.
    let replaced = with_content(event(&m, 2, 2, Sent), "退款通知");
    assert_eq!(records.apply(vec![replaced]).await.unwrap(), 1);
    assert_eq!(found(&records, &app, "shipping").await, set(&[]));
    assert_eq!(found(&records, &app, "退款").await, set(&[2]));

    let by_receiver = SearchFilter {
        receiver: Some(long_receiver.clone()),
        ..Default::default()
    };
    let page = records.search(&app, &by_receiver, None, 10).await.unwrap();
    assert_eq!(page.hits.len(), 1, "a 4 KiB receiver is searchable");
    assert_eq!(page.hits[0].receiver, long_receiver);

    let bad = records
        .search(&app, &SearchFilter::default(), Some("c1abc"), 10)
        .await;
    assert!(matches!(bad, Err(StoreError::InvalidInput(_))), "{bad:?}");
}

/// Receipts find their delivery by id or by the provider's id; overdue `sent` rows are
/// listed oldest first.
pub async fn receipt_lookups(db: &SqlDb) {
    let records = SqlRecords::new(db.clone());
    let app = AppId::generate();
    let m = message(&app, &["+8613800000001", "+8613800000002"]);
    records
        .record_accepted(std::slice::from_ref(&m))
        .await
        .unwrap();
    let provider_id = format!("biz-{}", m.id);
    let events = vec![
        with_provider_id(event(&m, 0, 1, Sent), &provider_id),
        with_provider_id(event(&m, 1, 1, Sent), &provider_id),
    ];
    records.apply(events).await.unwrap();

    let found = records.find_delivery(&m.deliveries[1].id).await.unwrap();
    let found = found.expect("a delivery is found by id");
    assert_eq!((found.app_id, found.state.state), (app.clone(), Sent));
    let by_provider = records
        .find_by_provider_id(&provider_id, Some("+8613800000002"))
        .await
        .unwrap()
        .expect("found by provider id and receiver");
    assert_eq!(by_provider.delivery_id, m.deliveries[1].id);
    assert!(
        records
            .find_by_provider_id("nope", None)
            .await
            .unwrap()
            .is_none()
    );

    let awaiting = records
        .awaiting_receipts(m.created_at, now_ms() + 60_000, 100)
        .await
        .unwrap();
    let ours: Vec<_> = awaiting.iter().filter(|a| a.app_id == app).collect();
    assert_eq!(ours.len(), 2, "both sent deliveries await their receipt");
    assert_eq!(ours[0].provider_id.as_deref(), Some(provider_id.as_str()));
    assert!(awaiting.windows(2).all(|w| w[0].sent_at <= w[1].sent_at));
}

/// Two nodes applying overlapping batches at once: no deadlock, no lost update, the
/// newest version wins, every change counted once.
pub async fn concurrent_appliers(url: &str) {
    let node_a = SqlRecords::new(SqlDb::connect(url, &SqlOptions::default()).await.unwrap());
    let node_b = SqlRecords::new(SqlDb::connect(url, &SqlOptions::default()).await.unwrap());
    let app = AppId::generate();
    let receivers: Vec<String> = (0..40).map(|i| format!("r{i}")).collect();
    let names: Vec<&str> = receivers.iter().map(String::as_str).collect();
    let m = message(&app, &names);
    node_a
        .record_accepted(std::slice::from_ref(&m))
        .await
        .unwrap();

    let mut tasks = Vec::new();
    for round in 0..10u32 {
        for (records, reverse) in [(node_a.clone(), false), (node_b.clone(), true)] {
            let mut events: Vec<_> = (0..m.deliveries.len())
                .map(|i| event(&m, i, round + 1 + u32::from(reverse), Sending))
                .collect();
            if reverse {
                events.reverse();
            }
            tasks.push(tokio::spawn(async move { records.apply(events).await }));
        }
    }
    for task in tasks {
        task.await.unwrap().expect("concurrent batches commit");
    }
    let ids: Vec<_> = m.deliveries.iter().map(|d| d.id.clone()).collect();
    let states = node_a.delivery_states(&ids).await.unwrap();
    for id in &ids {
        assert_eq!(
            states[id].version,
            herald_domain::EventVersion::new(11, Sending),
            "the newest version won"
        );
    }
}
