//! Kafka-specific promises, against a real broker (`HERALD_TEST_KAFKA_URL`):
//! - a slow (rate-limited) account does not block the other accounts of its partition;
//! - the committed offset never passes the lowest task whose outcome is not recorded, and
//!   acks above it are remembered (acks topic) so the next owner does not hand them out;
//! - when a node dies (killed, no goodbye), the group gives its partitions to another node,
//!   which hands out exactly the tasks the dead node had not acked.

mod support;

mod kafka {
    use super::support::{clean_up, fresh_prefix, kafka_url, open, test_options};
    use herald_domain::time::now_ms;
    use herald_domain::{AccountId, AppId, DeliveryId, Priority, TaskEnvelope};
    use herald_ports::conformance::queue::delivery_task;
    use herald_ports::{Leased, Queue, QueueCommit, Topic};
    use herald_queue_kafka::{KafkaQueue, KafkaQueueOptions};
    use rdkafka::consumer::{BaseConsumer, Consumer};
    use rdkafka::{ClientConfig, Offset, TopicPartitionList};
    use std::collections::BTreeSet;
    use std::future::Future;
    use std::time::{Duration, Instant};

    /// Names the env var a crash child reads its prefix from.
    const CRASH_PREFIX_VAR: &str = "HERALD_TEST_KAFKA_CRASH_PREFIX";
    /// Names the env var with the file a crash child reports its acks in.
    const CRASH_REPORT_VAR: &str = "HERALD_TEST_KAFKA_CRASH_REPORT";

    fn task_of(app: &AppId, account: &AccountId) -> TaskEnvelope {
        let mut task = delivery_task(app, Priority::Normal, now_ms() - 1_000);
        if let TaskEnvelope::DeliveryV1(t) = &mut task {
            t.account_id = account.clone();
        }
        task
    }

    /// The suite's options with a lease no test outlives, so nothing is handed out twice.
    fn long_lease(prefix: &str) -> KafkaQueueOptions {
        KafkaQueueOptions {
            lease: Duration::from_secs(60),
            ..test_options(prefix)
        }
    }

    fn one_partition(prefix: &str) -> KafkaQueueOptions {
        KafkaQueueOptions {
            partitions: 1,
            lease: Duration::from_secs(60),
            ..test_options(prefix)
        }
    }

    async fn receive_n(q: &KafkaQueue, topic: Topic, n: usize) -> Vec<Leased> {
        let deadline = Instant::now() + Duration::from_secs(10);
        let mut got = Vec::new();
        while got.len() < n && Instant::now() < deadline {
            got.extend(
                q.receive(topic, n - got.len(), Duration::from_secs(1))
                    .await
                    .unwrap(),
            );
        }
        assert_eq!(got.len(), n, "expected {n} tasks");
        got
    }

