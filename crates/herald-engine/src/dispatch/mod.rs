//! The dispatcher: consumes the send and retry topics, prepares each task
//! ([`process::prepare`]) and sends them in provider calls of up to the channel's
//! `max_batch` per account ([`process::send_batch`]) on a bounded pool of workers.
//!
//! - A receive loop per topic leases a batch once a worker is free, so tasks don't sit
//!   leased (and time out) behind a long queue of busy workers.
//! - Before sending, one batched records lookup drops tasks whose delivery is already final
//!   or canceled (redelivery after a crash must not become a duplicate send).
//! - A single committer gathers finished tasks and commits them in batches: the task's ack,
//!   its result event and any retry task or dead letter go to the queue in one step, so a task
//!   is removed only together with its recorded outcome.
//! - Shutdown: stop leasing, let in-flight sends finish, flush the committer.

mod policy;
mod process;

pub use policy::{Policy, PolicyChain, PolicyDecision};

use crate::engine::Engine;
use crate::metrics::EngineMetrics;
use herald_domain::{DeliveryState, DeliveryTask, TaskEnvelope};
use herald_ports::{QueueCommit, StoredState, Topic};
use process::Completion;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{Semaphore, mpsc, watch};

/// Most finished tasks one settle commits.
const SETTLE_BATCH: usize = 4096;

/// Runs until `stop` turns true, then drains in-flight work and returns (boxed: see
/// [`BoxFuture`](herald_ports::BoxFuture)).
pub fn run(
    engine: Arc<Engine>,
    policies: PolicyChain,
    stop: watch::Receiver<bool>,
) -> herald_ports::BoxFuture<'static, ()> {
    Box::pin(dispatch(engine, policies, stop))
}

async fn dispatch(engine: Arc<Engine>, policies: PolicyChain, stop: watch::Receiver<bool>) {
    let workers = engine.settings.workers.max(1);
    // Room for a whole settle's worth of finished tasks, so sending goes on while the
    // previous settle waits for its commit. With `workers * 4` (256), a settle that waited
    // ~120 ms behind the indexer's bulk commit stopped the workers after 256 more tasks:
    // delivery ran at ~3,200–4,300/s while a backlog was being indexed (~13,000/s now).
    let (done_tx, done_rx) = mpsc::channel::<Completion>(SETTLE_BATCH.max(workers * 4));
    // False while the committer retries a failed settle: leasing pauses, so no more is sent
    // whose outcome cannot be recorded (it would be sent again after its lease).
    let (settling_tx, settling) = watch::channel(true);
    let committer = tokio::spawn(commit_loop(engine.clone(), done_rx, settling_tx));
    let pool = Arc::new(Semaphore::new(workers));
    let loops: Vec<_> = [Topic::Send, Topic::Retry]
        .into_iter()
        .map(|topic| {
            tokio::spawn(receive_loop(
                engine.clone(),
                topic,
                policies.clone(),
                pool.clone(),
                done_tx.clone(),
                settling.clone(),
                stop.clone(),
            ))
        })
        .collect();
    drop(done_tx);
    for l in loops {
        let _ = l.await;
    }
    // Every in-flight task holds a sender; the committer ends when the last one is done.
    let _ = committer.await;
    tracing::info!("dispatcher drained");
}

