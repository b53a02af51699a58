//! Intake, outbox and settle checks: an accept commits records, outbox rows and the
//! idempotency entry together; a taken key writes nothing, also when two nodes race; the
//! relay's claims are leases; settling records results and queues follow-ups together.

use super::fixtures::{accept_batch, event, task};
use async_trait::async_trait;
use herald_domain::time::now_ms;
use herald_domain::{AppId, DeadLetterId, DeliveryId, DeliveryState, TaskEnvelope};
use herald_ports::{
    AcceptCommit, DeadLetter, Intake, Leased, Queue, QueueCommit, QueueStats, Receipt, Records,
    Settle, StoreError, Topic,
};
use herald_store_sql::{Outbox, SqlDb, SqlIntake, SqlOptions, SqlRecords, SqlSettle};
use std::sync::{Arc, Mutex};
use std::time::Duration;

const LEASE: Duration = Duration::from_secs(60);

/// Drains every outbox row (claim + delete) and returns them.
async fn drain(outbox: &Outbox) -> Vec<herald_store_sql::OutboxRow> {
    let rows = outbox.claim_outbox(10_000).await.unwrap();
    let ids: Vec<i64> = rows.iter().map(|r| r.id).collect();
    assert_eq!(outbox.delete_outbox(&ids).await.unwrap(), ids.len() as u64);
    rows
}

/// Records are readable at once and the tasks wait in the outbox, in order, with their
/// dedup keys; a claim is a lease, released by delete or by expiry.
pub async fn accept_writes_records_and_outbox_rows(db: &SqlDb) {
    let intake = SqlIntake::new(db.clone());
    let records = SqlRecords::new(db.clone());
    let outbox = Outbox::new(db.clone(), LEASE);
    drain(&outbox).await;
    let app = AppId::generate();
    let mut batch = accept_batch(&app, 3, None);
    let message = batch.messages[0].clone();
    let tasks = batch.send_tasks();
    // Listing no tasks (what accept does when nothing is redacted): the intake derives the
    // same ones from the messages.
    batch.tasks = None;
    assert_eq!(batch.send_tasks(), tasks);
    assert_eq!(intake.accept(batch).await.unwrap(), AcceptCommit::Committed);

    let view = records.get_message(&app, &message.id).await.unwrap();
    let view = view.expect("the record is readable as soon as accept returns");
    assert!(
        view.deliveries
            .iter()
            .all(|d| d.state == DeliveryState::Accepted)
    );

    assert_eq!(outbox.outbox_depth().await.unwrap(), 3);
    let claimed = outbox.claim_outbox(2).await.unwrap();
    let rest = outbox.claim_outbox(10).await.unwrap();
    assert_eq!(claimed.len() + rest.len(), 3, "claims never overlap");
    assert!(
        outbox.claim_outbox(10).await.unwrap().is_empty(),
        "all leased"
    );
    let all: Vec<_> = claimed.iter().chain(&rest).collect();
    let got: Vec<TaskEnvelope> = all.iter().map(|r| r.task.clone()).collect();
    assert_eq!(got, tasks, "the accepted tasks, in order");
    assert!(all.iter().all(|r| r.topic == Topic::Send));
    assert_eq!(all[0].dedup_key, tasks[0].dedup_key());

    let ids: Vec<i64> = claimed.iter().map(|r| r.id).collect();
    assert_eq!(outbox.delete_outbox(&ids).await.unwrap(), 2);
    assert_eq!(outbox.outbox_depth().await.unwrap(), 1);

    // A relay that died keeps its rows only for its lease.
    let expired = Outbox::new(db.clone(), Duration::ZERO);
    assert!(
        expired.claim_outbox(10).await.unwrap().is_empty(),
        "still leased"
    );
    let ids: Vec<i64> = rest.iter().map(|r| r.id).collect();
    expired.delete_outbox(&ids).await.unwrap();
    let m2 = accept_batch(&app, 1, None);
    intake.accept(m2).await.unwrap();
    let first = expired.claim_outbox(10).await.unwrap();
    tokio::time::sleep(Duration::from_millis(5)).await;
    let again = expired.claim_outbox(10).await.unwrap();
    assert_eq!(first.len(), 1);
    assert_eq!(again, first, "an expired claim is claimed again");
    drain(&outbox).await;
}

