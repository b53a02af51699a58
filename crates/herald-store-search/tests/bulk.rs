//! The bulk client against the fake: only failed items are retried, version conflicts are
//! final, and the fake refuses malformed NDJSON the way ES does.

mod common;

use common::{Harness, fast_options, message};
use herald_ports::conformance::records::RecordsHarness;
use herald_ports::{Records, StoreError};
use herald_store_search::bulk::run_bulk;
use herald_store_search::fake::FakeElasticsearch;
use herald_store_search::{BulkOp, EsClient, ItemOutcome, Refresh, RetryPolicy, SearchRecords};
use serde_json::{Value, json};
use std::time::Duration;

fn policy(retries: u32) -> RetryPolicy {
    RetryPolicy {
        retries,
        initial_backoff: Duration::from_millis(1),
    }
}

fn versioned(id: &str, version: u64) -> BulkOp {
    BulkOp::IndexVersioned {
        index: "plain".into(),
        id: id.into(),
        version,
        source: json!({"v": version}),
    }
}

fn create(id: &str) -> BulkOp {
    BulkOp::Create {
        index: "plain".into(),
        id: id.into(),
        source: json!({"created": true}),
    }
}

async fn client(fake: &FakeElasticsearch) -> EsClient {
    EsClient::new(&fake.url(), Duration::from_secs(5)).unwrap()
}

#[tokio::test]
async fn external_versions_must_grow_and_conflicts_are_final() {
    let fake = FakeElasticsearch::start().await.unwrap();
    let client = client(&fake).await;
    let run = |ops: Vec<BulkOp>| {
        let client = client.clone();
        async move {
            run_bulk(&client, &ops, policy(3), Refresh::No)
                .await
                .unwrap()
        }
    };
    assert_eq!(
        run(vec![versioned("d", 0x105), create("a")]).await,
        [
            ItemOutcome::Written { version: 0x105 },
            ItemOutcome::Written { version: 1 }
        ]
    );
    let (requests_before, items_before) = fake.bulk_counts();
    assert_eq!(
        run(vec![
            versioned("d", 0x105),
            versioned("d", 0x103),
            create("a")
        ])
        .await,
        [
            ItemOutcome::Conflict,
            ItemOutcome::Conflict,
            ItemOutcome::Conflict
        ],
        "an equal or lower version and a second create are 409s"
    );
    assert_eq!(
        fake.bulk_counts(),
        (requests_before + 1, items_before + 3),
        "409s are final: nothing is resent"
    );
    assert_eq!(
        run(vec![versioned("d", 0x207)]).await,
        [ItemOutcome::Written { version: 0x207 }]
    );
    assert_eq!(fake.document("plain", "d").unwrap().0, 0x207);
}

#[tokio::test]
async fn only_the_items_that_failed_are_retried() {
    let fake = FakeElasticsearch::start().await.unwrap();
    let client = client(&fake).await;
    run_bulk(&client, &[versioned("old", 9)], policy(0), Refresh::No)
        .await
        .unwrap();
    let (r0, i0) = fake.bulk_counts();
    // The first two items of the first round are rejected with 429; the retry round must
    // hold just those two, while the 409 on "old" is final and the rest were written.
    fake.fail_next_items(2, 429);
    let ops = vec![
        versioned("a", 1),
        versioned("b", 1),
        versioned("old", 3),
        create("c"),
    ];
    let outcomes = run_bulk(&client, &ops, policy(4), Refresh::No)
        .await
        .unwrap();
    assert_eq!(
        outcomes,
        [
            ItemOutcome::Written { version: 1 },
            ItemOutcome::Written { version: 1 },
            ItemOutcome::Conflict,
            ItemOutcome::Written { version: 1 },
        ]
    );
    assert_eq!(
        fake.bulk_counts(),
        (r0 + 2, i0 + 4 + 2),
        "the retry carried only the two rejected items"
    );
    assert!(fake.document("plain", "a").is_some() && fake.document("plain", "b").is_some());
}

#[tokio::test]
async fn transient_failures_that_outlast_the_policy_surface_as_unavailable() {
    let fake = FakeElasticsearch::start().await.unwrap();
    let records = SearchRecords::connect(&fake.url(), fast_options("exhaust"))
        .await
        .unwrap();
    let app = herald_domain::AppId::generate();
    let m = message(&app, 1_000, &["x"]);
    // 2 items (message + delivery) × 5 rounds (1 try + 4 retries).
    fake.fail_next_items(10, 503);
    let error = records.record_accepted(std::slice::from_ref(&m)).await;
    assert!(
        matches!(error, Err(StoreError::Unavailable(_))),
        "{error:?}"
    );
    assert_eq!(records.get_message(&app, &m.id).await.unwrap(), None);

    // One item fails once, then goes through: the message reads back whole.
    fake.fail_next_items(1, 429);
    let harness = Harness { records };
    harness.seed(vec![m.clone()]).await.unwrap();
    let view = harness
        .records
        .get_message(&app, &m.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(view.message, m);
}

async fn post_bulk(fake: &FakeElasticsearch, body: &str) -> (u16, Value) {
    let response = reqwest::Client::new()
        .post(format!("{}/_bulk", fake.url()))
        .header("content-type", "application/x-ndjson")
        .body(body.to_string())
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap())
}

#[tokio::test]
async fn the_fake_refuses_malformed_ndjson_whole_with_es_error_shapes() {
    let fake = FakeElasticsearch::start().await.unwrap();
    let good = "{\"index\":{\"_index\":\"p\",\"_id\":\"1\"}}\n{\"a\":1}\n";
    let cases = [
        (
            good.trim_end().to_string(),
            "illegal_argument_exception",
            "no final newline",
        ),
        (
            format!("{good}{{\"index\":{{\"_index\":\"p\",\"_id\":\"2\"}}\n{{\"a\":\n"),
            "x_content_parse_exception",
            "a broken source line",
        ),
        (
            format!("{good}{{\"update\" {{}}\n"),
            "x_content_parse_exception",
            "a broken action line",
        ),
        (
            format!("{good}{{\"upsert\":{{\"_index\":\"p\",\"_id\":\"2\"}}}}\n{{}}\n"),
            "illegal_argument_exception",
            "an unknown action",
        ),
        (
            format!("{good}{{\"index\":{{\"_index\":\"p\",\"_id\":\"2\",\"version\":3}}}}\n{{}}\n"),
            "action_request_validation_exception",
            "a version without external versioning",
        ),
        (
            format!("{good}{{\"create\":{{\"_index\":\"p\",\"_id\":\"2\"}}}}\n"),
            "action_request_validation_exception",
            "a create without its source",
        ),
    ];
    for (body, kind, what) in cases {
        let (status, answer) = post_bulk(&fake, &body).await;
        assert_eq!(status, 400, "{what}: {answer}");
        assert_eq!(answer["status"], 400, "{what}");
        assert_eq!(answer["error"]["type"], kind, "{what}: {answer}");
        assert_eq!(answer["error"]["root_cause"][0]["type"], kind, "{what}");
        assert!(
            fake.document("p", "1").is_none(),
            "{what}: nothing of a refused request is applied"
        );
    }
    let (status, answer) = post_bulk(&fake, good).await;
    assert_eq!((status, &answer["errors"]), (200, &json!(false)));
    assert_eq!(answer["items"][0]["index"]["status"], 201);
}
