//! Cancel: removes queued delivery tasks by deleting their messages by sequence, so storage
//! and depths shrink at once (no tombstones to check on every hand-out).
//!
//! - Waiting lanes: nothing there is leased (the timer only holds tasks), so every task of
//!   the delivery is deleted; the timer's pending entry for it is dropped by the server when
//!   its delay ends and the message is gone.
//! - Due lanes: a task is queued if the workers' consumer has not delivered it yet, i.e. its
//!   stream sequence is above the consumer's delivered sequence (the consumer hands out in
//!   stream order; a task at or below it is leased or waiting for redelivery, and is left to
//!   its worker).
//!
//! Tasks are found with message gets by `next_by_subj` on
//! `{prefix}.<lane>.<app>.*.<delivery>`. Never a filtered *purge*: on nats-server 2.9 a
//! filtered purge of a work-queue stream moves its consumers' floors past messages that are
//! still stored, and they are never delivered again.
//!
//! Limits: a task handed out between the consumer-info read and the delete is deleted while
//! leased (its worker still sends it; its ack then finds nothing). The account token is a
//! wildcard, which NATS answers by scanning the stream's subjects, so cancel costs grow with
//! the queue's depth; it is meant for a few deliveries at a time.

use crate::codec::nats_error;
use crate::layout::{DELAYED_TOPICS, Lane, Layout, WORKERS};
use async_nats::jetstream::stream::{self, RawMessageErrorKind};
use herald_domain::{AppId, DeliveryId};
use herald_ports::{StoreError, Topic};

/// The streams `cancel` looks in, with the topic each belongs to.
pub(crate) struct CancelLanes<'a> {
    pub(crate) due: Vec<(Topic, &'a stream::Stream)>,
    pub(crate) waiting: Vec<(Topic, &'a stream::Stream)>,
}

pub(crate) async fn cancel(
    lanes: CancelLanes<'_>,
    layout: &Layout,
    app: &AppId,
    deliveries: &[DeliveryId],
) -> Result<u64, StoreError> {
    let mut removed = 0;
    for (topic, stream) in lanes.waiting {
        debug_assert!(DELAYED_TOPICS.contains(&topic));
        for delivery in deliveries {
            let filter = layout.delivery_filter(topic, Lane::Waiting, app, delivery)?;
            removed += delete_matching(stream, &filter, 1).await?;
        }
    }
    for (topic, stream) in lanes.due {
        let delivered = stream
            .consumer_info(WORKERS)
            .await
            .map_err(nats_error("reading a NATS workers consumer"))?
            .delivered
            .stream_sequence;
        for delivery in deliveries {
            let filter = layout.delivery_filter(topic, Lane::Due, app, delivery)?;
            removed += delete_matching(stream, &filter, delivered + 1).await?;
        }
    }
    Ok(removed)
}

/// Deletes every message on `filter` from sequence `from` on; returns how many.
async fn delete_matching(
    stream: &stream::Stream,
    filter: &str,
    mut from: u64,
) -> Result<u64, StoreError> {
    let mut removed = 0;
    while let Some(sequence) = next_matching(stream, filter, from).await? {
        let deleted = stream
            .delete_message(sequence)
            .await
            .map_err(nats_error("canceling a queued NATS task"))?;
        if deleted {
            removed += 1;
        }
        from = sequence + 1;
    }
    Ok(removed)
}

async fn next_matching(
    stream: &stream::Stream,
    filter: &str,
    from: u64,
) -> Result<Option<u64>, StoreError> {
    match stream
        .raw_message_builder()
        .sequence(from)
        .next_by_subject(filter.to_owned())
        .send()
        .await
    {
        Ok(message) => Ok(Some(message.sequence)),
        Err(e) if matches!(e.kind(), RawMessageErrorKind::NoMessageFound) => Ok(None),
        Err(e) => Err(StoreError::backend("finding a queued NATS task", e)),
    }
}
