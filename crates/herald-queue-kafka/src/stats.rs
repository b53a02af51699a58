//! Depths. A logical topic's depth is the number of its tasks stored and not finished, leased
//! or not, summed over its due topic and its delay-level topics. Per partition:
//! - owned by this node: end offset − commit position − tasks finished above it (this node's
//!   window: fresher than any committed offset);
//! - owned by another node: end offset − committed offset − finished offsets the acks topic
//!   remembers (as fresh as that node's last commit, at most a few hundred ms behind).
//!
//! Canceled tasks not yet reached by any consumer are still counted (their tombstone drops
//! them when they come up). `leased` counts this node's leases; `dead` the folded dead topic.

use crate::layout::{DELAYED_TOPICS, Route};
use crate::queue::KafkaQueue;
use crate::state::topic_index;
use herald_ports::{QueueStats, StoreError, Topic};
use rdkafka::consumer::{BaseConsumer, Consumer, ConsumerContext};
use rdkafka::{Offset, TopicPartitionList};

pub(crate) async fn stats(queue: &KafkaQueue) -> Result<QueueStats, StoreError> {
    let shared = queue.shared().clone();
    let mut topics: Vec<(String, Topic)> = Topic::ALL
        .iter()
        .map(|t| (shared.layout.due(*t), *t))
        .collect();
    for topic in DELAYED_TOPICS {
        for level in 0..shared.layout.levels() {
            topics.push((shared.layout.wait(topic, level), topic));
        }
    }
    let partitions = queue.partitions_of(topics.iter().map(|(name, _)| name.as_str()));
    let consumer = queue.workers();
    let timeout = shared.options.request_timeout;
    let ends = queue.end_offsets(partitions.clone()).await?;

    let mut depths = [0u64; 3];
    let mut elsewhere = Vec::new();
    let leased;
    {
        let mut lanes = shared.lanes.lock();
        for (name, partition) in &partitions {
            let end = ends[&(name.clone(), *partition)];
            let Some(route) = shared.layout.route(name) else {
                continue;
            };
            let topic = match route {
                Route::Due(t) | Route::Wait(t, _) => t,
            };
            let levels = shared.layout.levels();
            let depth = lanes.with_window(route, *partition, levels, |w| w.map(|w| w.depth(end)));
            match depth {
                Some(depth) => depths[topic_index(topic)] += depth,
                None => elsewhere.push(Elsewhere {
                    name: name.clone(),
                    partition: *partition,
                    end,
                    topic,
                    base: 0,
                }),
            }
        }
        leased = Topic::ALL.iter().map(|t| lanes.due(*t).leased()).sum();
    }
    if !elsewhere.is_empty() {
        let consumer = consumer.clone();
        let bases =
            tokio::task::spawn_blocking(move || committed_bases(&*consumer, elsewhere, timeout))
                .await
                .map_err(|e| StoreError::backend("reading Kafka queue depths", e))??;
        for Elsewhere {
            name,
            partition,
            end,
            topic,
            base,
        } in bases
        {
            let finished = queue.views().finished_from(&name, partition, base);
            let finished = finished.range(..end).count() as u64;
            depths[topic_index(topic)] += ((end - base).max(0) as u64).saturating_sub(finished);
        }
    }
    queue.catch_up_views().await?;
    Ok(QueueStats {
        send: depths[0],
        retry: depths[1],
        result: depths[2],
        leased,
        dead: queue.views().dead_count(),
    })
}

/// A partition another node owns, and what its depth is computed from.
struct Elsewhere {
    name: String,
    partition: i32,
    end: i64,
    topic: Topic,
    /// The group's committed offset (the low watermark where nothing is committed yet).
    base: i64,
}

/// Fills in `base` of each partition other nodes own.
fn committed_bases<X: ConsumerContext>(
    consumer: &BaseConsumer<X>,
    mut partitions: Vec<Elsewhere>,
    timeout: std::time::Duration,
) -> Result<Vec<Elsewhere>, StoreError> {
    let mut tpl = TopicPartitionList::new();
    for p in &partitions {
        tpl.add_partition(&p.name, p.partition);
    }
    let committed = consumer
        .committed_offsets(tpl, timeout)
        .map_err(crate::codec::kafka_error("reading Kafka committed offsets"))?;
    for p in &mut partitions {
        let offset = committed
            .find_partition(&p.name, p.partition)
            .map(|elem| elem.offset());
        p.base = match offset {
            Some(Offset::Offset(base)) => base,
            _ => {
                consumer
                    .fetch_watermarks(&p.name, p.partition, timeout)
                    .map_err(crate::codec::kafka_error("reading Kafka watermarks"))?
                    .0
            }
        };
    }
    Ok(partitions)
}
