//! The result consumer: applies state-change events from the result topic to the records
//! store in batches, then acks them. Records keep only newer versions, so redelivered or
//! reordered events are harmless.

use crate::engine::Engine;
use crate::metrics::EngineMetrics;
use herald_domain::TaskEnvelope;
use herald_ports::{QueueCommit, Topic};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;

/// Runs until `stop` turns true and the result topic is empty (boxed: see
/// [`BoxFuture`](herald_ports::BoxFuture)).
pub fn run(
    engine: Arc<Engine>,
    stop: watch::Receiver<bool>,
) -> herald_ports::BoxFuture<'static, ()> {
    Box::pin(consume(engine, stop))
}

async fn consume(engine: Arc<Engine>, stop: watch::Receiver<bool>) {
    let queue = &engine.deps.queue;
    loop {
        let stopping = *stop.borrow();
        let wait = if stopping {
            Duration::ZERO
        } else {
            Duration::from_millis(500)
        };
        let leased = match queue.receive(Topic::Result, 4096, wait).await {
            Ok(l) => l,
            Err(e) => {
                tracing::error!(error = %e, "result receive failed");
                if stopping {
                    return;
                }
                tokio::time::sleep(Duration::from_secs(1)).await;
                continue;
            }
        };
        if leased.is_empty() {
            if stopping {
                tracing::info!("result consumer drained");
                return;
            }
            continue;
        }
        let mut events = Vec::with_capacity(leased.len());
        let mut commit = QueueCommit::default();
        for l in leased {
            match l.task {
                TaskEnvelope::ResultV1(e) => {
                    events.push(e);
                    commit.ack.push(l.receipt);
                }
                other => commit.dead.push((
                    l.receipt,
                    other,
                    "a delivery task on the result topic".into(),
                )),
            }
        }
        match engine.deps.records.apply(events).await {
            Ok(changed) => EngineMetrics::add(&engine.metrics.results_applied, changed as u64),
            Err(e) => {
                // Not acked: the events come back after their lease.
                tracing::error!(error = %e, "applying result events failed");
                tokio::time::sleep(Duration::from_secs(1)).await;
                continue;
            }
        }
        if let Err(e) = queue.commit(commit).await {
            tracing::error!(error = %e, "acking result events failed; they will be applied again (harmless)");
        }
    }
}
