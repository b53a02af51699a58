//! `RocketMqQueue`: the handle, its start-up (topics, routes, census) and the `Queue`
//! implementation, which routes each call to the module that owns the mechanism.

use crate::broker::Broker;
use crate::census::{Change, DeadRecord, TaskRef};
use crate::codec::{encode, parse_receipt};
use crate::handout;
use crate::ledger::Ledger;
use crate::levels::DelayHop;
use crate::options::RocketMqQueueOptions;
use async_trait::async_trait;
use futures::future::{BoxFuture, try_join_all};
use herald_domain::time::now_ms;
use herald_domain::{AppId, DeadLetterId, DeliveryId, TaskEnvelope};
use herald_ports::{DeadLetter, Leased, Queue, QueueCommit, QueueStats, StoreError, Topic};
use std::time::Duration;

/// Due tasks per send request. Tasks are small (≈ 1 KiB), far below the broker's 4 MiB
/// message limit for a batch.
const SEND_BATCH: usize = 64;

/// The queue port on RocketMQ. Build one per process with [`RocketMqQueue::connect`] and
/// share it behind an `Arc`; call [`RocketMqQueue::shutdown`] to close its connections.
/// The topics and their messages stay on the broker.
pub struct RocketMqQueue {
    broker: Broker,
    ledger: Ledger,
    options: RocketMqQueueOptions,
    /// Serializes this node's putting back of expired leases, so two of its receives never
    /// send the same task back twice.
    requeue: tokio::sync::Mutex<()>,
}

impl RocketMqQueue {
    /// Connects to the name server, creates the topics if asked to, and folds the ledger.
    /// Must be called inside a tokio runtime.
    ///
    /// The future is boxed: proving the RocketMQ client's deeply nested futures `Send` takes
    /// a raised `recursion_limit`, which this crate has and its callers need not.
    pub fn connect(options: RocketMqQueueOptions) -> BoxFuture<'static, Result<Self, StoreError>> {
        Box::pin(async move {
            options.validate()?;
            let node = format!("{:016x}", rand::random::<u64>());
            let broker = Broker::connect(&options, &node).await?;
            let ledger = Ledger::open(&broker, node, options.snapshot_every).await?;
            Ok(Self {
                broker,
                ledger,
                options,
                requeue: tokio::sync::Mutex::new(()),
            })
        })
    }

    pub fn options(&self) -> &RocketMqQueueOptions {
        &self.options
    }

    /// The ledger offset this node started folding at, when it started from a census
    /// snapshot (`None`: it folded the whole ledger).
    pub fn started_from_snapshot(&self) -> Option<u64> {
        self.ledger.restored_at()
    }

    pub(crate) fn broker(&self) -> &Broker {
        &self.broker
    }

    pub(crate) fn ledger(&self) -> &Ledger {
        &self.ledger
    }

    pub(crate) fn requeue_lock(&self) -> &tokio::sync::Mutex<()> {
        &self.requeue
    }

    /// Closes the producer and client instances. Tasks leased through this queue and not
    /// acked come back after their lease, as after a crash.
    pub fn shutdown(mut self) -> BoxFuture<'static, ()> {
        Box::pin(async move { self.broker.shutdown().await })
    }

    /// Stores tasks on `topic` and returns once the broker stored all: due tasks in batches
    /// (one request per [`SEND_BATCH`] tasks), each delayed task alone with the level that
    /// covers its `not_before` (rounded up, the last level when none does).
    pub(crate) async fn store(
        &self,
        topic: Topic,
        tasks: &[TaskEnvelope],
    ) -> Result<(), StoreError> {
        let name = self.broker.names.topic(topic);
        let now = now_ms();
        let mut due = Vec::new();
        let mut delayed = Vec::new();
        for task in tasks {
            match DelayHop::for_remaining(task.not_before() - now) {
                None => due.push((task.dedup_key(), encode(task)?)),
                Some(hop) => delayed.push((task, hop.level)),
            }
        }
        let mut batches = Vec::new();
        while !due.is_empty() {
            let rest = due.split_off(due.len().min(SEND_BATCH));
            batches.push(std::mem::replace(&mut due, rest));
        }
        let batches = try_join_all(
            batches
                .into_iter()
                .map(|batch| self.broker.send_batch(name, batch)),
        );
        let delayed = try_join_all(delayed.into_iter().map(|(task, level)| async move {
            self.broker
                .send(name, &task.dedup_key(), encode(task)?, Some(level))
                .await
        }));
        futures::try_join!(batches, delayed)?;
        Ok(())
    }
}

