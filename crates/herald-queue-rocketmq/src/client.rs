//! Small pieces of the RocketMQ client shared by the broker connection: the process-wide
//! runtime the client runs on, starting client instances, creating topics, reading send
//! results and wrapping client errors.

use herald_ports::StoreError;
use rocketmq_client_rust::{ClientConfig, ClientInstanceHandle, ClientRuntime, DefaultMQProducer};
use rocketmq_model::common::topic::TopicValidator;
use rocketmq_model::result::SendStatus;
use rocketmq_runtime::{RuntimeConfig, RuntimeOwner};
use std::collections::HashMap;
use std::sync::{Arc, OnceLock};

/// The process-wide runtime the RocketMQ client runs its connections and timers on (it never
/// borrows the caller's runtime, so a queue outlives whichever runtime created it).
pub(crate) fn runtime_owner() -> Result<&'static RuntimeOwner, StoreError> {
    static OWNER: OnceLock<Result<RuntimeOwner, String>> = OnceLock::new();
    OWNER
        .get_or_init(|| {
            let config = RuntimeConfig {
                thread_name: "herald-rocketmq".to_owned(),
                worker_threads: 2,
                ..RuntimeConfig::default()
            };
            RuntimeOwner::plan(config)
                .map_err(|e| e.to_string())?
                .build()
                .map_err(|e| e.to_string())
        })
        .as_ref()
        .map_err(|e| StoreError::Unavailable(format!("starting the RocketMQ client runtime: {e}")))
}

/// Wraps a client error with what the queue was doing. The client's `Display` is only a
/// generic line ("Broker operation failed"); the broker's code and remark are in the error's
/// sources, without which a refused send cannot be told apart from a full disk.
pub(crate) fn client_error<E>(context: &'static str) -> impl FnOnce(E) -> StoreError
where
    E: std::error::Error,
{
    move |e| {
        StoreError::Unavailable(format!(
            "{context}: {}",
            herald_ports::error::error_chain(&e)
        ))
    }
}

/// A started client instance of its own (own connections, own request gate).
pub(crate) async fn start_instance(
    runtime: &Arc<ClientRuntime>,
    config: &ClientConfig,
) -> Result<ClientInstanceHandle, StoreError> {
    let domain = rand::random::<u64>();
    let client = ClientInstanceHandle::get_or_create(runtime, domain, config.clone(), None)
        .map_err(client_error("creating a RocketMQ client instance"))?;
    client
        .start()
        .await
        .map_err(client_error("starting a RocketMQ client instance"))?;
    Ok(client)
}

pub(crate) async fn create_topic(
    producer: &mut DefaultMQProducer,
    topic: &str,
    queues: u32,
) -> Result<(), StoreError> {
    producer
        .create_topic(
            TopicValidator::AUTO_CREATE_TOPIC_KEY_TOPIC,
            topic,
            queues as i32,
            HashMap::new(),
        )
        .await
        .map_err(|e| {
            StoreError::Unavailable(format!(
                "creating RocketMQ topic {topic}: {}",
                herald_ports::error::error_chain(&e)
            ))
        })
}

pub(crate) fn stored(status: Option<SendStatus>, topic: &str) -> Result<(), StoreError> {
    match status {
        Some(SendStatus::SendOk) => Ok(()),
        other => Err(StoreError::Unavailable(format!(
            "RocketMQ did not confirm storing on {topic}: {other:?}"
        ))),
    }
}
