//! Shared by the Kafka test files: the broker address from `HERALD_TEST_KAFKA_URL` (skip when
//! unset, fail when `CI=true`), queues under a random prefix with the suite's lease and a
//! short delay ladder, and deletion of their topics whether the test passed or panicked.

#![allow(dead_code)]

use herald_ports::conformance::queue as suite;
use herald_queue_kafka::{KafkaQueue, KafkaQueueOptions, delete_topics};
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

pub const URL_VAR: &str = "HERALD_TEST_KAFKA_URL";

/// The broker to test against, or `None` (after saying so) to skip.
pub fn kafka_url() -> Option<String> {
    match std::env::var(URL_VAR) {
        Ok(url) if !url.trim().is_empty() => Some(url),
        _ if std::env::var("CI").is_ok_and(|v| v == "true") => {
            panic!("{URL_VAR} is not set and CI=true: the Kafka queue tests must run in CI")
        }
        _ => {
            eprintln!("skipped: set {URL_VAR}=127.0.0.1:9092 to run the Kafka queue tests");
            None
        }
    }
}

/// A prefix no other test run uses.
pub fn fresh_prefix() -> String {
    format!("t{:016x}", rand::random::<u64>())
}

/// Options the conformance suite expects (its lease), few partitions and a short ladder so
/// each test creates few topics, a short session so a dead node is noticed quickly, and one
/// record per batch (tansu's in-memory engine needs it, see `single_record_batches`).
pub fn test_options(prefix: &str) -> KafkaQueueOptions {
    KafkaQueueOptions {
        prefix: prefix.to_owned(),
        lease: suite::LEASE,
        partitions: 2,
        wait_partitions: 1,
        delay_levels: vec![Duration::from_secs(1), Duration::from_secs(60)],
        session_timeout: Duration::from_secs(6),
        single_record_batches: true,
        ..KafkaQueueOptions::default()
    }
}

pub async fn open(url: &str, options: KafkaQueueOptions) -> KafkaQueue {
    KafkaQueue::connect(url, options)
        .await
        .expect("open the Kafka queue")
}

/// Deletes the topics of `prefixes`, then re-raises the test's panic if it had one.
pub async fn clean_up(url: &str, prefixes: &[String], outcome: Result<(), tokio::task::JoinError>) {
    for prefix in prefixes {
        if let Err(e) = delete_topics(url, &test_options(prefix)).await {
            eprintln!("could not delete the topics of {prefix}: {e}");
        }
    }
    if let Err(e) = outcome {
        std::panic::resume_unwind(e.into_panic());
    }
}

/// Runs `test` on a fresh queue (in a task of its own, so a panic is caught) and deletes the
/// queue's topics afterwards.
pub async fn with_fresh_queue<F, Fut>(url: &str, test: F)
where
    F: FnOnce(Arc<KafkaQueue>) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let prefix = fresh_prefix();
    let queue = Arc::new(open(url, test_options(&prefix)).await);
    let outcome = tokio::spawn(test(queue.clone())).await;
    drop(queue);
    clean_up(url, &[prefix], outcome).await;
}