#[async_trait]
impl Queue for RocketMqQueue {
    async fn publish(&self, topic: Topic, tasks: Vec<TaskEnvelope>) -> Result<(), StoreError> {
        if tasks.is_empty() {
            return Ok(());
        }
        self.store(topic, &tasks).await?;
        let tasks = tasks.iter().map(|t| TaskRef::of(topic, t)).collect();
        self.ledger
            .append(&self.broker, Change::Published { tasks })
            .await?;
        Ok(())
    }

    async fn receive(
        &self,
        topic: Topic,
        max: usize,
        wait: Duration,
    ) -> Result<Vec<Leased>, StoreError> {
        handout::receive(self, topic, max, wait).await
    }

    /// Publishes the follow-ups, then records acks, follow-ups and dead letters in one ledger
    /// entry, so depths change together. The broker needs no ack: leases live in the
    /// ledger. A crash between the two steps hands the task out again after its lease:
    /// duplicates, never losses. A stale receipt settles nothing twice.
    async fn commit(&self, commit: QueueCommit) -> Result<(), StoreError> {
        if commit.is_empty() {
            return Ok(());
        }
        for topic in Topic::ALL {
            let tasks: Vec<TaskEnvelope> = commit
                .publish
                .iter()
                .filter(|(t, _)| *t == topic)
                .map(|(_, task)| task.clone())
                .collect();
            self.store(topic, &tasks).await?;
        }
        let mut settled = Vec::with_capacity(commit.ack.len());
        for receipt in &commit.ack {
            settled.push(parse_receipt(receipt)?.to_owned());
        }
        let died_at = now_ms();
        let dead = commit
            .dead
            .iter()
            .map(|(_, task, reason)| DeadRecord {
                id: DeadLetterId::generate(),
                key: task.dedup_key(),
                reason: reason.clone(),
                died_at,
                task: task.clone(),
            })
            .collect();
        let published = commit
            .publish
            .iter()
            .map(|(topic, task)| TaskRef::of(*topic, task))
            .collect();
        let change = Change::Committed {
            settled,
            published,
            dead,
        };
        self.ledger.append(&self.broker, change).await?;
        Ok(())
    }

    async fn cancel(&self, app: &AppId, deliveries: &[DeliveryId]) -> Result<u64, StoreError> {
        if deliveries.is_empty() {
            return Ok(0);
        }
        let change = Change::Canceled {
            app: app.clone(),
            deliveries: deliveries.to_vec(),
        };
        let offset = self.ledger.append(&self.broker, change).await?;
        Ok(self
            .ledger
            .census()
            .take_cancel_outcome(offset)
            .unwrap_or(0))
    }

    async fn list_dead(
        &self,
        app: &AppId,
        after: Option<&DeadLetterId>,
        limit: usize,
    ) -> Result<Vec<DeadLetter>, StoreError> {
        self.ledger.catch_up(&self.broker).await?;
        Ok(self.ledger.census().dead_of(app, after, limit))
    }

    /// Publishes the tasks again (delivery tasks on send with `attempt + 1`, due now; result
    /// events on result), then records the replay. Two nodes replaying the same dead letter
    /// at once both publish it: the delivery runs twice (at-least-once).
    async fn replay_dead(
        &self,
        app: &AppId,
        ids: &[DeadLetterId],
    ) -> Result<Vec<TaskEnvelope>, StoreError> {
        self.ledger.catch_up(&self.broker).await?;
        let letters = self.ledger.census().dead_by_ids(app, ids);
        if letters.is_empty() {
            return Ok(Vec::new());
        }
        let now = now_ms();
        let mut replayed = Vec::with_capacity(letters.len());
        let mut published = Vec::with_capacity(letters.len());
        for letter in &letters {
            let mut task = letter.task.clone();
            let topic = match &mut task {
                TaskEnvelope::DeliveryV1(t) => {
                    t.attempt += 1;
                    t.not_before = now;
                    Topic::Send
                }
                TaskEnvelope::ResultV1(_) => Topic::Result,
            };
            self.store(topic, std::slice::from_ref(&task)).await?;
            published.push(TaskRef::of(topic, &task));
            replayed.push(task);
        }
        let change = Change::Replayed {
            app: app.clone(),
            ids: letters.into_iter().map(|l| l.id).collect(),
            published,
        };
        self.ledger.append(&self.broker, change).await?;
        Ok(replayed)
    }

    /// Depths from the census: tasks stored per topic (leased, waiting on a delay level or
    /// due), leases not yet run out, dead letters.
    async fn stats(&self) -> Result<QueueStats, StoreError> {
        self.ledger.catch_up(&self.broker).await?;
        let depths = self.ledger.census().depths(now_ms());
        Ok(QueueStats {
            send: depths.send,
            retry: depths.retry,
            result: depths.result,
            leased: depths.leased,
            dead: depths.dead,
        })
    }
}