/// The second request with a key gets the first one's entry and writes nothing; keys are
/// per app; lookups honour the max age; purge removes old entries only.
pub async fn repeated_keys_write_nothing(db: &SqlDb) {
    let intake = SqlIntake::new(db.clone());
    let records = SqlRecords::new(db.clone());
    let outbox = Outbox::new(db.clone(), LEASE);
    drain(&outbox).await;
    let app = AppId::generate();
    let first = accept_batch(&app, 2, Some("order-42"));
    let stored = first.idempotency.clone().unwrap();
    assert_eq!(intake.accept(first).await.unwrap(), AcceptCommit::Committed);

    let second = accept_batch(&app, 5, Some("order-42"));
    let second_message = second.messages[0].id.clone();
    match intake.accept(second).await.unwrap() {
        AcceptCommit::Existing(entry) => assert_eq!(entry, stored),
        other => panic!("expected the stored entry, got {other:?}"),
    }
    assert!(
        records
            .get_message(&app, &second_message)
            .await
            .unwrap()
            .is_none()
    );
    assert_eq!(
        outbox.outbox_depth().await.unwrap(),
        2,
        "no tasks of the loser"
    );

    let elsewhere = accept_batch(&AppId::generate(), 1, Some("order-42"));
    assert_eq!(
        intake.accept(elsewhere).await.unwrap(),
        AcceptCommit::Committed
    );
    let found = intake.idempotency_lookup(&app, "order-42", 60_000).await;
    assert_eq!(found.unwrap(), Some(stored));

    let mut old = accept_batch(&app, 1, Some("old"));
    if let Some(entry) = &mut old.idempotency {
        entry.created_at = now_ms() - 3_600_000;
    }
    intake.accept(old).await.unwrap();
    assert_eq!(
        intake
            .idempotency_lookup(&app, "old", 60_000)
            .await
            .unwrap(),
        None
    );
    assert!(
        intake
            .idempotency_lookup(&app, "old", 7_200_000)
            .await
            .unwrap()
            .is_some()
    );
    assert!(intake.purge_idempotency(now_ms() - 60_000).await.unwrap() >= 1);
    assert_eq!(
        intake
            .idempotency_lookup(&app, "old", i64::MAX)
            .await
            .unwrap(),
        None
    );
    assert!(
        intake
            .idempotency_lookup(&app, "order-42", 60_000)
            .await
            .unwrap()
            .is_some()
    );
    drain(&outbox).await;
}

/// Two nodes accept the same key at once: exactly one commits, the other gets its entry.
pub async fn racing_nodes_share_one_key(url: &str) {
    let node = |_: u8| async {
        SqlIntake::new(SqlDb::connect(url, &SqlOptions::default()).await.unwrap())
    };
    let (a, b) = (node(1).await, node(2).await);
    let db = SqlDb::connect(url, &SqlOptions::default()).await.unwrap();
    let outbox = Outbox::new(db.clone(), LEASE);
    drain(&outbox).await;
    let app = AppId::generate();
    for round in 0..5 {
        let key = format!("race-{round}");
        let (first, second) = (
            accept_batch(&app, 2, Some(&key)),
            accept_batch(&app, 3, Some(&key)),
        );
        let (ra, rb) = tokio::join!(a.accept(first), b.accept(second));
        let outcomes = [ra.unwrap(), rb.unwrap()];
        let committed = outcomes
            .iter()
            .filter(|o| **o == AcceptCommit::Committed)
            .count();
        assert_eq!(committed, 1, "exactly one node commits {key}: {outcomes:?}");
    }
    let rows = drain(&outbox).await;
    let per_message = rows
        .iter()
        .fold(std::collections::HashMap::new(), |mut m, r| {
            if let TaskEnvelope::DeliveryV1(t) = &r.task {
                *m.entry(t.message_id.clone()).or_insert(0) += 1;
            }
            m
        });
    assert_eq!(per_message.len(), 5, "one message per key: {per_message:?}");
    assert!(
        per_message.values().all(|n| *n == 2 || *n == 3),
        "each winner's tasks, whole: {per_message:?}"
    );
}

