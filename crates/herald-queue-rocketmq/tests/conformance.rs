//! Runs the queue conformance suite against a real RocketMQ broker (name server at
//! `HERALD_TEST_ROCKETMQ_URL`), each check on its own queue under a random prefix.
//! Priorities are not offered (`Features { priorities: false }`): tasks are handed out in
//! queue order.

mod support;

/// Named `rocketmq::…` so CI counts these tests per engine.
mod rocketmq {
    use super::support::{close, fresh_prefix, name_server, open, test_options, with_fresh_queue};
    use herald_ports::conformance::queue as suite;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    const FEATURES: suite::Features = suite::Features { priorities: false };

    macro_rules! conformance {
        ($($check:ident),* $(,)?) => {$(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $check() {
                let Some(url) = name_server() else { return };
                with_fresh_queue(&url, |q| async move { suite::$check(&*q).await }).await;
                eprintln!("RocketMQ queue conformance: {} passed against {url}", stringify!($check));
            }
        )*};
    }

    conformance!(
        publish_receive_ack,
        redelivers_after_lease_expiry,
        not_before_is_respected,
        commit_publishes_and_acks_together,
        dead_letters_list_and_replay,
        cancel_removes_queued_and_scheduled,
        receive_waits_and_wakes_on_publish,
        topics_are_separate,
    );

    /// The suite's all-in-one entry point: prints how many checks ran.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn run_all_passes() {
        let Some(url) = name_server() else { return };
        let checks = Arc::new(AtomicUsize::new(0));
        let outcome = tokio::spawn({
            let (url, checks) = (url.clone(), checks.clone());
            async move {
                suite::run_all(
                    || {
                        checks.fetch_add(1, Ordering::Relaxed);
                        let options = test_options(&url, &fresh_prefix());
                        async move { open(options).await }
                    },
                    FEATURES,
                )
                .await;
            }
        })
        .await;
        if let Err(e) = outcome {
            std::panic::resume_unwind(e.into_panic());
        }
        println!(
            "RocketMQ queue conformance: {} checks ran against {url} (priorities: not offered)",
            checks.load(Ordering::Relaxed)
        );
    }

    /// Queued, scheduled, leased-but-unacked tasks, results and dead letters survive closing
    /// the queue and opening it again on the same topics (the census is folded anew).
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn tasks_survive_reopen() {
        let Some(url) = name_server() else { return };
        let prefix = fresh_prefix();
        let outcome = tokio::spawn(async move {
            suite::tasks_survive_reopen(|| {
                let options = test_options(&url, &prefix);
                async move { open(options).await }
            })
            .await;
        })
        .await;
        if let Err(e) = outcome {
            std::panic::resume_unwind(e.into_panic());
        }
    }

    /// `close` is what the other tests use to release a queue; it must not hang.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_queue_closes_promptly() {
        let Some(url) = name_server() else { return };
        let queue = Arc::new(open(test_options(&url, &fresh_prefix())).await);
        tokio::time::timeout(std::time::Duration::from_secs(30), close(queue))
            .await
            .expect("closing took over 30 s");
    }
}
