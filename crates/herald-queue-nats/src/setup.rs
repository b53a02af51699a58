//! Creates (or brings up to date) the streams and durable consumers of one queue, and
//! deletes them again. Every node runs this at start; it is idempotent, so nodes may race.

use crate::codec::nats_error;
use crate::layout::{DELAYED_TOPICS, Lane, Layout, TIMER, WORKERS};
use crate::options::NatsQueueOptions;
use async_nats::jetstream::ErrorCode;
use async_nats::jetstream::consumer::{AckPolicy, DeliverPolicy, PullConsumer, pull};
use async_nats::jetstream::context::DeleteStreamErrorKind;
use async_nats::jetstream::stream::{self, RetentionPolicy, StorageType};
use async_nats::jetstream::{self, Context};
use herald_ports::{StoreError, Topic};

/// Handles on what `ensure` set up.
pub(crate) struct Handles {
    /// Due streams and their worker consumers, indexed like `Topic::ALL`.
    pub(crate) due: Vec<(stream::Stream, PullConsumer)>,
    /// Waiting streams and their timer consumers, indexed like `DELAYED_TOPICS`.
    pub(crate) waiting: Vec<(stream::Stream, PullConsumer)>,
    pub(crate) dead: stream::Stream,
}

pub(crate) async fn ensure(
    js: &Context,
    layout: &Layout,
    options: &NatsQueueOptions,
) -> Result<Handles, StoreError> {
    let mut due = Vec::new();
    for topic in Topic::ALL {
        let config = work_queue(layout, options, topic, Lane::Due);
        let stream = ensure_stream(js, config).await?;
        let consumer = ensure_consumer(
            &stream,
            pull::Config {
                durable_name: Some(WORKERS.to_owned()),
                description: Some(format!("hands out {} tasks", topic.as_str())),
                ack_policy: AckPolicy::Explicit,
                ack_wait: options.lease,
                max_ack_pending: options.max_leased,
                deliver_policy: DeliverPolicy::All,
                ..Default::default()
            },
        )
        .await?;
        due.push((stream, consumer));
    }
    let mut waiting = Vec::new();
    for topic in DELAYED_TOPICS {
        let config = work_queue(layout, options, topic, Lane::Waiting);
        let stream = ensure_stream(js, config).await?;
        let consumer = ensure_consumer(
            &stream,
            pull::Config {
                durable_name: Some(TIMER.to_owned()),
                description: Some(format!(
                    "moves due {} tasks to the workers' stream",
                    topic.as_str()
                )),
                ack_policy: AckPolicy::Explicit,
                ack_wait: options.timer_hold,
                // Every waiting task sits here, nak'ed until due: no limit, or a backlog of
                // far-future tasks would stop the near ones.
                max_ack_pending: -1,
                deliver_policy: DeliverPolicy::All,
                ..Default::default()
            },
        )
        .await?;
        waiting.push((stream, consumer));
    }
    let dead = ensure_stream(
        js,
        stream::Config {
            name: layout.dead_stream(),
            description: Some("dead letters, kept until replayed".to_owned()),
            subjects: vec![format!("{}.>", layout.dead_root())],
            retention: RetentionPolicy::Limits,
            storage: StorageType::File,
            num_replicas: options.replicas,
            duplicate_window: options.dedup_window,
            max_age: options.dead_max_age,
            ..Default::default()
        },
    )
    .await?;
    Ok(Handles { due, waiting, dead })
}

fn work_queue(
    layout: &Layout,
    options: &NatsQueueOptions,
    topic: Topic,
    lane: Lane,
) -> stream::Config {
    let what = match lane {
        Lane::Due => "due",
        Lane::Waiting => "waiting",
    };
    stream::Config {
        name: layout.stream(topic, lane),
        description: Some(format!("{what} {} tasks", topic.as_str())),
        subjects: vec![format!("{}.>", layout.root(topic, lane))],
        retention: RetentionPolicy::WorkQueue,
        storage: StorageType::File,
        num_replicas: options.replicas,
        duplicate_window: options.dedup_window,
        ..Default::default()
    }
}

async fn ensure_stream(js: &Context, config: stream::Config) -> Result<stream::Stream, StoreError> {
    let name = config.name.clone();
    js.create_or_update_stream(config)
        .await
        .map_err(nats_error("creating a NATS queue stream"))?;
    js.get_stream(&name)
        .await
        .map_err(nats_error("opening a NATS queue stream"))
}

async fn ensure_consumer(
    stream: &stream::Stream,
    config: pull::Config,
) -> Result<PullConsumer, StoreError> {
    stream
        .create_consumer(config)
        .await
        .map_err(nats_error("creating a NATS queue consumer"))
}

/// Deletes every stream (and so every consumer and task) of the queue under `prefix`;
/// returns how many existed. For tests and for tearing a deployment down.
pub async fn delete_streams(
    client: &async_nats::Client,
    prefix: &str,
) -> Result<usize, StoreError> {
    crate::NatsQueueOptions {
        prefix: prefix.to_owned(),
        ..Default::default()
    }
    .validate()?;
    let js = jetstream::new(client.clone());
    let mut deleted = 0;
    for name in Layout::new(prefix).all_streams() {
        match js.delete_stream(&name).await {
            Ok(_) => deleted += 1,
            Err(e) => match e.kind() {
                DeleteStreamErrorKind::JetStream(err)
                    if err.error_code() == ErrorCode::STREAM_NOT_FOUND => {}
                _ => return Err(StoreError::backend("deleting a NATS queue stream", e)),
            },
        }
    }
    Ok(deleted)
}
