//! Throughput of the embedded queue's hot cycle: publish → receive → commit (ack plus one
//! result event each), on a durable database, as the dispatcher drives it. Prints tasks/s, the
//! number of group commits and their mean batch.
//!
//! `cargo bench -p herald-embedded --bench queue_throughput` (`HERALD_BENCH_TASKS`, default
//! 100,000; a multiple of 1,000).

use herald_domain::{AppId, Priority, TaskEnvelope};
use herald_embedded::queue::{EmbeddedQueue, QueueOptions, SCHEMA};
use herald_embedded::{Db, DbOptions};
use herald_ports::conformance::queue as suite;
use herald_ports::{Queue, QueueCommit, Topic};
use std::error::Error;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Tasks per publish call.
const PUBLISH_BATCH: usize = 1000;
/// Concurrent consumers, each receiving up to `RECEIVE_BATCH` at a time.
const CONSUMERS: usize = 4;
const RECEIVE_BATCH: usize = 1024;
/// A consumer that waits this long for work and gets none is done.
const IDLE: Duration = Duration::from_millis(500);

type BenchResult<T> = Result<T, Box<dyn Error + Send + Sync>>;

fn main() -> BenchResult<()> {
    let total: usize = std::env::var("HERALD_BENCH_TASKS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100_000);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    runtime.block_on(run(total - total % PUBLISH_BATCH))
}

async fn consume(queue: Arc<EmbeddedQueue>) -> BenchResult<usize> {
    let mut done = 0;
    loop {
        let leased = queue.receive(Topic::Send, RECEIVE_BATCH, IDLE).await?;
        if leased.is_empty() {
            return Ok(done);
        }
        done += leased.len();
        let results = leased
            .iter()
            .map(|l| (Topic::Result, suite::result_task(l.task.app_id())))
            .collect();
        queue
            .commit(QueueCommit {
                ack: leased.iter().map(|l| l.receipt.clone()).collect(),
                publish: results,
                dead: Vec::new(),
            })
            .await?;
    }
}

async fn run(total: usize) -> BenchResult<()> {
    let dir = tempfile::tempdir()?;
    let db = Db::open(&dir.path().join("q.db"), &[SCHEMA], DbOptions::default())?;
    let queue = Arc::new(EmbeddedQueue::new(db.clone(), QueueOptions::default()));
    let app = AppId::generate();
    let started = Instant::now();
    let publishers: Vec<_> = (0..total / PUBLISH_BATCH)
        .map(|_| {
            let batch: Vec<TaskEnvelope> = (0..PUBLISH_BATCH)
                .map(|_| suite::delivery_task(&app, Priority::Normal, 0))
                .collect();
            let queue = Arc::clone(&queue);
            tokio::spawn(async move { queue.publish(Topic::Send, batch).await })
        })
        .collect();
    let consumers: Vec<_> = (0..CONSUMERS)
        .map(|_| tokio::spawn(consume(Arc::clone(&queue))))
        .collect();
    for publisher in publishers {
        publisher.await??;
    }
    let mut done = 0;
    for consumer in consumers {
        done += consumer.await??;
    }
    let elapsed = started.elapsed().saturating_sub(IDLE);
    if done != total {
        return Err(format!("{done} of {total} tasks handed out").into());
    }
    println!(
        "queue publish → receive → commit: {total} tasks in {:.2} s: {:.0} tasks/s, {} commits, mean batch {:.0}",
        elapsed.as_secs_f64(),
        total as f64 / elapsed.as_secs_f64(),
        db.stats().commits(),
        db.stats().mean_batch()
    );
    Ok(())
}
