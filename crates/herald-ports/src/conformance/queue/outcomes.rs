//! Checks of what happens after a hand-out: commits, dead letters, cancel, and what
//! survives a reopen.

use super::{
    LEASE, LEASE_SLACK, ack, attempt_of, delivery_of, delivery_task, ids, nothing_ready, past,
    receive_until, result_task,
};
use crate::queue::{Queue, QueueCommit, Topic};
use herald_domain::time::now_ms;
use herald_domain::{AppId, DeliveryId, Priority, TaskEnvelope};
use std::future::Future;
use std::time::Duration;

/// One commit acks a task and publishes its retry (delayed) and a result event together.
pub async fn commit_publishes_and_acks_together(q: &dyn Queue) {
    let app = AppId::generate();
    let task = delivery_task(&app, Priority::Normal, past());
    q.publish(Topic::Send, vec![task.clone()])
        .await
        .expect("publish failed");
    let leased = receive_until(q, Topic::Send, 1, Duration::from_secs(2)).await;
    assert_eq!(leased.len(), 1);

    let retry_at = now_ms() + 300;
    let mut retry = task.clone();
    if let TaskEnvelope::DeliveryV1(t) = &mut retry {
        t.attempt = 2;
        t.not_before = retry_at;
    }
    let event = result_task(&app);
    q.commit(QueueCommit {
        ack: vec![leased[0].receipt.clone()],
        publish: vec![
            (Topic::Retry, retry.clone()),
            (Topic::Result, event.clone()),
        ],
        dead: Vec::new(),
    })
    .await
    .expect("commit failed");

    let stats = q.stats().await.expect("stats failed");
    assert_eq!(
        (stats.send, stats.retry, stats.result),
        (0, 1, 1),
        "ack and publishes are visible together: {stats:?}"
    );
    let results = receive_until(q, Topic::Result, 1, Duration::from_secs(2)).await;
    assert_eq!(results.len(), 1);
    assert_eq!(results[0].task, event);
    nothing_ready(
        q,
        Topic::Retry,
        Duration::ZERO,
        "the retry waits for its delay",
    )
    .await;
    let retried = receive_until(q, Topic::Retry, 1, Duration::from_secs(3)).await;
    assert_eq!(retried.len(), 1, "the retry is handed out once due");
    assert!(now_ms() >= retry_at, "retry handed out early");
    assert_eq!(attempt_of(&retried[0].task), 2);
    tokio::time::sleep(LEASE + LEASE_SLACK).await;
    nothing_ready(
        q,
        Topic::Send,
        Duration::ZERO,
        "the acked original never returns",
    )
    .await;
    ack(q, &results).await;
    ack(q, &retried).await;
}