async fn receive_loop(
    engine: Arc<Engine>,
    topic: Topic,
    policies: PolicyChain,
    pool: Arc<Semaphore>,
    done: mpsc::Sender<Completion>,
    mut settling: watch::Receiver<bool>,
    mut stop: watch::Receiver<bool>,
) {
    let batch = engine.settings.receive_batch.max(1);
    loop {
        if *stop.borrow() {
            break;
        }
        tokio::select! {
            healthy = settling.wait_for(|healthy| *healthy) => if healthy.is_err() { break },
            _ = stop.changed() => break,
        }
        // Wait for at least one free worker before leasing anything — but do not hold it
        // through the long poll: with few workers, the other topic's loop waiting on an
        // empty queue would keep it from sending (1 worker delivered ~1 task a second).
        let first = tokio::select! {
            p = pool.clone().acquire_owned() => match p { Ok(p) => p, Err(_) => break },
            _ = stop.changed() => break,
        };
        drop(first);
        // Lease a full batch: batch-capable channels send hundreds per call, and the rest
        // wait at most a few provider round trips for a worker (far below the lease).
        let room = batch;
        let leased = tokio::select! {
            r = engine.deps.queue.receive(topic, room, Duration::from_millis(500)) => r,
            _ = stop.changed() => break,
        };
        let leased = match leased {
            Ok(l) if l.is_empty() => continue,
            Ok(l) => l,
            Err(e) => {
                tracing::error!(topic = topic.as_str(), error = %e, "queue receive failed");
                tokio::time::sleep(Duration::from_secs(1)).await;
                continue;
            }
        };
        let ids: Vec<_> = leased
            .iter()
            .map(|l| l.task.delivery_id().clone())
            .collect();
        let states = engine.deps.records.delivery_states(&ids).await.unwrap_or_else(|e| {
            tracing::warn!(error = %e, "delivery state lookup failed; sending without the duplicate check");
            Default::default()
        });
        let mut ready: Vec<process::Prepared> = Vec::new();
        for l in leased {
            let task = match l.task {
                TaskEnvelope::DeliveryV1(t) => t,
                other => {
                    let reason = format!("a {} task cannot be dispatched", topic.as_str());
                    let _ = done
                        .send(Completion {
                            receipt: l.receipt,
                            publish: vec![],
                            dead: Some((other, reason)),
                        })
                        .await;
                    continue;
                }
            };
            if already_done(states.get(&task.delivery_id), &task) {
                EngineMetrics::add(&engine.metrics.duplicates_skipped, 1);
                let _ = done
                    .send(Completion {
                        receipt: l.receipt,
                        publish: vec![],
                        dead: None,
                    })
                    .await;
                continue;
            }
            match process::prepare(&engine, &policies, l.receipt, task).await {
                process::Step::Done(c) => {
                    let _ = done.send(c).await;
                }
                process::Step::Ready(p) => ready.push(p),
            }
        }
        for group in batches(ready) {
            let Ok(permit) = pool.clone().acquire_owned().await else {
                break;
            };
            let (engine, done) = (engine.clone(), done.clone());
            tokio::spawn(async move {
                for completion in process::send_batch(&engine, group).await {
                    let _ = done.send(completion).await;
                }
                drop(permit);
            });
        }
    }
}

/// Groups prepared tasks into provider calls: same account, at most the channel's
/// `max_batch` per call, in lease order.
fn batches(ready: Vec<process::Prepared>) -> Vec<Vec<process::Prepared>> {
    let mut groups: Vec<Vec<process::Prepared>> = Vec::new();
    let mut open: std::collections::HashMap<herald_domain::AccountId, usize> =
        std::collections::HashMap::new();
    for p in ready {
        let max = p.channel.max_batch().max(1);
        let key = p.account.account.id.clone();
        match open.get(&key) {
            Some(&i) if groups[i].len() < max => groups[i].push(p),
            _ => {
                open.insert(key, groups.len());
                groups.push(vec![p]);
            }
        }
    }
    groups
}

/// Whether the records already hold this attempt's outcome (or a cancel).
fn already_done(stored: Option<&StoredState>, task: &DeliveryTask) -> bool {
    match stored {
        None => false,
        Some(s) if s.state == DeliveryState::Canceled => true,
        Some(s) => {
            s.version.seq >= task.attempt && s.version.rank >= DeliveryState::Retrying.rank()
        }
    }
}

async fn commit_loop(
    engine: Arc<Engine>,
    mut done: mpsc::Receiver<Completion>,
    settling: watch::Sender<bool>,
) {
    let mut buf = Vec::with_capacity(1024);
    while done.recv_many(&mut buf, SETTLE_BATCH).await > 0 {
        let mut commit = QueueCommit::default();
        for c in buf.drain(..) {
            match c.dead {
                Some((task, reason)) => commit.dead.push((c.receipt, task, reason)),
                None => commit.ack.push(c.receipt),
            }
            commit.publish.extend(c.publish);
        }
        // Settle in one unit where the backend can; otherwise results go through the topic.
        let mut events = Vec::new();
        if engine.deps.settle.is_some() {
            commit
                .publish
                .retain_mut(|(topic, task)| match (topic, task) {
                    (Topic::Result, TaskEnvelope::ResultV1(e)) => {
                        events.push(e.clone());
                        false
                    }
                    _ => true,
                });
        }
        let mut backoff = Duration::from_millis(50);
        for attempt in 1..=8 {
            let outcome = match &engine.deps.settle {
                Some(settle) => {
                    settle
                        .settle(events.clone(), commit.clone())
                        .await
                        .map(|changed| {
                            EngineMetrics::add(&engine.metrics.results_applied, changed as u64);
                        })
                }
                None => engine.deps.queue.commit(commit.clone()).await,
            };
            settling.send_replace(outcome.is_ok());
            match outcome {
                Ok(()) => break,
                Err(e) if attempt < 8 => {
                    tracing::warn!(error = %e, attempt, "queue commit failed; retrying");
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(Duration::from_secs(2));
                }
                Err(e) => {
                    // Leasing resumes: the next settle tries again (and pauses it again if
                    // the store is still failing).
                    settling.send_replace(true);
                    tracing::error!(error = %e, "queue commit failed; the tasks will be redelivered after their lease")
                }
            }
        }
    }
}
