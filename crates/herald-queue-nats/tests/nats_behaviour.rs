//! What the conformance suite does not cover and the NATS design promises: delayed tasks
//! never hold worker leases, dedup by `Nats-Msg-Id`, a surviving node takes over the timer of
//! one that stopped, and two nodes share one queue without handing a task out twice.

mod support;

/// Named `nats::…` so CI counts these tests per engine.
mod nats {
    use super::support::{clean_up, fresh_prefix, nats_url, open, test_options, with_fresh_queue};
    use herald_domain::time::now_ms;
    use herald_domain::{AppId, Priority, TaskEnvelope};
    use herald_ports::conformance::queue::{delivery_task, result_task};
    use herald_ports::{Leased, Queue, QueueCommit, Topic};
    use herald_queue_nats::{NatsQueueOptions, delete_streams};
    use std::sync::Arc;
    use std::time::{Duration, Instant};

    async fn ack(q: &dyn Queue, leased: &[Leased]) {
        q.commit(QueueCommit {
            ack: leased.iter().map(|l| l.receipt.clone()).collect(),
            ..Default::default()
        })
        .await
        .expect("ack");
    }

    /// Pending entries of the timer consumer of `prefix`'s waiting stream for `topic`.
    async fn timer_holds(url: &str, prefix: &str, topic: &str) -> usize {
        let js = async_nats::jetstream::new(async_nats::connect(url).await.expect("connect"));
        let stream = js
            .get_stream(format!("{}_{topic}_WAIT", prefix.to_ascii_uppercase()))
            .await
            .expect("waiting stream");
        stream
            .consumer_info("timer")
            .await
            .expect("timer consumer")
            .num_ack_pending
    }

