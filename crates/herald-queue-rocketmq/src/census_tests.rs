//! The census fold without a broker: what each ledger entry does to depths, tombstones and
//! dead letters, and that a JSON round trip keeps entries intact.

use super::*;
use herald_domain::Priority;
use herald_ports::conformance::queue::{delivery_task, result_task};

const ME: &str = "node-a";

fn entry(at: Millis, change: Change) -> Entry {
    Entry {
        at,
        node: ME.to_owned(),
        change,
    }
}

fn task(app: &AppId) -> TaskEnvelope {
    delivery_task(app, Priority::Normal, 0)
}

fn held(topic: Topic, task: &TaskEnvelope) -> HeldTask {
    HeldTask {
        topic: TopicName(topic),
        task: task.clone(),
    }
}

fn lease(until: Millis, claims: Vec<Claim>, tasks: Vec<HeldTask>) -> Change {
    Change::Leased {
        until,
        claims,
        tasks,
        deferred: Vec::new(),
        dropped: Vec::new(),
    }
}

fn range(queue: i32, from: u64, to: u64) -> Claim {
    Claim {
        queue: QueueRef {
            topic: TopicName(Topic::Send),
            broker: "broker-a".into(),
            queue,
        },
        from,
        to,
    }
}

#[test]
fn publish_lease_and_commit_move_depths() {
    let app = AppId::generate();
    let (a, b) = (task(&app), task(&app));
    let mut census = Census::default();
    census.apply(
        0,
        entry(
            100,
            Change::Published {
                tasks: vec![TaskRef::of(Topic::Send, &a), TaskRef::of(Topic::Send, &b)],
            },
        ),
        ME,
    );
    assert_eq!(census.depths(100).send, 2);
    census.apply(
        1,
        entry(
            110,
            lease(610, vec![range(0, 0, 1)], vec![held(Topic::Send, &a)]),
        ),
        ME,
    );
    assert_eq!(census.depths(200).leased, 1, "leased until 610");
    assert_eq!(census.depths(700).leased, 0, "the lease ran out");

    let event = result_task(&app);
    census.apply(
        2,
        entry(
            300,
            Change::Committed {
                settled: vec![a.dedup_key(), a.dedup_key()],
                published: vec![TaskRef::of(Topic::Result, &event)],
                dead: Vec::new(),
            },
        ),
        ME,
    );
    let depths = census.depths(300);
    assert_eq!((depths.send, depths.result, depths.leased), (1, 1, 0));
    // A stale receipt acked again later changes nothing.
    census.apply(
        3,
        entry(
            400,
            Change::Committed {
                settled: vec![a.dedup_key()],
                published: Vec::new(),
                dead: Vec::new(),
            },
        ),
        ME,
    );
    assert_eq!(census.depths(400).send, 1);
}

#[test]
fn the_first_claim_of_a_range_wins() {
    let app = AppId::generate();
    let (a, b) = (task(&app), task(&app));
    let mut census = Census::default();
    census.apply(
        0,
        entry(
            0,
            lease(500, vec![range(0, 0, 2)], vec![held(Topic::Send, &a)]),
        ),
        ME,
    );
    assert_eq!(census.take_claim_outcome(0), Some(true));
    let rival = Entry {
        node: "node-b".to_owned(),
        ..entry(
            1,
            lease(500, vec![range(0, 1, 3)], vec![held(Topic::Send, &b)]),
        )
    };
    census.apply(1, rival, ME);
    assert_eq!(
        census.deliveries(&b.dedup_key()),
        0,
        "a refused claim hands nothing out"
    );
    census.apply(
        2,
        entry(2, lease(500, vec![range(0, 1, 3)], Vec::new())),
        ME,
    );
    assert_eq!(
        census.take_claim_outcome(2),
        Some(false),
        "overlaps a won range"
    );
    census.apply(
        3,
        entry(
            3,
            lease(500, vec![range(0, 2, 3), range(1, 0, 1)], Vec::new()),
        ),
        ME,
    );
    assert_eq!(
        census.take_claim_outcome(3),
        Some(true),
        "starts where the last one ended"
    );
    let queue = range(0, 0, 0).queue;
    assert_eq!(census.claimed(&queue), 3);
}

#[test]
fn expired_leases_are_requeued_and_counted_again() {
    let app = AppId::generate();
    let a = task(&app);
    let mut census = Census::default();
    census.apply(
        0,
        entry(
            0,
            lease(500, vec![range(0, 0, 1)], vec![held(Topic::Send, &a)]),
        ),
        ME,
    );
    assert_eq!(census.deliveries(&a.dedup_key()), 1);
    assert!(census.expired(Topic::Send, 499).is_empty(), "still leased");
    assert!(
        census.expired(Topic::Retry, 900).is_empty(),
        "other topics are not touched"
    );
    let expired = census.expired(Topic::Send, 500);
    assert_eq!(expired, vec![(a.dedup_key(), a.clone())]);
    census.apply(
        1,
        entry(
            600,
            Change::Requeued {
                keys: vec![a.dedup_key()],
            },
        ),
        ME,
    );
    assert!(census.expired(Topic::Send, 900).is_empty(), "queued again");
    assert_eq!(census.depths(900).send, 1);
    census.apply(
        2,
        entry(
            700,
            lease(1_200, vec![range(0, 1, 2)], vec![held(Topic::Send, &a)]),
        ),
        ME,
    );
    assert_eq!(
        census.deliveries(&a.dedup_key()),
        2,
        "the second hand-out is counted"
    );
}