/// Dead letters keep their reason and task, list oldest first per app with a cursor, and
/// replay onto the send topic with the attempt counter continued and due at once.
pub async fn dead_letters_list_and_replay(q: &dyn Queue) {
    let app = AppId::generate();
    let other_app = AppId::generate();
    let first = delivery_task(&app, Priority::Normal, past());
    let second = delivery_task(&app, Priority::Normal, past());
    q.publish(Topic::Send, vec![first.clone(), second.clone()])
        .await
        .expect("publish failed");
    let leased = receive_until(q, Topic::Send, 2, Duration::from_secs(2)).await;
    assert_eq!(leased.len(), 2);
    for (task, reason) in [(&first, "boom 1"), (&second, "boom 2")] {
        let lease = leased
            .iter()
            .find(|l| &l.task == task)
            .expect("both tasks handed out");
        q.commit(QueueCommit {
            dead: vec![(lease.receipt.clone(), task.clone(), reason.to_owned())],
            ..Default::default()
        })
        .await
        .expect("dead-letter commit failed");
        // Dead-letter ids order by time at millisecond precision.
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let stats = q.stats().await.expect("stats failed");
    assert_eq!(
        (stats.send, stats.leased, stats.dead),
        (0, 0, 2),
        "{stats:?}"
    );
    nothing_ready(
        q,
        Topic::Send,
        Duration::ZERO,
        "dead tasks are not handed out",
    )
    .await;

    let dead = q.list_dead(&app, None, 10).await.expect("list_dead failed");
    assert_eq!(dead.len(), 2);
    assert_eq!((&dead[0].task, dead[0].reason.as_str()), (&first, "boom 1"));
    assert_eq!(
        (&dead[1].task, dead[1].reason.as_str()),
        (&second, "boom 2")
    );
    assert_eq!(&dead[0].delivery_id, delivery_of(&first));
    assert_eq!(dead[0].app_id, app);
    let page = q.list_dead(&app, None, 1).await.expect("list_dead failed");
    assert_eq!(page, dead[..1].to_vec(), "limit applies");
    let rest = q
        .list_dead(&app, Some(&dead[0].id), 10)
        .await
        .expect("list_dead failed");
    assert_eq!(rest, dead[1..].to_vec(), "the cursor skips what was seen");
    let foreign = q
        .list_dead(&other_app, None, 10)
        .await
        .expect("list_dead failed");
    assert!(foreign.is_empty(), "dead letters are scoped to their app");
    let refused = q
        .replay_dead(&other_app, &[dead[1].id.clone()])
        .await
        .expect("replay_dead failed");
    assert!(refused.is_empty(), "another app cannot replay them");

    let before = now_ms();
    let replayed = q
        .replay_dead(&app, &[dead[0].id.clone()])
        .await
        .expect("replay_dead failed");
    assert_eq!(replayed.len(), 1);
    let TaskEnvelope::DeliveryV1(revived) = &replayed[0] else {
        panic!("a delivery task replays as a delivery task");
    };
    assert_eq!(revived.attempt, 2, "the attempt counter continues");
    assert!(
        revived.not_before >= before && revived.not_before <= now_ms(),
        "due now"
    );
    assert_eq!(&revived.delivery_id, delivery_of(&first));

    let got = receive_until(q, Topic::Send, 1, Duration::from_secs(2)).await;
    assert_eq!(got.len(), 1, "the replayed task is on the send topic");
    assert_eq!(got[0].task, replayed[0]);
    let left = q.list_dead(&app, None, 10).await.expect("list_dead failed");
    assert_eq!(
        left,
        dead[1..].to_vec(),
        "a replayed dead letter leaves the store"
    );
    assert_eq!(q.stats().await.expect("stats failed").dead, 1);
    ack(q, &got).await;
}

/// `cancel` removes queued and scheduled delivery tasks (send and retry topics) of the given
/// deliveries, of that app only, and leaves leased tasks alone.
pub async fn cancel_removes_queued_and_scheduled(q: &dyn Queue) {
    let app = AppId::generate();
    let due: Vec<TaskEnvelope> = (0..3)
        .map(|_| delivery_task(&app, Priority::Normal, past()))
        .collect();
    let scheduled = delivery_task(&app, Priority::Normal, now_ms() + 3_600_000);
    let retrying = delivery_task(&app, Priority::Normal, past());
    q.publish(Topic::Send, due.clone())
        .await
        .expect("publish failed");
    q.publish(Topic::Send, vec![scheduled.clone()])
        .await
        .expect("publish failed");
    q.publish(Topic::Retry, vec![retrying.clone()])
        .await
        .expect("publish failed");

    let leased = receive_until(q, Topic::Send, 1, Duration::from_secs(2)).await;
    assert_eq!(leased.len(), 1);
    let leased_id = delivery_of(&leased[0].task).clone();
    let queued: Vec<DeliveryId> = due
        .iter()
        .map(|t| delivery_of(t).clone())
        .filter(|d| *d != leased_id)
        .collect();

    let foreign = q
        .cancel(&AppId::generate(), &[queued[0].clone()])
        .await
        .expect("cancel failed");
    assert_eq!(foreign, 0, "another app cannot cancel these tasks");

    let targets = vec![
        leased_id.clone(),
        queued[0].clone(),
        delivery_of(&scheduled).clone(),
        delivery_of(&retrying).clone(),
    ];
    let canceled = q.cancel(&app, &targets).await.expect("cancel failed");
    assert_eq!(
        canceled, 3,
        "queued, scheduled and retrying tasks are removed, leased kept"
    );

    let rest = q
        .receive(Topic::Send, 10, Duration::from_millis(50))
        .await
        .expect("receive failed");
    assert_eq!(
        ids(&rest),
        vec![queued[1].clone()],
        "only the untouched task remains"
    );
    nothing_ready(q, Topic::Retry, Duration::ZERO, "the retry was canceled").await;
    let stats = q.stats().await.expect("stats failed");
    assert_eq!(
        (stats.send, stats.retry),
        (2, 0),
        "the scheduled task is gone from storage, the leased one stays: {stats:?}"
    );
    ack(q, &leased).await;
    ack(q, &rest).await;
}

/// What was stored survives closing and reopening the storage: queued, scheduled and
/// leased-but-unacked tasks (ready again), results and dead letters; acked tasks do not
/// come back. `open` must open the same storage each time (and start empty the first time).
pub async fn tasks_survive_reopen<Q, F, Fut>(mut open: F)
where
    Q: Queue,
    F: FnMut() -> Fut,
    Fut: Future<Output = Q>,
{
    let app = AppId::generate();
    let due: Vec<TaskEnvelope> = (0..3)
        .map(|_| delivery_task(&app, Priority::Normal, past()))
        .collect();
    let scheduled = delivery_task(&app, Priority::Normal, now_ms() + 3_600_000);
    let doomed = delivery_task(&app, Priority::Normal, past());
    let event = result_task(&app);
    let (acked, unacked) = {
        let q = open().await;
        q.publish(Topic::Send, due.clone())
            .await
            .expect("publish failed");
        q.publish(Topic::Send, vec![scheduled.clone(), doomed.clone()])
            .await
            .expect("publish failed");
        q.publish(Topic::Result, vec![event.clone()])
            .await
            .expect("publish failed");
        let leased = receive_until(&q, Topic::Send, 4, Duration::from_secs(2)).await;
        assert_eq!(leased.len(), 4);
        let (dying, living): (Vec<_>, Vec<_>) = leased.into_iter().partition(|l| l.task == doomed);
        q.commit(QueueCommit {
            ack: vec![living[0].receipt.clone()],
            dead: vec![(dying[0].receipt.clone(), doomed.clone(), "gone".into())],
            ..Default::default()
        })
        .await
        .expect("commit failed");
        let unacked: Vec<DeliveryId> = living[1..]
            .iter()
            .map(|l| delivery_of(&l.task).clone())
            .collect();
        (delivery_of(&living[0].task).clone(), unacked)
    };

    let q = open().await;
    let mut back = ids(&receive_until(&q, Topic::Send, 2, Duration::from_secs(3)).await);
    back.sort();
    let mut expected = unacked.clone();
    expected.sort();
    assert_eq!(
        back, expected,
        "leased-but-unacked tasks are ready again after a reopen"
    );
    assert!(!back.contains(&acked), "an acked task stays acked");
    nothing_ready(
        &q,
        Topic::Send,
        Duration::from_millis(100),
        "the scheduled task is not due",
    )
    .await;
    let results = receive_until(&q, Topic::Result, 1, Duration::from_secs(2)).await;
    assert_eq!(results.len(), 1, "results survive");
    assert_eq!(results[0].task, event);
    let dead = q.list_dead(&app, None, 10).await.expect("list_dead failed");
    assert_eq!(dead.len(), 1, "dead letters survive");
    assert_eq!(dead[0].task, doomed);
    let stats = q.stats().await.expect("stats failed");
    assert_eq!(
        (stats.send, stats.result, stats.dead),
        (3, 1, 1),
        "depths are recounted after a reopen: {stats:?}"
    );
}
