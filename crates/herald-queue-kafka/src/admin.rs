//! Talking to the cluster outside the data path: client settings shared by every client,
//! creating the queue's topics (idempotently) and deleting them, and reading partitions' end
//! offsets for depths and catch-up waits.

use crate::codec::kafka_error;
use crate::layout::{Layout, Route};
use crate::options::KafkaQueueOptions;
use herald_ports::StoreError;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer, ConsumerContext};
use rdkafka::types::RDKafkaErrorCode;
use rdkafka::{Offset, TopicPartitionList};
use std::collections::HashMap;
use std::time::{Duration, Instant};

/// Settings every client of the queue starts from.
pub(crate) fn client_config(bootstrap: &str, options: &KafkaQueueOptions) -> ClientConfig {
    let mut config = ClientConfig::new();
    config
        .set("bootstrap.servers", bootstrap)
        .set("client.id", format!("herald-{}", options.prefix));
    for (key, value) in &options.client_config {
        config.set(key, value);
    }
    config
}

/// Every topic of the queue with the partition count it is created with.
fn wanted_topics(layout: &Layout, options: &KafkaQueueOptions) -> Vec<(String, i32, bool)> {
    let mut topics: Vec<(String, i32, bool)> = layout
        .worker_topics()
        .into_iter()
        .map(|name| {
            let partitions = match layout.route(&name) {
                Some(Route::Due(_)) => options.partitions,
                _ => options.wait_partitions,
            };
            (name, partitions, false)
        })
        .collect();
    topics.push((layout.dead(), options.wait_partitions, true));
    topics.push((layout.canceled(), options.wait_partitions, true));
    topics.push((layout.acks(), options.wait_partitions, true));
    topics
}

/// Creates the queue's topics that do not exist yet and waits until the cluster's metadata
/// shows all of them; returns every (topic, partition count) as the cluster has it.
pub(crate) async fn ensure_topics(
    bootstrap: &str,
    layout: &Layout,
    options: &KafkaQueueOptions,
) -> Result<HashMap<String, i32>, StoreError> {
    let admin: AdminClient<DefaultClientContext> = client_config(bootstrap, options)
        .create()
        .map_err(kafka_error("creating a Kafka admin client"))?;
    let wanted = wanted_topics(layout, options);
    let new_topics: Vec<NewTopic<'_>> = wanted
        .iter()
        .map(|(name, partitions, compacted)| {
            let topic = NewTopic::new(
                name,
                *partitions,
                TopicReplication::Fixed(options.replication),
            );
            if *compacted {
                topic.set("cleanup.policy", "compact")
            } else {
                topic
            }
        })
        .collect();
    let admin_options = AdminOptions::new().request_timeout(Some(options.request_timeout));
    let results = admin
        .create_topics(&new_topics, &admin_options)
        .await
        .map_err(kafka_error("creating the Kafka queue topics"))?;
    for result in results {
        match result {
            Ok(_) | Err((_, RDKafkaErrorCode::TopicAlreadyExists)) => {}
            Err((name, code)) => {
                return Err(StoreError::Unavailable(format!(
                    "creating Kafka queue topic {name}: {code}"
                )));
            }
        }
    }
    let deadline = Instant::now() + options.request_timeout;
    loop {
        let metadata = admin
            .inner()
            .fetch_metadata(None, options.request_timeout)
            .map_err(kafka_error("reading Kafka metadata"))?;
        let known: HashMap<String, i32> = metadata
            .topics()
            .iter()
            .filter(|t| t.error().is_none() && !t.partitions().is_empty())
            .map(|t| (t.name().to_owned(), t.partitions().len() as i32))
            .collect();
        let all: Option<HashMap<String, i32>> = wanted
            .iter()
            .map(|(name, _, _)| known.get(name).map(|p| (name.clone(), *p)))
            .collect();
        match all {
            Some(all) => return Ok(all),
            None if Instant::now() >= deadline => {
                return Err(StoreError::Unavailable(
                    "Kafka queue topics did not appear in the cluster metadata".into(),
                ));
            }
            None => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    }
}

/// Deletes every topic of the queue named by `options.prefix` (tests, decommissioning).
/// Missing topics are fine. The consumer group's offsets go with the topics.
pub async fn delete_topics(bootstrap: &str, options: &KafkaQueueOptions) -> Result<(), StoreError> {
    let admin: AdminClient<DefaultClientContext> = client_config(bootstrap, options)
        .create()
        .map_err(kafka_error("creating a Kafka admin client"))?;
    let layout = Layout::new(options);
    let names: Vec<String> = wanted_topics(&layout, options)
        .into_iter()
        .map(|(name, _, _)| name)
        .collect();
    let names: Vec<&str> = names.iter().map(String::as_str).collect();
    let admin_options = AdminOptions::new().request_timeout(Some(options.request_timeout));
    let results = admin
        .delete_topics(&names, &admin_options)
        .await
        .map_err(kafka_error("deleting the Kafka queue topics"))?;
    for result in results {
        match result {
            Ok(_) | Err((_, RDKafkaErrorCode::UnknownTopicOrPartition)) => {}
            Err((name, code)) => {
                return Err(StoreError::Unavailable(format!(
                    "deleting Kafka queue topic {name}: {code}"
                )));
            }
        }
    }
    Ok(())
}

/// End offsets (next offset to be written) of the given partitions, in one request per
/// broker. Blocking: call from `spawn_blocking`.
pub(crate) fn end_offsets<X: ConsumerContext>(
    consumer: &BaseConsumer<X>,
    partitions: &[(String, i32)],
    timeout: Duration,
) -> Result<HashMap<(String, i32), i64>, StoreError> {
    let mut tpl = TopicPartitionList::new();
    for (topic, partition) in partitions {
        tpl.add_partition_offset(topic, *partition, Offset::End)
            .map_err(kafka_error("asking Kafka for end offsets"))?;
    }
    let answered = consumer
        .offsets_for_times(tpl, timeout)
        .map_err(kafka_error("asking Kafka for end offsets"))?;
    let mut ends = HashMap::new();
    for elem in answered.elements() {
        let end = match elem.offset() {
            Offset::Offset(o) => o,
            other => {
                return Err(StoreError::Unavailable(format!(
                    "Kafka answered no end offset for {}/{}: {other:?}",
                    elem.topic(),
                    elem.partition()
                )));
            }
        };
        ends.insert((elem.topic().to_owned(), elem.partition()), end);
    }
    Ok(ends)
}