/// Sixteen concurrent accepts on two "nodes" while two relays claim and delete: every accept
/// commits on its first try (no deadlock between outbox inserts and claims) and every task
/// is relayed exactly once.
pub async fn accepts_and_relay_claims_never_deadlock(url: &str) {
    let pool = || async { SqlDb::connect(url, &SqlOptions::default()).await.unwrap() };
    let intakes = [SqlIntake::new(pool().await), SqlIntake::new(pool().await)];
    let relays = [
        Outbox::new(pool().await, LEASE),
        Outbox::new(pool().await, LEASE),
    ];
    drain(&relays[0]).await;
    let app = AppId::generate();
    let done = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let relayed = Arc::new(Mutex::new(Vec::new()));
    let relay_tasks: Vec<_> = relays
        .iter()
        .map(|outbox| {
            let (outbox, done, relayed) = (outbox.clone(), done.clone(), relayed.clone());
            tokio::spawn(async move {
                loop {
                    let finished = done.load(std::sync::atomic::Ordering::SeqCst);
                    let rows = outbox.claim_outbox(64).await.expect("claim");
                    let ids: Vec<i64> = rows.iter().map(|r| r.id).collect();
                    outbox.delete_outbox(&ids).await.expect("delete");
                    relayed
                        .lock()
                        .unwrap()
                        .extend(rows.into_iter().map(|r| r.dedup_key));
                    if finished && ids.is_empty() {
                        return;
                    }
                }
            })
        })
        .collect();
    let accepters: Vec<_> = (0..16)
        .map(|n| {
            let (intake, app) = (intakes[n % 2].clone(), app.clone());
            tokio::spawn(async move {
                for i in 0..25 {
                    let key = format!("k-{n}-{i}");
                    let batch = accept_batch(&app, 2, Some(&key));
                    assert_eq!(intake.accept(batch).await.unwrap(), AcceptCommit::Committed);
                }
            })
        })
        .collect();
    for task in accepters {
        task.await.unwrap();
    }
    done.store(true, std::sync::atomic::Ordering::SeqCst);
    for task in relay_tasks {
        task.await.unwrap();
    }
    let retries: u64 = intakes.iter().map(SqlIntake::lock_retries).sum();
    assert_eq!(retries, 0, "accepts lost lock races");
    // Two relays' claims and deletes may still pick each other as deadlock victims; those run
    // again inside the outbox (counted here for the log), never failing the relay.
    let relay_retries: u64 = relays.iter().map(Outbox::lock_retries).sum();
    eprintln!("relay claims/deletes run again after a lock race: {relay_retries}");
    let relayed = relayed.lock().unwrap();
    let unique: std::collections::HashSet<_> = relayed.iter().collect();
    assert_eq!(relayed.len(), 16 * 25 * 2, "every task relayed");
    assert_eq!(unique.len(), relayed.len(), "no task relayed twice");
}

/// A queue that records what settle hands it.
#[derive(Default)]
struct RecordingQueue {
    commits: Mutex<Vec<QueueCommit>>,
}

#[async_trait]
impl Queue for RecordingQueue {
    async fn publish(&self, _: Topic, _: Vec<TaskEnvelope>) -> Result<(), StoreError> {
        Ok(())
    }
    async fn receive(&self, _: Topic, _: usize, _: Duration) -> Result<Vec<Leased>, StoreError> {
        Ok(Vec::new())
    }
    async fn commit(&self, commit: QueueCommit) -> Result<(), StoreError> {
        self.commits.lock().unwrap().push(commit);
        Ok(())
    }
    async fn cancel(&self, _: &AppId, _: &[DeliveryId]) -> Result<u64, StoreError> {
        Ok(0)
    }
    async fn list_dead(
        &self,
        _: &AppId,
        _: Option<&DeadLetterId>,
        _: usize,
    ) -> Result<Vec<DeadLetter>, StoreError> {
        Ok(Vec::new())
    }
    async fn replay_dead(
        &self,
        _: &AppId,
        _: &[DeadLetterId],
    ) -> Result<Vec<TaskEnvelope>, StoreError> {
        Ok(Vec::new())
    }
    async fn stats(&self) -> Result<QueueStats, StoreError> {
        Ok(QueueStats::default())
    }
}

/// Settling records the events and queues the retry in the outbox, then acks on the broker.
pub async fn settle_records_and_queues_together(db: &SqlDb) {
    let queue = Arc::new(RecordingQueue::default());
    let settle = SqlSettle::new(db.clone(), queue.clone());
    let records = SqlRecords::new(db.clone());
    let outbox = Outbox::new(db.clone(), LEASE);
    drain(&outbox).await;
    let app = AppId::generate();
    let batch = accept_batch(&app, 1, None);
    let m = batch.messages[0].clone();
    records.record_accepted(&batch.messages).await.unwrap();

    let receipt = Receipt {
        topic: Topic::Send,
        token: 7,
        handle: None,
    };
    let mut retry = task(&m, 0);
    if let TaskEnvelope::DeliveryV1(t) = &mut retry {
        t.attempt = 2;
    }
    let commit = QueueCommit {
        ack: vec![receipt.clone()],
        publish: vec![(Topic::Retry, retry.clone())],
        dead: Vec::new(),
    };
    let changed = settle
        .settle(vec![event(&m, 0, 1, DeliveryState::Retrying)], commit)
        .await
        .unwrap();
    assert_eq!(changed, 1);
    let states = records.delivery_states(&[m.deliveries[0].id.clone()]).await;
    assert_eq!(
        states.unwrap()[&m.deliveries[0].id].state,
        DeliveryState::Retrying
    );
    let rows = drain(&outbox).await;
    assert_eq!(rows.len(), 1);
    assert_eq!((rows[0].topic, &rows[0].task), (Topic::Retry, &retry));
    let commits = queue.commits.lock().unwrap();
    assert_eq!(commits.len(), 1);
    assert_eq!(commits[0].ack, vec![receipt]);
    assert!(
        commits[0].publish.is_empty(),
        "follow-ups go through the outbox"
    );
}