#[test]
fn deferred_tasks_are_held_but_not_leased() {
    let app = AppId::generate();
    let later = task(&app);
    let mut census = Census::default();
    let change = Change::Leased {
        until: 500,
        claims: vec![range(0, 0, 1)],
        tasks: Vec::new(),
        deferred: vec![held(Topic::Send, &later)],
        dropped: Vec::new(),
    };
    census.apply(0, entry(0, change), ME);
    let depths = census.depths(100);
    assert_eq!((depths.send, depths.leased), (1, 0));
    assert_eq!(census.deliveries(&later.dedup_key()), 0);
    assert_eq!(
        census.expired(Topic::Send, 500).len(),
        1,
        "a dead node's deferral runs out too"
    );
}

#[test]
fn cancel_tombstones_queued_tasks_only() {
    let app = AppId::generate();
    let (queued, leased, retrying) = (task(&app), task(&app), task(&app));
    let mut census = Census::default();
    census.apply(
        0,
        entry(
            0,
            Change::Published {
                tasks: vec![
                    TaskRef::of(Topic::Send, &queued),
                    TaskRef::of(Topic::Send, &leased),
                    TaskRef::of(Topic::Retry, &retrying),
                ],
            },
        ),
        ME,
    );
    census.apply(
        1,
        entry(
            10,
            lease(
                1_000,
                vec![range(0, 0, 1)],
                vec![held(Topic::Send, &leased)],
            ),
        ),
        ME,
    );
    let foreign = Entry {
        node: "node-b".to_owned(),
        ..entry(
            20,
            Change::Canceled {
                app: AppId::generate(),
                deliveries: vec![queued.delivery_id().clone()],
            },
        )
    };
    census.apply(2, foreign, ME);
    assert_eq!(
        census.take_cancel_outcome(2),
        None,
        "not this node's cancel"
    );
    census.apply(
        3,
        entry(
            30,
            Change::Canceled {
                app: app.clone(),
                deliveries: [&queued, &leased, &retrying]
                    .iter()
                    .map(|t| t.delivery_id().clone())
                    .collect(),
            },
        ),
        ME,
    );
    assert_eq!(
        census.take_cancel_outcome(3),
        Some(2),
        "queued and retrying"
    );
    assert!(census.is_tombstoned(&queued.dedup_key()));
    assert!(census.is_tombstoned(&retrying.dedup_key()));
    assert!(!census.is_tombstoned(&leased.dedup_key()));
    let depths = census.depths(30);
    assert_eq!((depths.send, depths.retry), (1, 0));

    census.apply(
        4,
        entry(
            40,
            Change::Leased {
                until: 540,
                claims: vec![range(0, 1, 2)],
                tasks: Vec::new(),
                deferred: Vec::new(),
                dropped: vec![queued.dedup_key()],
            },
        ),
        ME,
    );
    assert!(
        !census.is_tombstoned(&queued.dedup_key()),
        "dropped for good"
    );
}

#[test]
fn dead_letters_list_by_app_with_a_cursor_and_replay() {
    let (app, other) = (AppId::generate(), AppId::generate());
    let mut census = Census::default();
    let mut ids = Vec::new();
    for (offset, owner) in [&app, &other, &app].into_iter().enumerate() {
        let dead = task(owner);
        let id = DeadLetterId::generate();
        ids.push(id.clone());
        census.apply(
            offset as u64,
            entry(
                offset as Millis,
                Change::Committed {
                    settled: Vec::new(),
                    published: Vec::new(),
                    dead: vec![DeadRecord {
                        id,
                        key: dead.dedup_key(),
                        reason: format!("boom {offset}"),
                        died_at: offset as Millis,
                        task: dead,
                    }],
                },
            ),
            ME,
        );
        std::thread::sleep(std::time::Duration::from_millis(2));
    }
    let listed = census.dead_of(&app, None, 10);
    assert_eq!(
        listed.iter().map(|d| d.id.clone()).collect::<Vec<_>>(),
        vec![ids[0].clone(), ids[2].clone()]
    );
    assert_eq!(listed[1].reason, "boom 2");
    assert_eq!(census.dead_of(&app, Some(&ids[0]), 10).len(), 1);
    assert!(census.dead_by_ids(&other, &[ids[0].clone()]).is_empty());
    census.apply(
        3,
        entry(
            3,
            Change::Replayed {
                app: app.clone(),
                ids: vec![ids[0].clone()],
                published: Vec::new(),
            },
        ),
        ME,
    );
    assert_eq!(census.dead_of(&app, None, 10).len(), 1);
    assert_eq!(census.depths(3).dead, 2);
}

#[test]
fn entries_round_trip_as_json() {
    let app = AppId::generate();
    let dead = task(&app);
    let original = entry(
        7,
        Change::Committed {
            settled: vec!["x:1".into()],
            published: vec![TaskRef::of(Topic::Retry, &task(&app))],
            dead: vec![DeadRecord {
                id: DeadLetterId::generate(),
                key: dead.dedup_key(),
                reason: "渠道返回 40001\nline two".into(),
                died_at: 7,
                task: dead,
            }],
        },
    );
    let json = serde_json::to_vec(&original).expect("encode");
    let back: Entry = serde_json::from_slice(&json).expect("decode");
    assert_eq!(
        serde_json::to_value(&back).expect("value"),
        serde_json::to_value(&original).expect("value")
    );
    assert!(
        serde_json::from_str::<TopicName>("\"later\"").is_err(),
        "unknown topics are refused"
    );
}
