//! Handing tasks out under a lease (pull fetches on a topic's `workers` consumer) and
//! completing leases (acks to the message's reply subject).
//!
//! `receive(max, wait)` is one pull request: batch `max`, `no_wait`, expiring after `wait`
//! (at least 1 ms). On nats-server 2.9 that means: hand out what is ready now and end; if
//! nothing is, wait up to `wait` for the first task, hand out what is ready then, and end.
//! The request never stays open after we return, so no task is delivered into a
//! subscription nobody reads (except when the caller drops a waiting `receive`: a task that
//! arrives then stays leased to no one until its lease ends). When the workers' consumer is
//! at `max_leased`, the request waits out its expiry even though nothing can come but
//! redeliveries; a task redelivered into the same batch is returned once. The expiry is always set:
//! a bare `no_wait` request can stay parked forever on 2.9 once a message was deleted
//! from the stream (the consumer's pending count goes stale).
//!
//! A receipt is the message's stream sequence plus its reply subject; an ack is a request on
//! that subject, so `commit` returns after the server removed the task. JetStream acks by
//! stream sequence: a stale receipt (lease expired, task handed out again) still acks the
//! task, which is harmless for a task whose outcome is being recorded.

use crate::codec::{decode, nats_error};
use async_nats::jetstream::AckKind;
use async_nats::jetstream::consumer::PullConsumer;
use async_nats::jetstream::message::Message;
use bytes::Bytes;
use futures::{StreamExt, TryStreamExt};
use herald_ports::{Leased, Receipt, StoreError, Topic};
use std::time::Duration;

/// Acks in flight at once during a commit.
const ACKS_IN_FLIGHT: usize = 512;
/// Shortest pull expiry sent (a `receive` with no wait still lets the server answer).
const MIN_EXPIRY: Duration = Duration::from_millis(1);

pub(crate) async fn receive(
    consumer: &PullConsumer,
    topic: Topic,
    max: usize,
    wait: Duration,
) -> Result<Vec<Leased>, StoreError> {
    if max == 0 {
        return Ok(Vec::new());
    }
    let messages: Vec<Message> = consumer
        .fetch()
        .max_messages(max)
        .expires(wait.max(MIN_EXPIRY))
        .messages()
        .await
        .map_err(nats_error("pulling NATS queue tasks"))?
        .try_collect()
        .await
        .map_err(|e| StoreError::Backend {
            context: "pulling NATS queue tasks".to_owned(),
            source: e,
        })?;
    let mut leased: Vec<Leased> = Vec::with_capacity(messages.len());
    for message in messages {
        let Some(task) = lease(topic, message).await else {
            continue;
        };
        // A lease that ended while the pull was open brings the task again in the same
        // batch: keep the latest hand-out only.
        match leased
            .iter_mut()
            .find(|l| l.receipt.token == task.receipt.token)
        {
            Some(earlier) => *earlier = task,
            None => leased.push(task),
        }
    }
    Ok(leased)
}

/// Turns a delivered message into a lease; a message that is not a task is terminated
/// (it would fail the same way on every delivery).
async fn lease(topic: Topic, message: Message) -> Option<Leased> {
    let (sequence, deliveries) = match message.info() {
        Ok(info) => (info.stream_sequence, info.delivered),
        Err(e) => {
            tracing::warn!(error = %e, subject = %message.subject, "NATS message without JetStream metadata");
            return None;
        }
    };
    let reply = message.reply.as_ref().map(|r| r.to_string());
    match decode(&message.payload) {
        Ok(task) => Some(Leased {
            receipt: Receipt {
                topic,
                token: sequence,
                handle: reply,
            },
            task,
            deliveries: u32::try_from(deliveries).unwrap_or(u32::MAX),
        }),
        Err(e) => {
            tracing::error!(error = %e, subject = %message.subject, sequence, "terminating an undecodable NATS queue task");
            if let Err(e) = message.ack_with(AckKind::Term).await {
                tracing::warn!(error = %e, "terminating an undecodable NATS task failed");
            }
            None
        }
    }
}

/// Acks every receipt and waits for the server to confirm each one.
pub(crate) async fn ack_all(
    client: &async_nats::Client,
    receipts: impl IntoIterator<Item = &Receipt>,
) -> Result<(), StoreError> {
    let mut subjects = Vec::new();
    for receipt in receipts {
        let Some(handle) = &receipt.handle else {
            return Err(StoreError::InvalidInput(format!(
                "a NATS queue receipt needs its reply subject (stream sequence {})",
                receipt.token
            )));
        };
        subjects.push(handle.clone());
    }
    futures::stream::iter(subjects)
        .map(|subject| async move {
            client
                .request(subject, Bytes::from_static(b"+ACK"))
                .await
                .map(|_| ())
                .map_err(nats_error("acking a NATS queue task"))
        })
        .buffer_unordered(ACKS_IN_FLIGHT)
        .try_collect::<Vec<()>>()
        .await
        .map(|_| ())
}
