//! The background runtime (opt-in, `dispatcher.nice`): delivery, results, receipt polling
//! and housekeeping on their own tokio threads at a lower CPU priority than the API's.
//!
//! Why it exists: on a saturated node every thread competes for the same cores, and a
//! queued accept waits behind whatever else is runnable. The API's work has a caller
//! waiting on it; the delivery pipeline's does not — its queue absorbs a burst. Why it is
//! off by default: measured on 2 cores (decision 0021), it halves accept and `GET` p50 at
//! 10,000 accepts/s and raises closed-loop accepts by ~25 %, but the drain of a backlog
//! loses ~12 % (the dispatcher then wakes the queue and the writer across runtimes, and
//! yields to everything else), and the accept p99 did not move out of its spread. An
//! operator who values the API's latency over delivery throughput turns it on.

use std::future::Future;
use tokio::runtime::{Builder, Runtime};
use tokio::task::JoinHandle;

/// Where the work no caller waits on runs: on the API's runtime (`nice == 0`, the default),
/// or on its own runtime whose threads run `nice` levels below the API's.
pub(crate) struct Background {
    runtime: Option<Runtime>,
}

impl Background {
    /// `nice`: 0 = share the API's runtime; 1–19 = own runtime (one thread per core),
    /// lowered by that many nice levels (capped at 19; Linux only, elsewhere the threads
    /// keep the process's priority).
    pub(crate) fn start(nice: i32) -> std::io::Result<Self> {
        if nice <= 0 {
            return Ok(Self { runtime: None });
        }
        // One absolute target for every thread of the runtime: a blocking-pool thread is
        // created by an already lowered worker and inherits its value, so lowering each
        // thread "by `nice`" would lower those twice.
        let target = current_nice().map(|base| (base + nice).min(19));
        #[cfg(not(target_os = "linux"))]
        tracing::warn!(
            nice,
            "dispatcher.nice only lowers priorities on Linux; delivery runs on its own runtime at the API's priority"
        );
        let runtime = Builder::new_multi_thread()
            .thread_name("herald-bg")
            .enable_all()
            .on_thread_start(move || lower_priority_to(target))
            .build()?;
        Ok(Self {
            runtime: Some(runtime),
        })
    }

    /// Runs `future` in the background (on the caller's runtime when there is no own one).
    pub(crate) fn spawn<F>(&self, future: F) -> JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        match &self.runtime {
            Some(runtime) => runtime.spawn(future),
            None => tokio::spawn(future),
        }
    }
}

impl Drop for Background {
    /// Stops the own runtime's threads without waiting (dropping a [`Runtime`] inside async
    /// code panics). The server drops it last, after telling its tasks to stop and waiting
    /// up to the shutdown grace; sends still running past that are abandoned here (their
    /// tasks are redelivered after the lease, as when the process exits).
    fn drop(&mut self) {
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

/// The calling thread's nice value (Linux; `None` elsewhere or when it cannot be read).
fn current_nice() -> Option<i32> {
    #[cfg(target_os = "linux")]
    {
        rustix::process::getpriority_process(Some(rustix::thread::gettid())).ok()
    }
    #[cfg(not(target_os = "linux"))]
    {
        None
    }
}

/// Sets the calling thread's nice value to `target` unless it already runs at that or
/// lower (on Linux the nice value belongs to the thread, so the API's threads keep theirs;
/// lowering needs no privileges, raising would).
fn lower_priority_to(target: Option<i32>) {
    #[cfg(target_os = "linux")]
    if let Some(target) = target
        && current_nice().is_some_and(|now| now < target)
        && let Err(e) = rustix::process::setpriority_process(Some(rustix::thread::gettid()), target)
    {
        tracing::warn!(error = %e, target, "could not lower a background thread's priority");
    }
    #[cfg(not(target_os = "linux"))]
    let _ = target;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(target_os = "linux")]
    #[test]
    fn workers_and_blocking_threads_run_nice_levels_below_the_caller_which_keeps_its_own() {
        let before = current_nice().unwrap();
        let bg = Background::start(7).unwrap();
        let rt = Builder::new_current_thread().build().unwrap();
        let (worker, name, blocking) = rt
            .block_on(bg.spawn(async {
                let worker = current_nice().unwrap();
                let name = std::thread::current().name().map(str::to_owned);
                // Created by the (already lowered) worker: must not be lowered twice.
                let blocking = tokio::task::spawn_blocking(|| current_nice().unwrap())
                    .await
                    .unwrap();
                (worker, name, blocking)
            }))
            .unwrap();
        let expected = (before + 7).min(19);
        assert_eq!(worker, expected, "worker thread niced");
        assert_eq!(blocking, expected, "blocking-pool thread niced once");
        assert_eq!(name.as_deref(), Some("herald-bg"));
        assert_eq!(
            current_nice().unwrap(),
            before,
            "the caller keeps its priority"
        );
    }

    #[tokio::test]
    async fn dropping_it_inside_async_code_does_not_panic() {
        let bg = Background::start(10).unwrap();
        assert_eq!(bg.spawn(async { 41 + 1 }).await.unwrap(), 42);
        drop(bg);
    }

    #[tokio::test]
    async fn nice_zero_runs_on_the_callers_runtime() {
        let bg = Background::start(0).unwrap();
        let name = bg
            .spawn(async { std::thread::current().name().map(str::to_owned) })
            .await
            .unwrap();
        assert_ne!(name.as_deref(), Some("herald-bg"));
    }
}
