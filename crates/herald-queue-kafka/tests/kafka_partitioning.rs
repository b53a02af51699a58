//! Partitioning across nodes, against a real broker (`HERALD_TEST_KAFKA_URL`): delivery tasks
//! are keyed by channel account, so each account's tasks land in one partition and are
//! handed out by the one node that owns it; two nodes of one group split the partitions.

mod support;

/// Module name = engine name: CI counts the `kafka::` tests.
mod kafka {
    use super::support::{clean_up, fresh_prefix, kafka_url, open, test_options};
    use herald_domain::time::now_ms;
    use herald_domain::{AccountId, AppId, Priority, TaskEnvelope};
    use herald_ports::conformance::queue::delivery_task;
    use herald_ports::{Leased, Queue, QueueCommit, Topic};
    use herald_queue_kafka::{KafkaQueue, KafkaQueueOptions};
    use std::collections::{HashMap, HashSet};
    use std::time::{Duration, Instant};

    const ACCOUNTS: usize = 6;
    const PER_ACCOUNT: usize = 10;

    async fn drain(q: &KafkaQueue, node: &'static str, out: &mut Vec<(&'static str, Leased)>) {
        let got = q
            .receive(Topic::Send, 100, Duration::from_millis(200))
            .await
            .unwrap();
        q.commit(QueueCommit {
            ack: got.iter().map(|l| l.receipt.clone()).collect(),
            ..Default::default()
        })
        .await
        .unwrap();
        out.extend(got.into_iter().map(|l| (node, l)));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn an_account_stays_in_one_partition_and_two_nodes_split_the_work() {
        let Some(url) = kafka_url() else { return };
        let prefix = fresh_prefix();
        let outcome = tokio::spawn({
            let (url, prefix) = (url.clone(), prefix.clone());
            async move {
                let options = KafkaQueueOptions {
                    lease: Duration::from_secs(60),
                    ..test_options(&prefix)
                };
                let first = open(&url, options.clone()).await;
                let second = open(&url, options).await;

                let app = AppId::generate();
                let accounts: Vec<AccountId> =
                    (0..ACCOUNTS).map(|_| AccountId::generate()).collect();
                let mut tasks = Vec::new();
                for account in &accounts {
                    for _ in 0..PER_ACCOUNT {
                        let mut task = delivery_task(&app, Priority::Normal, now_ms() - 1_000);
                        if let TaskEnvelope::DeliveryV1(t) = &mut task {
                            t.account_id = account.clone();
                        }
                        tasks.push(task);
                    }
                }
                first.publish(Topic::Send, tasks.clone()).await.unwrap();

                let mut got = Vec::new();
                let deadline = Instant::now() + Duration::from_secs(15);
                while got.len() < tasks.len() && Instant::now() < deadline {
                    drain(&first, "first", &mut got).await;
                    drain(&second, "second", &mut got).await;
                }
                let handed: HashSet<_> = got
                    .iter()
                    .map(|(_, l)| l.task.delivery_id().clone())
                    .collect();
                assert_eq!(
                    (got.len(), handed.len()),
                    (tasks.len(), tasks.len()),
                    "each task once"
                );

                let mut homes: HashMap<&AccountId, HashSet<(&str, Option<&str>)>> = HashMap::new();
                for (node, leased) in &got {
                    let TaskEnvelope::DeliveryV1(t) = &leased.task else {
                        unreachable!()
                    };
                    homes
                        .entry(&t.account_id)
                        .or_default()
                        .insert((*node, leased.receipt.handle.as_deref()));
                }
                for (account, home) in &homes {
                    assert_eq!(home.len(), 1, "{account} was handed out from {home:?}");
                }
                let nodes: HashSet<&str> = got.iter().map(|(node, _)| *node).collect();
                println!(
                    "Kafka: {} accounts over 2 partitions, handed out by {:?}",
                    homes.len(),
                    nodes
                );
                let partitions: HashSet<_> = homes.values().flatten().map(|(_, p)| *p).collect();
                if partitions.len() == 2 {
                    assert_eq!(nodes.len(), 2, "two nodes split two busy partitions");
                }
            }
        })
        .await;
        clean_up(&url, &[prefix], outcome).await;
    }
}
