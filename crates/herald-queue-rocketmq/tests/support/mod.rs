//! Shared by the RocketMQ test files: the name server from `HERALD_TEST_ROCKETMQ_URL` (skip
//! when unset, fail when `CI=true`), queues under a random prefix, and closing them whether
//! the test passed or panicked. Test topics stay on the broker (it cannot be asked to
//! forget them cheaply); their prefixes never repeat.

// Each test binary compiles this module and uses only part of it.
#![allow(dead_code)]

use herald_ports::conformance::queue as suite;
use herald_queue_rocketmq::{RocketMqQueue, RocketMqQueueOptions};
use std::future::Future;
use std::sync::Arc;

pub const URL_VAR: &str = "HERALD_TEST_ROCKETMQ_URL";

/// The name server to test against, or `None` (after saying so) to skip.
pub fn name_server() -> Option<String> {
    match std::env::var(URL_VAR) {
        Ok(url) if !url.trim().is_empty() => Some(url),
        _ if std::env::var("CI").is_ok_and(|v| v == "true") => {
            panic!("{URL_VAR} is not set and CI=true: the RocketMQ queue tests must run in CI")
        }
        _ => {
            eprintln!("skipped: set {URL_VAR}=127.0.0.1:9876 to run the RocketMQ queue tests");
            None
        }
    }
}

/// A prefix no other test run uses.
pub fn fresh_prefix() -> String {
    format!("herald_t{:016x}", rand::random::<u64>())
}

/// Options the conformance suite expects (its lease), on a fresh or given prefix.
pub fn test_options(name_server: &str, prefix: &str) -> RocketMqQueueOptions {
    RocketMqQueueOptions {
        name_server: name_server.to_owned(),
        prefix: prefix.to_owned(),
        lease: suite::LEASE,
        pollers: 2,
        ..RocketMqQueueOptions::default()
    }
}

pub async fn open(options: RocketMqQueueOptions) -> RocketMqQueue {
    RocketMqQueue::connect(options)
        .await
        .expect("open the RocketMQ queue")
}

/// Runs `test` on a fresh queue (in a task of its own, so a panic is caught), closes the
/// queue, then re-raises the test's panic if it had one.
pub async fn with_fresh_queue<F, Fut>(name_server: &str, test: F)
where
    F: FnOnce(Arc<RocketMqQueue>) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let queue = Arc::new(open(test_options(name_server, &fresh_prefix())).await);
    let outcome = tokio::spawn(test(queue.clone())).await;
    close(queue).await;
    if let Err(e) = outcome {
        std::panic::resume_unwind(e.into_panic());
    }
}

/// Shuts a queue down once nothing else holds it.
pub async fn close(queue: Arc<RocketMqQueue>) {
    if let Ok(queue) = Arc::try_unwrap(queue) {
        queue.shutdown().await;
    }
}
