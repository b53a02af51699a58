//! Census snapshots against a real broker: a node that starts after another wrote a
//! snapshot folds only the ledger after it, and sees the same tasks, leases, claims and
//! dead letters as a node that folded everything.

mod support;

/// Named `rocketmq::…` so CI counts these tests per engine.
mod rocketmq {
    use super::support::{close, fresh_prefix, name_server, open, test_options};
    use herald_domain::time::now_ms;
    use herald_domain::{AppId, Priority, TaskEnvelope};
    use herald_ports::conformance::queue::delivery_task;
    use herald_ports::{Queue, QueueCommit, Topic};
    use std::sync::Arc;
    use std::time::Duration;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_node_starts_from_the_newest_snapshot() {
        let Some(url) = name_server() else { return };
        let prefix = fresh_prefix();
        let writer = Arc::new(
            open(herald_queue_rocketmq::RocketMqQueueOptions {
                // A snapshot after every ledger entry.
                snapshot_every: Duration::from_millis(1),
                ..test_options(&url, &prefix)
            })
            .await,
        );
        assert_eq!(writer.started_from_snapshot(), None, "a new queue has none");
        let outcome = tokio::spawn({
            let (writer, url, prefix) = (writer.clone(), url.clone(), prefix.clone());
            async move {
                let app = AppId::generate();
                let tasks: Vec<TaskEnvelope> = (0..5)
                    .map(|_| delivery_task(&app, Priority::Normal, now_ms() - 1))
                    .collect();
                let later = delivery_task(&app, Priority::Normal, now_ms() + 3_600_000);
                writer
                    .publish(Topic::Send, tasks.clone())
                    .await
                    .expect("publish");
                writer
                    .publish(Topic::Send, vec![later])
                    .await
                    .expect("publish");
                let mut leased = Vec::new();
                while leased.len() < 5 {
                    leased.extend(
                        writer
                            .receive(Topic::Send, 5, Duration::from_secs(2))
                            .await
                            .expect("receive"),
                    );
                }
                writer
                    .commit(QueueCommit {
                        ack: vec![leased[0].receipt.clone()],
                        dead: vec![(
                            leased[1].receipt.clone(),
                            leased[1].task.clone(),
                            "gone".into(),
                        )],
                        ..Default::default()
                    })
                    .await
                    .expect("commit");
                // Entries after the last snapshot: folded from the ledger by the reader.
                let extra = delivery_task(&app, Priority::Normal, now_ms() - 1);
                writer
                    .publish(Topic::Retry, vec![extra])
                    .await
                    .expect("publish");

                let reader = open(test_options(&url, &prefix)).await;
                let from = reader
                    .started_from_snapshot()
                    .expect("started from a snapshot");
                assert!(from > 0, "the snapshot covers part of the ledger");
                assert_eq!(
                    reader.stats().await.expect("stats"),
                    writer.stats().await.expect("stats"),
                    "both nodes count the same"
                );
                let dead = reader.list_dead(&app, None, 10).await.expect("list_dead");
                assert_eq!(dead.len(), 1);
                assert_eq!(dead[0].reason, "gone");
                let again = reader
                    .receive(Topic::Send, 10, Duration::from_millis(300))
                    .await
                    .expect("receive");
                assert!(
                    again.is_empty(),
                    "claims survive the snapshot: nothing is handed out twice"
                );
                let retry = reader
                    .receive(Topic::Retry, 10, Duration::from_secs(2))
                    .await
                    .expect("receive");
                assert_eq!(retry.len(), 1, "what came after the snapshot is there too");
                eprintln!(
                    "RocketMQ: a node started from a census snapshot at ledger offset {from}"
                );
                reader.shutdown().await;
            }
        })
        .await;
        close(writer).await;
        if let Err(e) = outcome {
            std::panic::resume_unwind(e.into_panic());
        }
    }
}
