//! Query-plan checks: each search shape walks the index the module doc promises.

use super::*;
use herald_domain::{ChannelKind, DeliveryState};

fn plan(filter: SearchFilter, cursor: Option<&str>) -> String {
    let conn = Connection::open_in_memory().unwrap();
    conn.execute_batch(super::super::SCHEMA).unwrap();
    let query = SearchQuery::build(&AppId::generate(), &filter, cursor, 50).unwrap();
    let sql = format!("EXPLAIN QUERY PLAN {}", query.sql.unwrap());
    let mut stmt = conn.prepare(&sql).unwrap();
    let rows = stmt
        .query_map(rusqlite::params_from_iter(query.params), |r| {
            r.get::<_, String>(3)
        })
        .unwrap();
    rows.map(Result::unwrap).collect::<Vec<_>>().join("\n")
}

#[test]
fn searches_walk_one_index_in_page_order_without_sorting() {
    let cursor = cursor::encode(5 << SEQ_SHIFT);
    let cases = [
        (
            SearchFilter::default(),
            "deliveries_by_time (app_id=? AND created_at<?)",
        ),
        (
            SearchFilter {
                states: vec![DeliveryState::Failed],
                from: Some(1),
                ..Default::default()
            },
            "deliveries_by_state (app_id=? AND state=? AND created_at>? AND created_at<?)",
        ),
        (
            SearchFilter {
                channel: Some(ChannelKind::Email),
                from: Some(1),
                to: Some(9),
                ..Default::default()
            },
            "deliveries_by_channel (app_id=? AND channel=? AND created_at>? AND created_at<?)",
        ),
        (
            SearchFilter {
                message_id: Some(MessageId::generate()),
                ..Default::default()
            },
            "deliveries_by_app_message (app_id=? AND message_id=? AND created_at<?)",
        ),
    ];
    for (filter, expected) in cases {
        let plan = plan(filter.clone(), Some(&cursor));
        assert_eq!(
            plan,
            format!("SEARCH d USING INDEX {expected}"),
            "{filter:?}"
        );
    }
}

#[test]
fn several_states_merge_bounded_walks() {
    let filter = SearchFilter {
        states: vec![
            DeliveryState::Failed,
            DeliveryState::Dead,
            DeliveryState::Failed,
        ],
        ..Default::default()
    };
    let plan = plan(filter, None);
    assert!(plan.starts_with("MERGE (UNION ALL)"), "{plan}");
    assert_eq!(
        plan.matches("SEARCH d USING INDEX deliveries_by_state (app_id=? AND state=?)")
            .count(),
        2,
        "one walk per distinct state: {plan}"
    );
    assert!(!plan.contains("SCAN d"), "{plan}");
}

#[test]
fn text_search_is_driven_by_the_fts_index() {
    let filter = SearchFilter {
        text: Some("短信".into()),
        from: Some(1),
        ..Default::default()
    };
    let plan = plan(filter, None);
    let lines: Vec<&str> = plan.lines().collect();
    assert!(
        lines[0].starts_with("SCAN delivery_text VIRTUAL TABLE"),
        "{plan}"
    );
    assert_eq!(lines[1], "SEARCH d USING INTEGER PRIMARY KEY (rowid=?)");
}

#[test]
fn receiver_search_is_driven_by_the_receiver_index() {
    let filter = SearchFilter {
        receiver: Some("13800138000".into()),
        channel: Some(ChannelKind::AliyunSms),
        states: vec![DeliveryState::Failed, DeliveryState::Dead],
        ..Default::default()
    };
    let plan = plan(filter, Some(&cursor::encode(5 << SEQ_SHIFT)));
    let lines: Vec<&str> = plan.lines().collect();
    assert!(
        lines[0].starts_with("SCAN delivery_receivers VIRTUAL TABLE"),
        "{plan}"
    );
    assert_eq!(lines[1], "SEARCH d USING INTEGER PRIMARY KEY (rowid=?)");
    assert_eq!(lines.len(), 2, "no sort, no second walk: {plan}");
}
