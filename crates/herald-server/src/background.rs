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
        let runtime = Builder::new_multi_thread()
            .thread_name("herald-bg")
            .enable_all()
            .on_thread_start(move || lower_priority(nice))
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
    /// code panics); whatever still ran there was told to stop and awaited before.
    fn drop(&mut self) {
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

/// Lowers the calling thread's CPU priority by `nice` levels (on Linux the nice value
/// belongs to the thread, so the API's threads keep theirs). Never raises it.
fn lower_priority(nice: i32) {
    if nice <= 0 {
        return;
    }
    #[cfg(target_os = "linux")]
    {
        let me = rustix::thread::gettid();
        let lowered = rustix::process::getpriority_process(Some(me))
            .and_then(|now| rustix::process::setpriority_process(Some(me), (now + nice).min(19)));
        if let Err(e) = lowered {
            // Raising priority back is what needs privileges; lowering it never fails for
            // lack of them, so this is unexpected but harmless: the thread keeps its priority.
            tracing::warn!(error = %e, nice, "could not lower a background thread's priority");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(target_os = "linux")]
    #[test]
    fn background_threads_run_at_the_lower_priority_and_the_caller_keeps_its_own() {
        let before = rustix::process::getpriority_process(Some(rustix::thread::gettid())).unwrap();
        let bg = Background::start(7).unwrap();
        let rt = Builder::new_current_thread().build().unwrap();
        let (inside, name) = rt
            .block_on(bg.spawn(async {
                let tid = rustix::thread::gettid();
                (
                    rustix::process::getpriority_process(Some(tid)).unwrap(),
                    std::thread::current().name().map(str::to_owned),
                )
            }))
            .unwrap();
        assert_eq!(inside, (before + 7).min(19), "background thread niced");
        assert_eq!(name.as_deref(), Some("herald-bg"));
        let after = rustix::process::getpriority_process(Some(rustix::thread::gettid())).unwrap();
        assert_eq!(after, before, "the starting thread keeps its priority");
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
