//! `KafkaQueue`: the handle, its start-up (topics, clients, threads, first assignment) and
//! the `Queue` implementation, which routes each call to the module that owns the mechanism.

use crate::admin::{client_config, end_offsets, ensure_topics};
use crate::codec::kafka_error;
use crate::options::KafkaQueueOptions;
use crate::publish::{send_all, task_record};
use crate::pump::{PumpContext, WorkerConsumer};
use crate::state::Shared;
use crate::views::{Views, spawn_reader};
use crate::{cancel, dead, layout, mover, pump, stats};
use async_trait::async_trait;
use herald_domain::time::now_ms;
use herald_domain::{AppId, DeadLetterId, DeliveryId, TaskEnvelope};
use herald_ports::{DeadLetter, Leased, Queue, QueueCommit, QueueStats, StoreError, Topic};
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::producer::FutureProducer;
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// The queue port on Kafka. Build one per process with [`KafkaQueue::connect`] inside a
/// tokio runtime and share it behind an `Arc`. Dropping it commits what this node finished,
/// leaves the consumer group (its partitions go to the other nodes) and stops its threads.
pub struct KafkaQueue {
    /// Lanes, layout and signals, shared with the consumer thread and the mover.
    shared: Arc<Shared>,
    /// Cancels, dead letters and acks as every node sees them.
    views: Arc<Views>,
    /// Every write: tasks, moves, dead letters, tombstones (acks come from the pump).
    producer: FutureProducer,
    /// The group member; `None` only while dropping, so the pump thread closes it.
    workers: Option<Arc<WorkerConsumer>>,
    /// Reads the view topics; also answers end-offset queries.
    pub(crate) view_consumer: Arc<BaseConsumer>,
    /// Partition count of every topic of the queue, as the cluster has it.
    partitions: HashMap<String, i32>,
    /// The consumer thread (module `pump`), joined on drop.
    pump: Option<JoinHandle<()>>,
    /// The view reader thread, joined on drop.
    reader: Option<JoinHandle<()>>,
    /// Stops the view reader.
    views_closing: Arc<AtomicBool>,
    /// The mover task, aborted on drop.
    mover: tokio::task::JoinHandle<()>,
}

/// Stops the view reader if `connect` fails before the queue (whose drop stops it) exists.
struct StopReaderOnError(Option<Arc<AtomicBool>>);

impl Drop for StopReaderOnError {
    fn drop(&mut self) {
        if let Some(closing) = self.0.take() {
            closing.store(true, Ordering::Release);
        }
    }
}

