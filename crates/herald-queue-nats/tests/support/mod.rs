//! Shared by the NATS test files: the server URL from `HERALD_TEST_NATS_URL` (skip when
//! unset, fail when `CI=true`), queues under a random prefix, and clean-up of their streams
//! whether the test passed or panicked.

use herald_ports::conformance::queue as suite;
use herald_queue_nats::{NatsQueue, NatsQueueOptions, delete_streams};
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

pub const URL_VAR: &str = "HERALD_TEST_NATS_URL";

/// The NATS server to test against, or `None` (after saying so) to skip.
pub fn nats_url() -> Option<String> {
    match std::env::var(URL_VAR) {
        Ok(url) if !url.trim().is_empty() => Some(url),
        _ if std::env::var("CI").is_ok_and(|v| v == "true") => {
            panic!("{URL_VAR} is not set and CI=true: the NATS queue tests must run in CI")
        }
        _ => {
            eprintln!("skipped: set {URL_VAR}=nats://127.0.0.1:4222 to run the NATS queue tests");
            None
        }
    }
}

/// A prefix no other test run uses.
pub fn fresh_prefix() -> String {
    format!("t{:016x}", rand::random::<u64>())
}

/// Options the conformance suite expects (its lease), a short timer hold so a dead node's
/// waiting tasks are taken over quickly.
pub fn test_options(prefix: &str) -> NatsQueueOptions {
    NatsQueueOptions {
        prefix: prefix.to_owned(),
        lease: suite::LEASE,
        timer_hold: Duration::from_secs(2),
        ..NatsQueueOptions::default()
    }
}

pub async fn open(url: &str, options: NatsQueueOptions) -> NatsQueue {
    NatsQueue::connect(url, options)
        .await
        .expect("open the NATS queue")
}

/// Deletes the streams of `prefixes`, then re-raises the test's panic if it had one.
pub async fn clean_up(url: &str, prefixes: &[String], outcome: Result<(), tokio::task::JoinError>) {
    let client = async_nats::connect(url)
        .await
        .expect("connect for clean-up");
    for prefix in prefixes {
        delete_streams(&client, prefix)
            .await
            .expect("delete the test streams");
    }
    if let Err(e) = outcome {
        std::panic::resume_unwind(e.into_panic());
    }
}

/// Runs `test` on a fresh queue (in a task of its own, so a panic is caught) and deletes the
/// queue's streams afterwards.
pub async fn with_fresh_queue<F, Fut>(url: &str, test: F)
where
    F: FnOnce(Arc<NatsQueue>) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let prefix = fresh_prefix();
    let queue = Arc::new(open(url, test_options(&prefix)).await);
    let outcome = tokio::spawn(test(queue.clone())).await;
    drop(queue);
    clean_up(url, &[prefix], outcome).await;
}
