//! The queue conformance suite against a real Kafka-protocol broker (tansu in CI), found via
//! `HERALD_TEST_KAFKA_URL`. Each check gets a queue under its own random prefix; the topics
//! are deleted afterwards. Kafka hands out in offset order, so the suite runs without the
//! priority check (`Features { priorities: false }`).

mod support;

/// Module name = engine name: CI counts the `kafka::` tests.
mod kafka {
    use super::support::{clean_up, fresh_prefix, kafka_url, open, test_options, with_fresh_queue};
    use herald_ports::conformance::queue as suite;
    use std::sync::{Arc, Mutex};

    const FEATURES: suite::Features = suite::Features { priorities: false };

    /// One `#[tokio::test]` per check, so they run in parallel and fail one by one.
    macro_rules! each_check {
        ($($check:ident),* $(,)?) => {$(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $check() {
                let Some(url) = kafka_url() else { return };
                with_fresh_queue(&url, |q| async move { suite::$check(&*q).await }).await;
            }
        )*};
    }

    each_check!(
        publish_receive_ack,
        redelivers_after_lease_expiry,
        not_before_is_respected,
        commit_publishes_and_acks_together,
        dead_letters_list_and_replay,
        cancel_removes_queued_and_scheduled,
        receive_waits_and_wakes_on_publish,
        topics_are_separate,
    );

    /// `run_all`, the suite's own sequence, on one fresh queue per check.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn run_all_passes() {
        let Some(url) = kafka_url() else { return };
        let used = Arc::new(Mutex::new(Vec::<String>::new()));
        let outcome = tokio::spawn({
            let (url, used) = (url.clone(), used.clone());
            async move {
                let fresh = || {
                    let prefix = fresh_prefix();
                    used.lock().expect("prefixes").push(prefix.clone());
                    let url = url.clone();
                    async move { open(&url, test_options(&prefix)).await }
                };
                suite::run_all(fresh, FEATURES).await;
            }
        })
        .await;
        let used = used.lock().expect("prefixes").clone();
        println!(
            "Kafka queue conformance: run_all used {} queues against {url}",
            used.len()
        );
        clean_up(&url, &used, outcome).await;
    }

    /// Closing the queue and opening it again on the same topics (same consumer group) keeps
    /// queued, scheduled and unacked tasks, results and dead letters, and not acked tasks.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn tasks_survive_reopen() {
        let Some(url) = kafka_url() else { return };
        let prefix = fresh_prefix();
        let outcome = tokio::spawn({
            let (url, prefix) = (url.clone(), prefix.clone());
            async move {
                suite::tasks_survive_reopen(|| {
                    let (url, prefix) = (url.clone(), prefix.clone());
                    async move { open(&url, test_options(&prefix)).await }
                })
                .await;
            }
        })
        .await;
        clean_up(&url, &[prefix], outcome).await;
    }
}
