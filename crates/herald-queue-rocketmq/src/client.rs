//! Small pieces of the RocketMQ client shared by the broker connection: the process-wide
//! runtime the client runs on, starting client instances, creating topics, reading send
//! results and wrapping client errors.

use herald_ports::StoreError;
use rocketmq_client_rust::{
    ClientConfig, ClientError, ClientInstanceHandle, ClientRuntime, DefaultMQProducer,
};
use rocketmq_model::common::topic::TopicValidator;
use rocketmq_model::result::SendStatus;
use rocketmq_protocol::code::response_code::ResponseCode;
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
/// generic line ("Broker operation failed") and it drops the broker's remark; the broker's
/// response code and address are kept, and without the code a refused send (busy, disk full,
/// no permission) cannot be told apart.
pub(crate) fn client_error<E>(context: &'static str) -> impl FnOnce(E) -> StoreError
where
    E: std::error::Error + 'static,
{
    move |e| StoreError::Unavailable(format!("{context}: {}", describe(&e)))
}

/// An error's chain of sources, then, for a client error the broker answered, the broker's
/// response code (by name) and address.
pub(crate) fn describe(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = herald_ports::error::error_chain(error);
    let client = error.downcast_ref::<ClientError>();
    if let Some((error, code)) = client.and_then(|e| Some((e, e.broker_response_code()?))) {
        text.push_str(&format!(
            " (broker response code {code}, {:?}",
            ResponseCode::from(code)
        ));
        if let Some(address) = error.broker_addr() {
            text.push_str(&format!(", broker {address}"));
        }
        text.push(')');
    }
    text
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
            StoreError::Unavailable(format!("creating RocketMQ topic {topic}: {}", describe(&e)))
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_refused_send_names_the_brokers_response_code() {
        let refused = ClientError::broker_operation_failed_at(
            "send message",
            14,
            "service not available now, maybe disk full",
            Some("127.0.0.1:10911"),
        );
        let StoreError::Unavailable(text) = client_error("sending to RocketMQ")(refused) else {
            panic!("a client error is Unavailable");
        };
        assert!(text.starts_with("sending to RocketMQ: "), "{text}");
        assert!(
            text.contains("(broker response code 14, ServiceNotAvailable, broker 127.0.0.1:10911)"),
            "{text}"
        );
    }

    #[test]
    fn other_errors_keep_their_chain_only() {
        let io = std::io::Error::other("connection reset");
        let StoreError::Unavailable(text) = client_error("reading from RocketMQ")(io) else {
            panic!("a client error is Unavailable");
        };
        assert_eq!(text, "reading from RocketMQ: connection reset");
    }
}