    fn find<'a>(leased: &'a [Leased], task: &TaskEnvelope) -> &'a Leased {
        leased
            .iter()
            .find(|l| &l.task == task)
            .expect("task handed out")
    }

    async fn ack(q: &KafkaQueue, leased: &[&Leased]) {
        q.commit(QueueCommit {
            ack: leased.iter().map(|l| l.receipt.clone()).collect(),
            ..Default::default()
        })
        .await
        .unwrap();
    }

    /// The group's committed offset of `{prefix}.send` partition 0 as the broker has it (-1:
    /// none), polled until it equals `want` (`i64::MIN`: read once).
    async fn committed_until(url: &str, prefix: &str, want: i64) -> i64 {
        let consumer: BaseConsumer = ClientConfig::new()
            .set("bootstrap.servers", url)
            .set("group.id", format!("{prefix}.workers"))
            .create()
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            let mut tpl = TopicPartitionList::new();
            tpl.add_partition(&format!("{prefix}.send"), 0);
            let seen = {
                let committed = consumer
                    .committed_offsets(tpl, Duration::from_secs(5))
                    .unwrap();
                let elem = committed.elements().into_iter().next().unwrap();
                match elem.offset() {
                    Offset::Offset(o) => o,
                    _ => -1,
                }
            };
            if seen == want || want == i64::MIN || Instant::now() >= deadline {
                return seen;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Runs `test` on a queue under a fresh prefix and deletes its topics afterwards.
    async fn with_prefix<F, Fut>(test: F)
    where
        F: FnOnce(String, String) -> Fut,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let Some(url) = kafka_url() else { return };
        let prefix = fresh_prefix();
        let outcome = tokio::spawn(test(url.clone(), prefix.clone())).await;
        clean_up(&url, &[prefix], outcome).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn slow_account_does_not_block_its_partition() {
        with_prefix(|url, prefix| async move {
            let q = open(&url, one_partition(&prefix)).await;
            let app = AppId::generate();
            let (slow, busy) = (AccountId::generate(), AccountId::generate());
            let (slow1, slow2) = (task_of(&app, &slow), task_of(&app, &slow));
            let (busy1, busy2) = (task_of(&app, &busy), task_of(&app, &busy));
            let first = vec![slow1.clone(), slow2.clone(), busy1.clone(), busy2.clone()];
            q.publish(Topic::Send, first).await.unwrap();
            let got = receive_n(&q, Topic::Send, 4).await;

            // The slow account waits for a permit: slow1 stays leased, slow2 is deferred by
            // the dispatcher (ack + retry in one commit); the busy account is sent.
            let mut deferred = slow2.clone();
            if let TaskEnvelope::DeliveryV1(t) = &mut deferred {
                t.attempt = 2;
                t.not_before = now_ms() + 60_000;
            }
            q.commit(QueueCommit {
                ack: [&slow2, &busy1, &busy2]
                    .iter()
                    .map(|t| find(&got, t).receipt.clone())
                    .collect(),
                publish: vec![(Topic::Retry, deferred)],
                dead: Vec::new(),
            })
            .await
            .unwrap();

            let busy3 = task_of(&app, &busy);
            q.publish(Topic::Send, vec![busy3.clone()]).await.unwrap();
            let more = receive_n(&q, Topic::Send, 1).await;
            assert_eq!(
                more[0].task, busy3,
                "the busy account flows behind the held task"
            );
            ack(&q, &[&more[0]]).await;

            let stats = q.stats().await.unwrap();
            assert_eq!(
                (stats.send, stats.retry, stats.leased),
                (1, 1, 1),
                "{stats:?}"
            );
            // Give the consumer thread time to commit whatever it would.
            tokio::time::sleep(Duration::from_millis(300)).await;
            let offset = committed_until(&url, &prefix, i64::MIN).await;
            assert!(
                offset <= 0,
                "nothing committed past slow1 (offset 0): {offset}"
            );

            ack(&q, &[find(&got, &slow1)]).await;
            let offset = committed_until(&url, &prefix, 5).await;
            assert_eq!(offset, 5, "released once the held task is done");
        })
        .await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn offsets_are_committed_only_below_the_lowest_unacked() {
        with_prefix(|url, prefix| async move {
            let q = open(&url, one_partition(&prefix)).await;
            let app = AppId::generate();
            let account = AccountId::generate();
            let tasks: Vec<TaskEnvelope> = (0..5).map(|_| task_of(&app, &account)).collect();
            q.publish(Topic::Send, tasks.clone()).await.unwrap();
            let got = receive_n(&q, Topic::Send, 5).await;
            let at = |i: usize| find(&got, &tasks[i]);

            ack(&q, &[at(4), at(3), at(1)]).await;
            tokio::time::sleep(Duration::from_millis(300)).await;
            let offset = committed_until(&url, &prefix, i64::MIN).await;
            assert!(offset <= 0, "offset 0 is not acked: {offset}");
            ack(&q, &[at(0)]).await;
            assert_eq!(
                committed_until(&url, &prefix, 2).await,
                2,
                "up to the next unacked, 2"
            );
            assert_eq!(
                q.stats().await.unwrap().send,
                1,
                "3 and 4 are counted as done"
            );
            ack(&q, &[at(2)]).await;
            assert_eq!(
                committed_until(&url, &prefix, 5).await,
                5,
                "everything acked"
            );
            drop(q);

            // A task acked above the committed offset is not handed out by the next owner.
            let q = open(&url, one_partition(&prefix)).await;
            let early = task_of(&app, &account);
            let late = task_of(&app, &account);
            q.publish(Topic::Send, vec![early.clone(), late.clone()])
                .await
                .unwrap();
            let got = receive_n(&q, Topic::Send, 2).await;
            ack(&q, &[find(&got, &late)]).await;
            drop(q);
            let q = open(&url, one_partition(&prefix)).await;
            let again = receive_n(&q, Topic::Send, 1).await;
            assert_eq!(again[0].task, early, "only the unacked task returns");
            let more = q
                .receive(Topic::Send, 10, Duration::from_millis(500))
                .await
                .unwrap();
            assert!(more.is_empty(), "the acked one stays acked: {more:?}");
        })
        .await;
    }

    /// A delay longer than the first level hops the ladder's topics (1 s level twice, then
    /// the in-memory remainder) and is handed out once due, never before.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_long_delay_hops_the_ladder_and_is_never_early() {
        with_prefix(|url, prefix| async move {
            let q = open(&url, long_lease(&prefix)).await;
            let app = AppId::generate();
            let due_at = now_ms() + 2_300;
            let mut task = task_of(&app, &AccountId::generate());
            if let TaskEnvelope::DeliveryV1(t) = &mut task {
                t.not_before = due_at;
            }
            q.publish(Topic::Retry, vec![task.clone()]).await.unwrap();
            assert_eq!(
                q.stats().await.unwrap().retry,
                1,
                "waiting tasks count in the depth"
            );
            let early = q
                .receive(Topic::Retry, 1, Duration::from_millis(1_800))
                .await
                .unwrap();
            assert!(
                early.is_empty(),
                "handed out {} ms early",
                due_at - now_ms()
            );
            let got = receive_n(&q, Topic::Retry, 1).await;
            let at = now_ms();
            assert_eq!(got[0].task, task);
            assert!(at >= due_at, "handed out {} ms early", due_at - at);
            assert!(at < due_at + 1_000, "handed out {} ms late", at - due_at);
            println!(
                "Kafka: a 2.3 s delay was handed out {} ms after it was due",
                at - due_at
            );
            ack(&q, &[&got[0]]).await;
            let stats = q.stats().await.unwrap();
            assert_eq!((stats.retry, stats.leased), (0, 0), "{stats:?}");
        })
        .await;
    }

    /// A node leases every task, acks every other one and is then killed (SIGKILL: no
    /// commit on the way out, no leaving the group). Once the group notices (session
    /// timeout), another node gets the partitions and hands out exactly the unacked tasks:
    /// the acks made it to the broker (offset commits and the acks topic) before the kill.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_killed_node_s_unacked_tasks_are_redelivered_after_rebalance() {
        with_prefix(|url, prefix| async move {
            let app = AppId::generate();
            let tasks: Vec<TaskEnvelope> = (0..12)
                .map(|_| task_of(&app, &AccountId::generate()))
                .collect();
            {
                let setup = open(&url, test_options(&prefix)).await;
                setup.publish(Topic::Send, tasks.clone()).await.unwrap();
            }
            let report = std::env::temp_dir().join(format!("{prefix}.acked"));
            let mut child = tokio::process::Command::new(std::env::current_exe().unwrap())
                .args([
                    "kafka::crash_child",
                    "--exact",
                    "--ignored",
                    "--nocapture",
                    "--test-threads=1",
                ])
                .env(CRASH_PREFIX_VAR, &prefix)
                .env(CRASH_REPORT_VAR, &report)
                .stdout(std::process::Stdio::null())
                .kill_on_drop(true)
                .spawn()
                .expect("start the crash child");
            let acked = read_acked(&report).await;
            child.start_kill().unwrap();
            let _ = child.wait().await;
            assert_eq!(acked.len(), 6, "the child acked half");

            let started = Instant::now();
            let survivor = open(&url, long_lease(&prefix)).await;
            let got = receive_n(&survivor, Topic::Send, 6).await;
            println!(
                "Kafka: the survivor got the killed node's tasks after {:?}",
                started.elapsed()
            );
            let expected: BTreeSet<DeliveryId> = tasks
                .iter()
                .map(|t| t.delivery_id().clone())
                .filter(|d| !acked.contains(d))
                .collect();
            let redelivered: BTreeSet<DeliveryId> =
                got.iter().map(|l| l.task.delivery_id().clone()).collect();
            assert_eq!(redelivered, expected, "exactly the unacked tasks come back");
            let extra = survivor
                .receive(Topic::Send, 10, Duration::from_millis(500))
                .await
                .unwrap();
            assert!(extra.is_empty(), "acked tasks stay acked: {extra:?}");
        })
        .await;
    }

    /// Waits for the crash child's report of the deliveries it acked (a file it renames into
    /// place once complete).
    async fn read_acked(report: &std::path::Path) -> BTreeSet<DeliveryId> {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Ok(text) = std::fs::read_to_string(report) {
                let _ = std::fs::remove_file(report);
                return text.split(',').map(DeliveryId::from_trusted).collect();
            }
            assert!(
                Instant::now() < deadline,
                "the crash child reports within a minute"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// The node that gets killed, run as a child process by the test above (ignored unless
    /// that test starts it with its prefix).
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    #[ignore = "started as a child process by a_killed_node_s_unacked_tasks_are_redelivered_after_rebalance"]
    async fn crash_child() {
        let (Ok(prefix), Ok(report), Some(url)) = (
            std::env::var(CRASH_PREFIX_VAR),
            std::env::var(CRASH_REPORT_VAR),
            kafka_url(),
        ) else {
            return;
        };
        let q = open(&url, long_lease(&prefix)).await;
        let got = receive_n(&q, Topic::Send, 12).await;
        let acked: Vec<&Leased> = got.iter().step_by(2).collect();
        ack(&q, &acked).await;
        // Give the consumer thread time to commit offsets and write the acks topic.
        tokio::time::sleep(Duration::from_millis(1_000)).await;
        let ids: Vec<&str> = acked
            .iter()
            .map(|l| l.task.delivery_id().as_str())
            .collect();
        let partial = format!("{report}.partial");
        std::fs::write(&partial, ids.join(",")).unwrap();
        std::fs::rename(&partial, &report).unwrap();
        tokio::time::sleep(Duration::from_secs(120)).await;
    }
}