impl KafkaQueue {
    /// Connects to the cluster at `bootstrap` (e.g. `127.0.0.1:9092`), creates the queue's
    /// topics if missing, joins the workers' group and returns once this node has its first
    /// partition assignment and has read the cancel and dead-letter topics (boxed: see
    /// [`BoxFuture`](herald_ports::BoxFuture)).
    pub fn connect(
        bootstrap: &str,
        options: KafkaQueueOptions,
    ) -> herald_ports::BoxFuture<'_, Result<Self, StoreError>> {
        Box::pin(Self::join(bootstrap, options))
    }

    async fn join(bootstrap: &str, options: KafkaQueueOptions) -> Result<Self, StoreError> {
        options.validate()?;
        let shared = Arc::new(Shared::new(options.clone()));
        let partitions = ensure_topics(bootstrap, &shared.layout, &options).await?;
        let mut producer_config = client_config(bootstrap, &options);
        if options.single_record_batches {
            producer_config.set("batch.num.messages", "1");
        }
        let producer: FutureProducer = producer_config
            .set("acks", "all")
            .set("linger.ms", "2")
            .set(
                "message.timeout.ms",
                (options.request_timeout.as_millis().max(5_000)).to_string(),
            )
            .create()
            .map_err(kafka_error("creating the Kafka producer"))?;

        let views = Arc::new(Views::new(shared.layout.canceled(), shared.layout.acks()));
        let view_consumer: Arc<BaseConsumer> = Arc::new(
            client_config(bootstrap, &options)
                .set("group.id", format!("{}.views", options.prefix))
                .set("enable.auto.commit", "false")
                .set("fetch.wait.max.ms", "20")
                .create()
                .map_err(kafka_error("creating the Kafka view consumer"))?,
        );
        let view_partitions = partition_list(
            &partitions,
            [
                shared.layout.dead(),
                shared.layout.canceled(),
                shared.layout.acks(),
            ]
            .iter()
            .map(String::as_str),
        );
        let views_closing = Arc::new(AtomicBool::new(false));
        let reader = spawn_reader(
            view_consumer.clone(),
            views.clone(),
            &view_partitions,
            views_closing.clone(),
        )?;
        let mut reader_guard = StopReaderOnError(Some(views_closing.clone()));

        // Fold the acks (and cancels, dead letters) before joining the group, so the first
        // assignment already skips tasks finished above the committed offsets.
        let ends = {
            let (consumer, partitions) = (view_consumer.clone(), view_partitions.clone());
            let timeout = options.request_timeout;
            tokio::task::spawn_blocking(move || end_offsets(&*consumer, &partitions, timeout))
                .await
                .map_err(|e| StoreError::backend("reading Kafka end offsets", e))??
        };
        let targets: Vec<_> = ends.into_iter().map(|((t, p), o)| (t, p, o)).collect();
        views.caught_up(&targets, options.request_timeout).await?;

        let session = options.session_timeout.as_millis();
        let workers: Arc<WorkerConsumer> = Arc::new(
            client_config(bootstrap, &options)
                .set("group.id", shared.layout.group())
                .set("enable.auto.commit", "false")
                .set("auto.offset.reset", "earliest")
                .set("fetch.wait.max.ms", "20")
                .set("session.timeout.ms", session.to_string())
                .set("heartbeat.interval.ms", (session / 4).max(100).to_string())
                .create_with_context(PumpContext {
                    shared: shared.clone(),
                    views: views.clone(),
                    producer: producer.clone(),
                })
                .map_err(kafka_error("creating the Kafka workers' consumer"))?,
        );
        let topics = shared.layout.worker_topics();
        let topic_refs: Vec<&str> = topics.iter().map(String::as_str).collect();
        workers
            .subscribe(&topic_refs)
            .map_err(kafka_error("subscribing the Kafka workers' consumer"))?;
        let pump = pump::spawn(workers.clone(), shared.clone())
            .map_err(|e| StoreError::backend("starting the Kafka queue consumer thread", e))?;
        let mover = tokio::spawn(mover::run(shared.clone(), views.clone(), producer.clone()));

        reader_guard.0 = None;
        let queue = Self {
            shared,
            views,
            producer,
            workers: Some(workers),
            view_consumer,
            partitions,
            pump: Some(pump),
            reader: Some(reader),
            views_closing,
            mover,
        };
        queue.first_assignment().await?;
        queue.catch_up_views().await?;
        Ok(queue)
    }

    pub fn options(&self) -> &KafkaQueueOptions {
        &self.shared.options
    }

    pub(crate) fn shared(&self) -> &Arc<Shared> {
        &self.shared
    }

    pub(crate) fn views(&self) -> &Views {
        &self.views
    }

    pub(crate) fn producer(&self) -> &FutureProducer {
        &self.producer
    }

    pub(crate) fn workers(&self) -> &Arc<WorkerConsumer> {
        self.workers
            .as_ref()
            .expect("the workers' consumer lives as long as the queue")
    }

    /// (topic, partition) of every partition of the named topics.
    pub(crate) fn partitions_of<'a>(
        &self,
        topics: impl IntoIterator<Item = &'a str>,
    ) -> Vec<(String, i32)> {
        partition_list(&self.partitions, topics)
    }

    /// Stores tasks on `topic` (due, or on the delay level that fits) and returns once the
    /// broker acknowledged every one.
    pub(crate) async fn publish_tasks(
        &self,
        topic: Topic,
        tasks: &[TaskEnvelope],
    ) -> Result<(), StoreError> {
        if tasks.is_empty() {
            return Ok(());
        }
        let now = now_ms();
        let records = tasks
            .iter()
            .map(|task| task_record(&self.shared.layout, topic, task, now))
            .collect::<Result<Vec<_>, _>>()?;
        send_all(&self.producer, &self.shared.produced, &records)
            .await
            .map(|_| ())
    }
}

