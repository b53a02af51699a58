//! `NatsQueue`: the handle, its start-up (streams, consumers, timers) and the `Queue`
//! implementation, which routes each call to the module that owns the mechanism.

use crate::cancel::{CancelLanes, cancel};
use crate::codec::{nats_error, task_publish};
use crate::layout::{DELAYED_TOPICS, Lane, Layout};
use crate::options::NatsQueueOptions;
use crate::{dead, handout, setup, timer};
use async_nats::jetstream::consumer::PullConsumer;
use async_nats::jetstream::stream::Stream;
use async_nats::jetstream::{self, Context};
use async_trait::async_trait;
use futures::future::try_join_all;
use herald_domain::time::now_ms;
use herald_domain::{AppId, DeadLetterId, DeliveryId, TaskEnvelope};
use herald_ports::{DeadLetter, Leased, Queue, QueueCommit, QueueStats, StoreError, Topic};
use std::sync::Arc;
use std::time::Duration;
use tokio::task::JoinHandle;

/// The queue port on NATS JetStream. Build one per process with [`NatsQueue::connect`] (or
/// [`NatsQueue::open`] on an existing client); share it behind an `Arc`. Dropping it stops
/// this node's timers; the streams and their tasks stay on the server.
pub struct NatsQueue {
    client: async_nats::Client,
    js: Context,
    layout: Arc<Layout>,
    options: NatsQueueOptions,
    /// Due streams and worker consumers, indexed like `Topic::ALL`.
    due: Vec<(Stream, PullConsumer)>,
    /// Waiting streams, indexed like `DELAYED_TOPICS`.
    waiting: Vec<Stream>,
    dead: Stream,
    timers: Vec<JoinHandle<()>>,
}

impl NatsQueue {
    /// Connects to `url` (e.g. `nats://127.0.0.1:4222`) and opens the queue (boxed: see
    /// [`BoxFuture`](herald_ports::BoxFuture); the NATS client is compiled here).
    pub fn connect(
        url: &str,
        options: NatsQueueOptions,
    ) -> herald_ports::BoxFuture<'_, Result<Self, StoreError>> {
        Box::pin(Self::connect_and_open(url, options))
    }

    async fn connect_and_open(url: &str, options: NatsQueueOptions) -> Result<Self, StoreError> {
        options.validate()?;
        let client = async_nats::ConnectOptions::new()
            .name("herald")
            .connect(url)
            .await
            .map_err(|e| StoreError::Unavailable(format!("connecting to NATS at {url}: {e}")))?;
        Self::open(client, options).await
    }

    /// Creates or updates the queue's streams and consumers, then starts this node's timers.
    /// Must be called inside a tokio runtime, which runs the timers.
    pub async fn open(
        client: async_nats::Client,
        options: NatsQueueOptions,
    ) -> Result<Self, StoreError> {
        options.validate()?;
        let js = jetstream::new(client.clone());
        let layout = Arc::new(Layout::new(&options.prefix));
        let handles = setup::ensure(&js, &layout, &options).await?;
        let mut waiting = Vec::new();
        let mut timers = Vec::new();
        for (stream, consumer) in handles.waiting {
            timers.push(timer::spawn(js.clone(), consumer, layout.clone()));
            waiting.push(stream);
        }
        Ok(Self {
            client,
            js,
            layout,
            options,
            due: handles.due,
            waiting,
            dead: handles.dead,
            timers,
        })
    }

    pub fn options(&self) -> &NatsQueueOptions {
        &self.options
    }

    /// The client this queue talks through (for health checks, or other NATS users).
    pub fn client(&self) -> &async_nats::Client {
        &self.client
    }

    pub(crate) fn layout(&self) -> &Layout {
        &self.layout
    }

    pub(crate) fn dead_stream(&self) -> &Stream {
        &self.dead
    }

    fn workers(&self, topic: Topic) -> &(Stream, PullConsumer) {
        &self.due[topic_index(topic)]
    }

    /// Publishes tasks to `topic`, each to the due or the waiting lane by its `not_before`,
    /// and returns once the server stored (or recognised as duplicate) every one.
    pub(crate) async fn publish_to(
        &self,
        topic: Topic,
        tasks: &[TaskEnvelope],
    ) -> Result<(), StoreError> {
        if tasks.is_empty() {
            return Ok(());
        }
        let now = now_ms();
        let mut pending = Vec::with_capacity(tasks.len());
        for task in tasks {
            let lane = if DELAYED_TOPICS.contains(&topic) && task.not_before() > now {
                Lane::Waiting
            } else {
                Lane::Due
            };
            let subject = self.layout.task_subject(topic, lane, task)?;
            let ack = self
                .js
                .send_publish(subject, task_publish(task)?)
                .await
                .map_err(nats_error("publishing a NATS queue task"))?;
            pending.push(ack);
        }
        for ack in pending {
            ack.await
                .map_err(nats_error("publishing a NATS queue task"))?;
        }
        Ok(())
    }
}