    /// A backlog of scheduled sends and retries larger than the workers' lease budget waits in
    /// the timer's consumer, and due tasks are still handed out at once.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn delayed_backlog_does_not_stall_due_tasks() {
        let Some(url) = nats_url() else { return };
        let prefix = fresh_prefix();
        let q = open(
            &url,
            NatsQueueOptions {
                max_leased: 20,
                // Long lease: at the lease budget a pull waits out its expiry, and a lease
                // ending meanwhile would hand tasks out again.
                lease: Duration::from_secs(30),
                ..test_options(&prefix)
            },
        )
        .await;
        let outcome = tokio::spawn({
            let (url, prefix) = (url.clone(), prefix.clone());
            async move {
                let app = AppId::generate();
                let later = now_ms() + 3_600_000;
                let backlog = |n| -> Vec<TaskEnvelope> {
                    (0..n)
                        .map(|_| delivery_task(&app, Priority::Normal, later))
                        .collect()
                };
                q.publish(Topic::Send, backlog(100)).await.unwrap();
                q.publish(Topic::Retry, backlog(100)).await.unwrap();
                let soon = delivery_task(&app, Priority::Normal, now_ms() + 400);
                q.publish(Topic::Retry, vec![soon.clone()]).await.unwrap();
                let deadline = Instant::now() + Duration::from_secs(5);
                while timer_holds(&url, &prefix, "SEND").await < 100
                    || timer_holds(&url, &prefix, "RETRY").await < 100
                {
                    assert!(Instant::now() < deadline, "timers did not take the backlog");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }

                let due: Vec<TaskEnvelope> = (0..30)
                    .map(|_| delivery_task(&app, Priority::Normal, now_ms() - 1))
                    .collect();
                q.publish(Topic::Send, due.clone()).await.unwrap();
                let got = q
                    .receive(Topic::Send, 30, Duration::from_secs(1))
                    .await
                    .unwrap();
                assert_eq!(
                    got.len(),
                    20,
                    "the workers' lease budget, all of it for due tasks"
                );
                assert!(got.iter().all(|l| due.contains(&l.task)));
                let stats = q.stats().await.unwrap();
                assert_eq!(
                    (stats.send, stats.retry, stats.leased),
                    (130, 101, 20),
                    "{stats:?}"
                );

                let retried = q
                    .receive(Topic::Retry, 10, Duration::from_secs(3))
                    .await
                    .unwrap();
                assert_eq!(retried.len(), 1);
                assert_eq!(retried[0].task, soon, "only the due retry comes out");
                ack(&q, &got).await;
                ack(&q, &retried).await;
            }
        })
        .await;
        clean_up(&url, &[prefix], outcome).await;
    }

    /// A publish repeated within the dedup window (a retried publish, a commit re-run after a
    /// crash) stores the task once; so does dead-lettering the same task twice.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn repeated_publishes_are_stored_once() {
        let Some(url) = nats_url() else { return };
        with_fresh_queue(&url, |q| async move {
            let app = AppId::generate();
            let task = delivery_task(&app, Priority::Normal, now_ms() - 1);
            let event = result_task(&app);
            for _ in 0..2 {
                q.publish(Topic::Send, vec![task.clone()]).await.unwrap();
                q.publish(Topic::Result, vec![event.clone()]).await.unwrap();
            }
            let stats = q.stats().await.unwrap();
            assert_eq!((stats.send, stats.result), (1, 1), "{stats:?}");

            let first = q
                .receive(Topic::Send, 10, Duration::from_secs(1))
                .await
                .unwrap();
            assert_eq!(first.len(), 1);
            let dead = |receipt| QueueCommit {
                dead: vec![(receipt, task.clone(), "gone".to_owned())],
                ..Default::default()
            };
            q.commit(dead(first[0].receipt.clone())).await.unwrap();
            // The same commit again, as after a crash before the ack was confirmed.
            q.commit(dead(first[0].receipt.clone())).await.unwrap();
            assert_eq!(q.list_dead(&app, None, 10).await.unwrap().len(), 1);
            assert_eq!(q.stats().await.unwrap().dead, 1);
        })
        .await;
    }

    /// Waiting tasks of a node that stopped are moved by another node's timer.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn another_node_moves_waiting_tasks_of_a_stopped_one() {
        let Some(url) = nats_url() else { return };
        let prefix = fresh_prefix();
        let outcome = tokio::spawn({
            let (url, prefix) = (url.clone(), prefix.clone());
            async move {
                let survivor = open(&url, test_options(&prefix)).await;
                let stopping = open(&url, test_options(&prefix)).await;
                let app = AppId::generate();
                let due_at = now_ms() + 500;
                let tasks: Vec<TaskEnvelope> = (0..20)
                    .map(|_| delivery_task(&app, Priority::Normal, due_at))
                    .collect();
                stopping.publish(Topic::Send, tasks.clone()).await.unwrap();
                tokio::time::sleep(Duration::from_millis(100)).await;
                drop(stopping);
                let mut got = Vec::new();
                let deadline = Instant::now() + Duration::from_secs(6);
                while got.len() < tasks.len() && Instant::now() < deadline {
                    got.extend(
                        survivor
                            .receive(Topic::Send, 20, Duration::from_millis(500))
                            .await
                            .unwrap(),
                    );
                }
                assert_eq!(
                    got.len(),
                    tasks.len(),
                    "every waiting task reaches the survivor"
                );
                assert!(now_ms() >= due_at);
                ack(&survivor, &got).await;
            }
        })
        .await;
        clean_up(&url, &[prefix], outcome).await;
    }

    /// Two nodes on one queue: every task handed out once, depths back to zero.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn two_nodes_share_one_queue() {
        let Some(url) = nats_url() else { return };
        let prefix = fresh_prefix();
        let outcome = tokio::spawn({
            let (url, prefix) = (url.clone(), prefix.clone());
            async move {
                let long_lease = || NatsQueueOptions {
                    lease: Duration::from_secs(30),
                    ..test_options(&prefix)
                };
                let nodes = [
                    Arc::new(open(&url, long_lease()).await),
                    Arc::new(open(&url, long_lease()).await),
                ];
                let app = AppId::generate();
                for node in &nodes {
                    let batch = (0..200)
                        .map(|_| delivery_task(&app, Priority::Normal, 0))
                        .collect();
                    node.publish(Topic::Send, batch).await.unwrap();
                }
                let workers: Vec<_> = nodes
                    .iter()
                    .flat_map(|node| [node.clone(), node.clone()])
                    .map(|node| {
                        tokio::spawn(async move {
                            let mut mine = Vec::new();
                            loop {
                                let got = node
                                    .receive(Topic::Send, 32, Duration::from_millis(300))
                                    .await
                                    .unwrap();
                                if got.is_empty() {
                                    return mine;
                                }
                                mine.extend(got.iter().map(|l| l.task.delivery_id().clone()));
                                ack(&*node, &got).await;
                            }
                        })
                    })
                    .collect();
                let mut all = Vec::new();
                for worker in workers {
                    all.extend(worker.await.unwrap());
                }
                let total = all.len();
                all.sort();
                all.dedup();
                assert_eq!(total, 400, "every task handed out");
                assert_eq!(all.len(), total, "no task handed out twice");
                let stats = nodes[0].stats().await.unwrap();
                assert_eq!((stats.send, stats.leased), (0, 0), "{stats:?}");
            }
        })
        .await;
        clean_up(&url, &[prefix], outcome).await;
    }

    /// `delete_streams` removes the queue's six streams and is idempotent.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn delete_streams_removes_everything() {
        let Some(url) = nats_url() else { return };
        let prefix = fresh_prefix();
        let q = open(&url, test_options(&prefix)).await;
        let client = q.client().clone();
        drop(q);
        assert_eq!(delete_streams(&client, &prefix).await.unwrap(), 6);
        assert_eq!(delete_streams(&client, &prefix).await.unwrap(), 0);
    }

    /// Canceling a waiting task deletes it under the timer's feet: its neighbours still come out
    /// on time and the timer lets go of the deleted one.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn canceled_waiting_task_leaves_its_neighbours_alone() {
        let Some(url) = nats_url() else { return };
        let prefix = fresh_prefix();
        let q = open(&url, test_options(&prefix)).await;
        let outcome = tokio::spawn({
            let (url, prefix) = (url.clone(), prefix.clone());
            async move {
                let app = AppId::generate();
                let due_at = now_ms() + 400;
                let kept = delivery_task(&app, Priority::Normal, due_at);
                let canceled = delivery_task(&app, Priority::Normal, due_at);
                q.publish(Topic::Send, vec![canceled.clone(), kept.clone()])
                    .await
                    .unwrap();
                tokio::time::sleep(Duration::from_millis(100)).await;
                let n = q
                    .cancel(&app, &[canceled.delivery_id().clone()])
                    .await
                    .unwrap();
                assert_eq!(n, 1);
                let got = q
                    .receive(Topic::Send, 10, Duration::from_secs(3))
                    .await
                    .unwrap();
                assert_eq!(got.len(), 1);
                assert_eq!(got[0].task, kept);
                // Acked first: the lease is as long as the wait below, so an unacked `kept`
                // could come back inside it (a CI run failed that way).
                ack(&q, &got).await;
                let later = q
                    .receive(Topic::Send, 10, Duration::from_millis(500))
                    .await
                    .unwrap();
                assert!(later.is_empty(), "the canceled task came out: {later:?}");
                assert_eq!(timer_holds(&url, &prefix, "SEND").await, 0);
            }
        })
        .await;
        clean_up(&url, &[prefix], outcome).await;
    }
}
