//! `receive`: read the topic's queues from the census's claimed offsets, claim what was read
//! with one ledger entry, and hand out what the claim won.
//!
//! Per message read:
//! - a canceled task (tombstone in the census) is dropped (claimed over, never handed out);
//! - a task whose `not_before` is still ahead (a chained delay longer than the last level,
//!   or a level that fired early) is *deferred*: held by the claim, sent again with the
//!   delay level covering what is left, then released (`Requeued`). A task is never handed
//!   out before it is due;
//! - everything else is handed out under a lease.
//!
//! Two nodes reading the same range both try to claim it; the ledger's order decides, and
//! the loser reads on from the winner's end. Before reading, a receive puts back on the
//! broker every task of the topic whose lease ran out (any node may do this, so a node
//! that died loses its leases to the others). A read that brings nothing to hand out does
//! not end the call: it goes on until something is handed out or `wait` is over.

use crate::broker::{Pulled, body_of};
use crate::census::{Change, Claim, HeldTask, QueueRef, TopicName};
use crate::codec::{decode, receipt};
use crate::queue::RocketMqQueue;
use herald_domain::TaskEnvelope;
use herald_domain::time::now_ms;
use herald_ports::{Leased, StoreError, Topic};
use std::time::{Duration, Instant};

/// Most messages read per receive, over all queues (the broker may return fewer per pull).
const MAX_READ: usize = 256;

/// With several queues, a long poll waits on one queue this long, then on the next.
const POLL_SLICE: Duration = Duration::from_millis(200);

pub(crate) async fn receive(
    q: &RocketMqQueue,
    topic: Topic,
    max: usize,
    wait: Duration,
) -> Result<Vec<Leased>, StoreError> {
    if max == 0 {
        return Ok(Vec::new());
    }
    let broker = q.broker();
    let name = broker.names.topic(topic).to_owned();
    let queues = broker.queues(topic);
    let deadline = Instant::now() + wait;
    // Start at a random queue, so nodes reading at once tend to claim different queues.
    let mut turn = rand::random_range(0..queues.len().max(1));
    loop {
        q.ledger().catch_up(broker).await?;
        requeue_expired(q, topic).await?;
        let mut wanted = max.min(MAX_READ);
        let mut read = Vec::new();
        for index in 0..queues.len() {
            let queue = &queues[(turn + index) % queues.len()];
            let at = QueueRef::of(topic, queue);
            let from = q.ledger().census().claimed(&at);
            let pulled = broker
                .read_queue(&name, queue, from, wanted as i32, 0)
                .await?;
            if !pulled.messages.is_empty() {
                wanted = wanted.saturating_sub(pulled.messages.len());
                read.push((at, from, pulled));
            }
            if wanted == 0 {
                break;
            }
        }
        if read.is_empty() {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Ok(Vec::new());
            }
            let queue = &queues[turn % queues.len()];
            turn += 1;
            let slice = if queues.len() == 1 {
                left
            } else {
                left.min(POLL_SLICE)
            };
            let at = QueueRef::of(topic, queue);
            let from = q.ledger().census().claimed(&at);
            let pulled = broker
                .read_queue(
                    &name,
                    queue,
                    from,
                    max.min(MAX_READ) as i32,
                    slice.as_millis() as u64,
                )
                .await?;
            if pulled.messages.is_empty() {
                continue;
            }
            read.push((at, from, pulled));
        }
        if let Some(leased) = claim(q, topic, read).await?
            && !leased.is_empty()
        {
            return Ok(leased);
        }
        if Instant::now() >= deadline {
            return Ok(Vec::new());
        }
    }
}

/// Claims what was read; `None` when another node claimed part of it first.
async fn claim(
    q: &RocketMqQueue,
    topic: Topic,
    read: Vec<(QueueRef, u64, Pulled)>,
) -> Result<Option<Vec<Leased>>, StoreError> {
    let now = now_ms();
    let mut claims = Vec::with_capacity(read.len());
    let mut handed = Vec::new();
    let mut deferred = Vec::new();
    let mut dropped = Vec::new();
    {
        let census = q.ledger().census();
        for (queue, from, pulled) in read {
            claims.push(Claim {
                queue,
                from,
                to: pulled.next,
            });
            for message in pulled.messages {
                let task = match decode(&body_of(&message)) {
                    Ok(task) => task,
                    Err(e) => {
                        // Not a task (another writer on the topic): claimed over and skipped.
                        tracing::error!(topic = topic.as_str(), offset = message.queue_offset(), error = %e, "skipping a message that is not a task");
                        continue;
                    }
                };
                let key = task.dedup_key();
                if census.is_tombstoned(&key) {
                    dropped.push(key);
                } else if task.not_before() > now {
                    deferred.push(task);
                } else {
                    handed.push((message.queue_offset(), task));
                }
            }
        }
    }
    let held = |task: &TaskEnvelope| HeldTask {
        topic: TopicName(topic),
        task: task.clone(),
    };
    let change = Change::Leased {
        until: now + q.options().lease.as_millis() as i64,
        claims,
        tasks: handed.iter().map(|(_, t)| held(t)).collect(),
        deferred: deferred.iter().map(held).collect(),
        dropped,
    };
    let offset = q.ledger().append(q.broker(), change).await?;
    if q.ledger().census().take_claim_outcome(offset) != Some(true) {
        return Ok(None);
    }
    if !deferred.is_empty() {
        q.store(topic, &deferred).await?;
        let keys = deferred.iter().map(|t| t.dedup_key()).collect();
        q.ledger()
            .append(q.broker(), Change::Requeued { keys })
            .await?;
    }
    let census = q.ledger().census();
    Ok(Some(
        handed
            .into_iter()
            .map(|(offset, task)| {
                let key = task.dedup_key();
                Leased {
                    receipt: receipt(topic, offset, &key),
                    deliveries: census.deliveries(&key).max(1),
                    task,
                }
            })
            .collect(),
    ))
}

/// Puts the tasks of `topic` whose lease (or deferral) ran out back on the broker. One
/// receive of this node does it at a time (the others then find nothing left to do); two
/// nodes doing it at the same moment both put a task back, and it is handed out twice (at
/// least once, never lost).
async fn requeue_expired(q: &RocketMqQueue, topic: Topic) -> Result<(), StoreError> {
    if q.ledger().census().expired(topic, now_ms()).is_empty() {
        return Ok(());
    }
    let _one_at_a_time = q.requeue_lock().lock().await;
    q.ledger().catch_up(q.broker()).await?;
    let expired = q.ledger().census().expired(topic, now_ms());
    if expired.is_empty() {
        return Ok(());
    }
    let (keys, tasks): (Vec<String>, Vec<TaskEnvelope>) = expired.into_iter().unzip();
    q.store(topic, &tasks).await?;
    q.ledger()
        .append(q.broker(), Change::Requeued { keys })
        .await?;
    Ok(())
}