impl Drop for NatsQueue {
    fn drop(&mut self) {
        for timer in &self.timers {
            timer.abort();
        }
    }
}

fn topic_index(topic: Topic) -> usize {
    match topic {
        Topic::Send => 0,
        Topic::Retry => 1,
        Topic::Result => 2,
    }
}

#[async_trait]
impl Queue for NatsQueue {
    async fn publish(&self, topic: Topic, tasks: Vec<TaskEnvelope>) -> Result<(), StoreError> {
        self.publish_to(topic, &tasks).await
    }

    async fn receive(
        &self,
        topic: Topic,
        max: usize,
        wait: Duration,
    ) -> Result<Vec<Leased>, StoreError> {
        handout::receive(&self.workers(topic).1, topic, max, wait).await
    }

    /// Publishes first, then dead-letters, then acks: NATS has no transaction across these,
    /// and in this order a crash re-runs the task (its follow-ups deduplicated by
    /// `Nats-Msg-Id` within the window) instead of losing them.
    async fn commit(&self, commit: QueueCommit) -> Result<(), StoreError> {
        for topic in Topic::ALL {
            let tasks: Vec<TaskEnvelope> = commit
                .publish
                .iter()
                .filter(|(t, _)| *t == topic)
                .map(|(_, task)| task.clone())
                .collect();
            self.publish_to(topic, &tasks).await?;
        }
        dead::bury(&self.js, &self.layout, &commit.dead).await?;
        let receipts = commit
            .ack
            .iter()
            .chain(commit.dead.iter().map(|(r, _, _)| r));
        handout::ack_all(&self.client, receipts).await
    }

    async fn cancel(&self, app: &AppId, deliveries: &[DeliveryId]) -> Result<u64, StoreError> {
        if deliveries.is_empty() {
            return Ok(0);
        }
        let lanes = CancelLanes {
            due: DELAYED_TOPICS
                .iter()
                .map(|t| (*t, &self.workers(*t).0))
                .collect(),
            waiting: DELAYED_TOPICS.iter().copied().zip(&self.waiting).collect(),
        };
        cancel(lanes, &self.layout, app, deliveries).await
    }

    async fn list_dead(
        &self,
        app: &AppId,
        after: Option<&DeadLetterId>,
        limit: usize,
    ) -> Result<Vec<DeadLetter>, StoreError> {
        dead::list(&self.dead, &self.layout, app, after, limit).await
    }

    async fn replay_dead(
        &self,
        app: &AppId,
        ids: &[DeadLetterId],
    ) -> Result<Vec<TaskEnvelope>, StoreError> {
        dead::replay(self, app, ids).await
    }

    /// Depths from stream info (a topic's depth = its due plus its waiting stream), leases
    /// from the worker consumers' pending acks. Not a snapshot: a task being moved by a timer
    /// can be counted in both lanes for a moment.
    async fn stats(&self) -> Result<QueueStats, StoreError> {
        let streams = self
            .due
            .iter()
            .map(|(s, _)| s)
            .chain(&self.waiting)
            .chain(std::iter::once(&self.dead));
        let depths = try_join_all(streams.map(|s| async move {
            s.get_info()
                .await
                .map(|info| info.state.messages)
                .map_err(nats_error("reading NATS queue depths"))
        }));
        let leases = try_join_all(self.due.iter().map(|(s, c)| async move {
            let name = c.cached_info().name.clone();
            s.consumer_info(name)
                .await
                .map(|info| info.num_ack_pending as u64)
                .map_err(nats_error("reading NATS queue leases"))
        }));
        let (depths, leases) = futures::try_join!(depths, leases)?;
        // Order: due send, retry, result; waiting send, retry; dead.
        Ok(QueueStats {
            send: depths[0] + depths[3],
            retry: depths[1] + depths[4],
            result: depths[2],
            leased: leases.iter().sum(),
            dead: depths[5],
        })
    }
}