fn partition_list<'a>(
    partitions: &HashMap<String, i32>,
    topics: impl IntoIterator<Item = &'a str>,
) -> Vec<(String, i32)> {
    topics
        .into_iter()
        .flat_map(|t| (0..partitions.get(t).copied().unwrap_or(0)).map(move |p| (t.to_owned(), p)))
        .collect()
}

impl Drop for KafkaQueue {
    fn drop(&mut self) {
        self.shared.closing.store(true, Ordering::Release);
        self.views_closing.store(true, Ordering::Release);
        self.shared.waiting.notify_one();
        self.mover.abort();
        // The consumer thread commits what finished and closes the consumer (leaving the
        // group) when it drops the last handle.
        drop(self.workers.take());
        for thread in [self.pump.take(), self.reader.take()].into_iter().flatten() {
            if thread.join().is_err() {
                tracing::error!("a Kafka queue thread panicked");
            }
        }
    }
}

#[async_trait]
impl Queue for KafkaQueue {
    async fn publish(&self, topic: Topic, tasks: Vec<TaskEnvelope>) -> Result<(), StoreError> {
        self.publish_tasks(topic, &tasks).await
    }

    async fn receive(
        &self,
        topic: Topic,
        max: usize,
        wait: Duration,
    ) -> Result<Vec<Leased>, StoreError> {
        let deadline = Instant::now() + wait;
        let lease = self.shared.options.lease.as_millis() as i64;
        loop {
            let notified = self.shared.ready.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            let now = now_ms();
            let (got, wake) = {
                let mut lanes = self.shared.lanes.lock();
                let lane = lanes.due_mut(topic);
                let got = lane.take(now, max, lease, |t| self.views.is_canceled(t));
                (got, lane.next_wake())
            };
            self.shared.want_commit();
            if !got.is_empty() || max == 0 || Instant::now() >= deadline {
                return Ok(got);
            }
            let until = wake
                .map(|at| Instant::now() + Duration::from_millis((at - now_ms()).max(0) as u64))
                .map_or(deadline, |at| at.min(deadline));
            let _ = tokio::time::timeout_at(until.into(), notified).await;
        }
    }

    /// Publishes follow-ups, then dead-letters, then finishes the acked tasks (their offsets
    /// are committed by the consumer thread shortly after). Kafka has no transaction across
    /// these here; in this order a crash re-runs the task instead of losing its follow-ups.
    async fn commit(&self, commit: QueueCommit) -> Result<(), StoreError> {
        for topic in Topic::ALL {
            let tasks: Vec<TaskEnvelope> = commit
                .publish
                .iter()
                .filter(|(t, _)| *t == topic)
                .map(|(_, task)| task.clone())
                .collect();
            self.publish_tasks(topic, &tasks).await?;
        }
        dead::bury(self, &commit.dead).await?;
        let receipts = commit
            .ack
            .iter()
            .chain(commit.dead.iter().map(|(r, _, _)| r));
        let parsed = receipts
            .map(|r| layout::parse_receipt(r).map(|(p, o)| (r.topic, p, o)))
            .collect::<Result<Vec<_>, _>>()?;
        {
            let mut lanes = self.shared.lanes.lock();
            for (topic, partition, offset) in parsed {
                lanes.due_mut(topic).ack(partition, offset);
            }
        }
        self.shared.want_commit();
        Ok(())
    }

    async fn cancel(&self, app: &AppId, deliveries: &[DeliveryId]) -> Result<u64, StoreError> {
        cancel::cancel(self, app, deliveries).await
    }

    async fn list_dead(
        &self,
        app: &AppId,
        after: Option<&DeadLetterId>,
        limit: usize,
    ) -> Result<Vec<DeadLetter>, StoreError> {
        dead::list(self, app, after, limit).await
    }

    async fn replay_dead(
        &self,
        app: &AppId,
        ids: &[DeadLetterId],
    ) -> Result<Vec<TaskEnvelope>, StoreError> {
        dead::replay(self, app, ids).await
    }

    async fn stats(&self) -> Result<QueueStats, StoreError> {
        stats::stats(self).await
    }
}
