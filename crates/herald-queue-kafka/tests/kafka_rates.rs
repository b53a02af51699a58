//! Rates against the test broker, printed for the record (CI logs keep them); the test
//! asserts that every task of a 2,000-task run is handed out exactly once.

mod support;

/// Module name = engine name: CI counts the `kafka::` tests.
mod kafka {
    use super::support::{clean_up, fresh_prefix, kafka_url, open, test_options};
    use herald_domain::time::now_ms;
    use herald_domain::{AppId, Priority};
    use herald_ports::conformance::queue::delivery_task;
    use herald_ports::{Queue, QueueCommit, Topic};
    use herald_queue_kafka::KafkaQueueOptions;
    use std::collections::HashSet;
    use std::time::{Duration, Instant};

    const TASKS: usize = 2_000;
    const BATCH: usize = 200;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn batches_flow_through_once() {
        let Some(url) = kafka_url() else { return };
        let prefix = fresh_prefix();
        let outcome = tokio::spawn({
            let (url, prefix) = (url.clone(), prefix.clone());
            async move {
                let options = KafkaQueueOptions {
                    lease: Duration::from_secs(60),
                    ..test_options(&prefix)
                };
                let q = open(&url, options).await;
                let app = AppId::generate();
                let tasks: Vec<_> = (0..TASKS)
                    .map(|_| delivery_task(&app, Priority::Normal, now_ms() - 1_000))
                    .collect();
                let started = Instant::now();
                for chunk in tasks.chunks(BATCH) {
                    q.publish(Topic::Send, chunk.to_vec()).await.unwrap();
                }
                let published = started.elapsed();
                let mut seen = HashSet::new();
                let deadline = Instant::now() + Duration::from_secs(60);
                while seen.len() < TASKS && Instant::now() < deadline {
                    let got = q
                        .receive(Topic::Send, BATCH, Duration::from_secs(1))
                        .await
                        .unwrap();
                    for leased in &got {
                        assert!(
                            seen.insert(leased.task.delivery_id().clone()),
                            "handed out twice"
                        );
                    }
                    q.commit(QueueCommit {
                        ack: got.iter().map(|l| l.receipt.clone()).collect(),
                        ..Default::default()
                    })
                    .await
                    .unwrap();
                }
                let total = started.elapsed();
                assert_eq!(seen.len(), TASKS, "every task is handed out");
                println!(
                    "Kafka on {url}: published {TASKS} tasks in batches of {BATCH} at {:.0}/s; \
                     published, received and acked all at {:.0}/s",
                    TASKS as f64 / published.as_secs_f64(),
                    TASKS as f64 / total.as_secs_f64()
                );
            }
        })
        .await;
        clean_up(&url, &[prefix], outcome).await;
    }
}
