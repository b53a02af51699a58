//! Runs the queue conformance suite against a real NATS server (`HERALD_TEST_NATS_URL`), each
//! check on its own queue under a random prefix whose streams are deleted afterwards.
//! Priorities are not offered (`Features { priorities: false }`): JetStream hands out FIFO.

mod support;

/// Named `nats::…` so CI counts these tests per engine.
mod nats {
    use super::support::{clean_up, fresh_prefix, nats_url, open, test_options, with_fresh_queue};
    use herald_ports::conformance::queue as suite;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::{Arc, Mutex};

    const FEATURES: suite::Features = suite::Features { priorities: false };

    macro_rules! conformance {
        ($($check:ident),* $(,)?) => {$(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $check() {
                let Some(url) = nats_url() else { return };
                with_fresh_queue(&url, |q| async move { suite::$check(&*q).await }).await;
                eprintln!("NATS queue conformance: {} passed against {url}", stringify!($check));
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

    /// The suite's all-in-one entry point, as CI counts it: prints how many checks ran.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn run_all_passes() {
        let Some(url) = nats_url() else { return };
        let prefixes = Arc::new(Mutex::new(Vec::new()));
        let checks = Arc::new(AtomicUsize::new(0));
        let outcome = tokio::spawn({
            let (url, prefixes, checks) = (url.clone(), prefixes.clone(), checks.clone());
            async move {
                suite::run_all(
                    || {
                        let prefix = fresh_prefix();
                        prefixes.lock().expect("prefix list").push(prefix.clone());
                        checks.fetch_add(1, Ordering::Relaxed);
                        let url = url.clone();
                        async move { open(&url, test_options(&prefix)).await }
                    },
                    FEATURES,
                )
                .await;
            }
        })
        .await;
        let prefixes = prefixes.lock().expect("prefix list").clone();
        clean_up(&url, &prefixes, outcome).await;
        println!(
            "NATS queue conformance: {} checks ran against {url} (priorities: not offered)",
            checks.load(Ordering::Relaxed)
        );
    }

    /// Queued, scheduled, leased-but-unacked tasks, results and dead letters survive dropping
    /// the queue and opening it again on the same streams.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn tasks_survive_reopen() {
        let Some(url) = nats_url() else { return };
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
