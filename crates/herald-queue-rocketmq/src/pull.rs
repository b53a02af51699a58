//! Reading a queue by offset: one pull request, with its own subscription (no consumer
//! registration on the broker) and optionally held by the broker until a message arrives.

use crate::broker::client_error;
use crate::options::Names;
use cheetah_string::CheetahString;
use herald_ports::StoreError;
use rocketmq_client_rust::ClientInstanceHandle;
use rocketmq_model::common::message::message_ext::MessageExt;
use rocketmq_model::result::PullStatus;
use rocketmq_protocol::protocol::header::pull_message_request_header::PullMessageRequestHeader;

/// Pull's "the request carries its own subscription" flag (no consumer registration needed).
const PULL_FLAG_SUBSCRIPTION: i32 = 0x4;
/// Pull's "hold the request until a message arrives or the suspend time is over" flag.
const PULL_FLAG_SUSPEND: i32 = 0x2;

/// One queue of a topic: the broker's name and address and the queue id.
#[derive(Debug, Clone)]
pub(crate) struct QueueAddr {
    pub broker: CheetahString,
    pub addr: CheetahString,
    pub queue: i32,
}

/// What a pull found: messages with their offsets, the offset to read next, and the
/// queue's end (the offset the next stored message will get).
pub(crate) struct Pulled {
    pub messages: Vec<MessageExt>,
    pub next: u64,
    pub end: u64,
}

/// One pull of `queue` from `offset` (messages in offset order), long-polled for `suspend`
/// ms when non-zero. An offset the broker no longer keeps moves to the oldest one kept.
#[allow(clippy::too_many_arguments)]
pub(crate) async fn pull(
    client: &ClientInstanceHandle,
    names: &Names,
    topic: &str,
    queue: &QueueAddr,
    offset: u64,
    max: i32,
    suspend: u64,
    timeout_ms: u64,
) -> Result<Pulled, StoreError> {
    let mut sys_flag = PULL_FLAG_SUBSCRIPTION;
    if suspend > 0 {
        sys_flag |= PULL_FLAG_SUSPEND;
    }
    let header = PullMessageRequestHeader {
        consumer_group: names.workers.as_str().into(),
        topic: topic.into(),
        queue_id: queue.queue,
        queue_offset: offset as i64,
        max_msg_nums: max,
        sys_flag,
        commit_offset: 0,
        suspend_timeout_millis: suspend,
        sub_version: 0,
        subscription: Some("*".into()),
        expression_type: Some("TAG".into()),
        ..Default::default()
    };
    let outcome = client
        .pull_outcome_from_broker(queue.addr.as_str(), header, timeout_ms + suspend)
        .await
        .map_err(client_error("reading from RocketMQ"))?;
    let next_begin = outcome.next_begin_offset();
    let end = outcome.max_offset();
    let messages = match outcome.pull_status() {
        PullStatus::Found => outcome.into_messages().unwrap_or_default(),
        _ => Vec::new(),
    };
    let next = messages
        .last()
        .map(|m| m.queue_offset() as u64 + 1)
        .unwrap_or(next_begin)
        .max(offset);
    Ok(Pulled {
        messages,
        next,
        end,
    })
}

pub(crate) fn body_of(message: &MessageExt) -> Vec<u8> {
    message.body().map(|b| b.to_vec()).unwrap_or_default()
}
