//! Runs the queue conformance suite against `EmbeddedQueue`, plus the checks that only the
//! embedded design has: the scheduler horizon, bounded memory, and ordering under load.

use herald_domain::time::now_ms;
use herald_domain::{AppId, Priority, TaskEnvelope};
use herald_embedded::queue::{EmbeddedQueue, QueueOptions, SCHEMA};
use herald_embedded::{Db, DbOptions};
use herald_ports::conformance::queue as suite;
use herald_ports::{Queue, QueueCommit, Topic};
use std::path::Path;
use std::time::Duration;

fn open_queue(path: &Path, options: QueueOptions) -> EmbeddedQueue {
    let db = Db::open(
        path,
        &[SCHEMA],
        DbOptions {
            durable: false,
            ..DbOptions::default()
        },
    )
    .expect("open db");
    EmbeddedQueue::new(db, options)
}

fn suite_options() -> QueueOptions {
    QueueOptions {
        lease: suite::LEASE,
        ..QueueOptions::default()
    }
}

/// A fresh queue in its own temporary directory (kept alive by the returned guard).
fn fresh() -> (tempfile::TempDir, EmbeddedQueue) {
    let dir = tempfile::tempdir().expect("tempdir");
    let q = open_queue(&dir.path().join("q.db"), suite_options());
    (dir, q)
}

macro_rules! conformance {
    ($($check:ident),* $(,)?) => {$(
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn $check() {
            let (_dir, q) = fresh();
            suite::$check(&q).await;
        }
    )*};
}

conformance!(
    publish_receive_ack,
    redelivers_after_lease_expiry,
    not_before_is_respected,
    priority_then_fifo,
    commit_publishes_and_acks_together,
    dead_letters_list_and_replay,
    cancel_removes_queued_and_scheduled,
    receive_waits_and_wakes_on_publish,
    topics_are_separate,
);

/// The suite's all-in-one entry point, as other backends call it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_all_passes() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut n = 0;
    suite::run_all(
        || {
            n += 1;
            let path = dir.path().join(format!("q{n}.db"));
            async move { open_queue(&path, suite_options()) }
        },
        suite::Features::default(),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tasks_survive_reopen() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("q.db");
    suite::tasks_survive_reopen(|| {
        let path = path.clone();
        async move { open_queue(&path, suite_options()) }
    })
    .await;
}

/// Tasks beyond the horizon stay on disk until the scheduler pulls them in, then are handed
/// out on time; a cancel reaches them on disk.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scheduler_releases_far_tasks_on_time() {
    let dir = tempfile::tempdir().expect("tempdir");
    let q = open_queue(
        &dir.path().join("q.db"),
        QueueOptions {
            horizon: Duration::from_millis(150),
            refill_every: Duration::from_millis(50),
            ..suite_options()
        },
    );
    let app = AppId::generate();
    let due_at = now_ms() + 600;
    let later = suite::delivery_task(&app, Priority::Normal, due_at);
    let canceled = suite::delivery_task(&app, Priority::Normal, due_at);
    q.publish(Topic::Send, vec![later.clone(), canceled.clone()])
        .await
        .unwrap();
    let n = q
        .cancel(&app, &[canceled.delivery_id().clone()])
        .await
        .unwrap();
    assert_eq!(n, 1, "a task beyond the horizon is canceled on disk");
    let early = q
        .receive(Topic::Send, 10, Duration::from_millis(300))
        .await
        .unwrap();
    assert!(early.is_empty(), "nothing is due yet");
    let got = q
        .receive(Topic::Send, 10, Duration::from_secs(3))
        .await
        .unwrap();
    let at = now_ms();
    assert_eq!(got.len(), 1, "only the uncanceled task arrives");
    assert_eq!(got[0].task, later);
    assert!(
        at >= due_at && at < due_at + 1_000,
        "due {due_at}, got {at}"
    );
}

/// With memory capped, a backlog waits on disk and is still delivered completely, in order.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backlog_beyond_memory_is_delivered_in_order() {
    let dir = tempfile::tempdir().expect("tempdir");
    let q = open_queue(
        &dir.path().join("q.db"),
        QueueOptions {
            max_in_memory: 40,
            load_page: 16,
            refill_every: Duration::from_millis(50),
            // Long lease: this test is about order, not redelivery.
            ..QueueOptions::default()
        },
    );
    let app = AppId::generate();
    let base = now_ms() - 10_000;
    let tasks: Vec<TaskEnvelope> = (0..200)
        .map(|i| suite::delivery_task(&app, Priority::Normal, base + i))
        .collect();
    for chunk in tasks.chunks(25) {
        q.publish(Topic::Send, chunk.to_vec()).await.unwrap();
    }
    assert_eq!(q.stats().await.unwrap().send, 200);
    let mut seen = Vec::new();
    while seen.len() < tasks.len() {
        let got = q
            .receive(Topic::Send, 30, Duration::from_secs(2))
            .await
            .unwrap();
        assert!(!got.is_empty(), "stalled after {} tasks", seen.len());
        seen.extend(got.iter().map(|l| l.task.clone()));
        q.commit(QueueCommit {
            ack: got.iter().map(|l| l.receipt.clone()).collect(),
            ..Default::default()
        })
        .await
        .unwrap();
    }
    let positions: Vec<usize> = seen
        .iter()
        .map(|t| tasks.iter().position(|x| x == t).unwrap_or(usize::MAX))
        .collect();
    assert_eq!(
        positions,
        (0..tasks.len()).collect::<Vec<_>>(),
        "every task once, oldest due first"
    );
    assert_eq!(q.stats().await.unwrap().send, 0);
}

/// Receives and acks `n` tasks, each due already, failing on a stall.
async fn receive_due(q: &EmbeddedQueue, n: usize) {
    let mut got = 0;
    while got < n {
        let batch = q
            .receive(Topic::Send, n, Duration::from_secs(2))
            .await
            .unwrap();
        assert!(!batch.is_empty(), "due tasks stalled after {got} of {n}");
        assert!(
            batch.iter().all(|l| l.task.not_before() <= now_ms()),
            "only due tasks are handed out"
        );
        got += batch.len();
        q.commit(QueueCommit {
            ack: batch.iter().map(|l| l.receipt.clone()).collect(),
            ..Default::default()
        })
        .await
        .unwrap();
    }
}

/// Tasks not due yet take at most half of memory: a campaign scheduled a little ahead
/// cannot keep a task due now on disk until the campaign falls due — neither when it is
/// published first nor when the loader reads it back after a restart.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scheduled_tasks_cannot_crowd_out_due_ones() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("q.db");
    let options = QueueOptions {
        max_in_memory: 40,
        load_page: 16,
        // Only wake-ups may bring rows in: the periodic pass would hide a stall.
        refill_every: Duration::from_secs(120),
        ..QueueOptions::default()
    };
    let app = AppId::generate();
    let later = now_ms() + 30_000;
    let campaign: Vec<TaskEnvelope> = (0..100)
        .map(|i| suite::delivery_task(&app, Priority::Normal, later + i))
        .collect();
    let due = |n: usize| -> Vec<TaskEnvelope> {
        (0..n)
            .map(|_| suite::delivery_task(&app, Priority::Normal, 0))
            .collect()
    };
    {
        let q = open_queue(&path, options.clone());
        q.publish(Topic::Send, campaign.clone()).await.unwrap();
        // 20 of the campaign fit; 20 of these, then memory is full and the edge drops below
        // the campaign: the loader must bring the other 10 without loading more of it.
        q.publish(Topic::Send, due(30)).await.unwrap();
        receive_due(&q, 30).await;
        // Published after a load that stopped at the campaign: straight into memory.
        q.publish(Topic::Send, due(30)).await.unwrap();
        receive_due(&q, 30).await;
        q.publish(Topic::Send, due(30)).await.unwrap();
    }
    // Reopened: the loader reads the 30 due rows first, then at most 20 of the campaign.
    let q = open_queue(&path, options);
    receive_due(&q, 30).await;
    assert_eq!(q.stats().await.unwrap().send, 100, "the campaign waits");
}

/// Many producers and consumers at once: every task is handed out, none twice while its
/// lease holds, and the depth returns to zero.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_producers_and_consumers_lose_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    // Long lease: "handed out twice" must mean a bug, not a slow machine.
    let q = open_queue(&dir.path().join("q.db"), QueueOptions::default());
    let q = std::sync::Arc::new(q);
    let app = AppId::generate();
    let per_producer = 500;
    let producers: Vec<_> = (0..4)
        .map(|_| {
            let q = q.clone();
            let app = app.clone();
            tokio::spawn(async move {
                for _ in 0..per_producer / 50 {
                    let batch = (0..50)
                        .map(|_| suite::delivery_task(&app, Priority::Normal, 0))
                        .collect();
                    q.publish(Topic::Send, batch).await.unwrap();
                }
            })
        })
        .collect();
    let consumers: Vec<_> = (0..3)
        .map(|_| {
            let q = q.clone();
            tokio::spawn(async move {
                let mut mine = Vec::new();
                loop {
                    let got = q
                        .receive(Topic::Send, 64, Duration::from_millis(250))
                        .await
                        .unwrap();
                    if got.is_empty() {
                        return mine;
                    }
                    mine.extend(got.iter().map(|l| l.task.delivery_id().clone()));
                    q.commit(QueueCommit {
                        ack: got.iter().map(|l| l.receipt.clone()).collect(),
                        publish: vec![(Topic::Result, suite::result_task(&AppId::generate()))],
                        dead: Vec::new(),
                    })
                    .await
                    .unwrap();
                }
            })
        })
        .collect();
    for p in producers {
        p.await.unwrap();
    }
    let mut all = Vec::new();
    for c in consumers {
        all.extend(c.await.unwrap());
    }
    let total = all.len();
    all.sort();
    all.dedup();
    assert_eq!(total, 4 * per_producer, "every task handed out");
    assert_eq!(all.len(), total, "no task handed out twice");
    let stats = q.stats().await.unwrap();
    assert_eq!((stats.send, stats.leased), (0, 0), "{stats:?}");
    assert!(stats.result > 0);
}

/// A dead result event replays onto the result topic, not into the dispatcher's send topic.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dead_result_events_replay_onto_the_result_topic() {
    let (_dir, q) = fresh();
    let app = AppId::generate();
    let event = suite::result_task(&app);
    q.publish(Topic::Result, vec![event.clone()]).await.unwrap();
    let got = q
        .receive(Topic::Result, 1, Duration::from_secs(2))
        .await
        .unwrap();
    q.commit(QueueCommit {
        dead: vec![(got[0].receipt.clone(), event.clone(), "records down".into())],
        ..Default::default()
    })
    .await
    .unwrap();
    let dead = q.list_dead(&app, None, 10).await.unwrap();
    let replayed = q.replay_dead(&app, &[dead[0].id.clone()]).await.unwrap();
    assert_eq!(
        replayed,
        vec![event.clone()],
        "a result event replays unchanged"
    );
    let on_send = q.receive(Topic::Send, 10, Duration::ZERO).await.unwrap();
    assert!(on_send.is_empty());
    let back = q
        .receive(Topic::Result, 10, Duration::from_secs(1))
        .await
        .unwrap();
    assert_eq!(back.len(), 1);
    assert_eq!(back[0].task, event);
}
