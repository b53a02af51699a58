//! Dead letters: JetStream has no dead-letter queue, so they go to a stream of their own
//! (`{PREFIX}_DEAD`, limits retention) on `{prefix}.dead.<app>.<dead-letter id>`, the task
//! as payload and the reason, time and source topic in headers.
//!
//! - Listing walks the app's subjects in stream order (the order they died) with message
//!   gets by `next_by_subj`, one request per dead letter, starting after the cursor's
//!   sequence; a cursor that was replayed meanwhile falls back to comparing ids (ULIDs sort
//!   by time).
//! - Replay publishes the task back (delivery tasks to send with `attempt + 1`, due now;
//!   result events to result) and then deletes the dead letter: a crash in between leaves
//!   the dead letter to be replayed again, and the send stream's dedup window drops that copy.
//! - The dead letter's `Nats-Msg-Id` is `dead:<task dedup key>`: a commit retried after a
//!   crash dead-letters the same task again under a new id, and the window drops it.

use crate::codec::{
    DEAD_ID, DEAD_REASON, DEAD_TOPIC, DIED_AT, MSG_ID, decode, encode, escape_header,
    header_millis, header_str, nats_error, unescape_header,
};
use crate::layout::Layout;
use async_nats::jetstream::Context;
use async_nats::jetstream::message::PublishMessage as Publish;
use async_nats::jetstream::message::StreamMessage;
use async_nats::jetstream::stream::{self, RawMessageErrorKind};
use herald_domain::time::now_ms;
use herald_domain::{AppId, DeadLetterId, Millis, TaskEnvelope};
use herald_ports::{DeadLetter, Receipt, StoreError};

/// Stores dead letters and waits for the server to confirm each.
pub(crate) async fn bury(
    js: &Context,
    layout: &Layout,
    dead: &[(Receipt, TaskEnvelope, String)],
) -> Result<(), StoreError> {
    let died_at = now_ms();
    let mut pending = Vec::with_capacity(dead.len());
    for (receipt, task, reason) in dead {
        let id = DeadLetterId::generate();
        let publish = Publish::build()
            .payload(encode(task)?)
            .header(MSG_ID, format!("dead:{}", task.dedup_key()))
            .header(DEAD_ID, id.as_str())
            .header(DEAD_REASON, escape_header(reason))
            .header(DIED_AT, died_at.to_string())
            .header(DEAD_TOPIC, receipt.topic.as_str());
        let subject = layout.dead_subject(task.app_id(), &id)?;
        pending.push(
            js.send_publish(subject, publish)
                .await
                .map_err(nats_error("storing a NATS dead letter"))?,
        );
    }
    for ack in pending {
        ack.await
            .map_err(nats_error("storing a NATS dead letter"))?;
    }
    Ok(())
}

/// Dead letters of `app`, oldest first, after `after`.
pub(crate) async fn list(
    dead: &stream::Stream,
    layout: &Layout,
    app: &AppId,
    after: Option<&DeadLetterId>,
    limit: usize,
) -> Result<Vec<DeadLetter>, StoreError> {
    let filter = layout.dead_filter(app)?;
    let (mut next_seq, skip_through) = match after {
        None => (1, None),
        Some(cursor) => match find(dead, &layout.dead_subject(app, cursor)?).await? {
            Some(message) => (message.sequence + 1, None),
            None => (1, Some(cursor)),
        },
    };
    let mut out = Vec::new();
    while out.len() < limit {
        let found = dead
            .raw_message_builder()
            .sequence(next_seq)
            .next_by_subject(filter.clone())
            .send()
            .await;
        let message = match found {
            Ok(message) => message,
            Err(e) if matches!(e.kind(), RawMessageErrorKind::NoMessageFound) => break,
            Err(e) => return Err(StoreError::backend("listing NATS dead letters", e)),
        };
        next_seq = message.sequence + 1;
        let letter = read(&message)?;
        if skip_through.is_some_and(|cursor| letter.id <= *cursor) {
            continue;
        }
        out.push(letter);
    }
    Ok(out)
}

/// Republishes the given dead letters of `app` and removes them; returns the tasks as
/// republished. Ids of other apps, or already replayed, are skipped.
pub(crate) async fn replay(
    queue: &crate::NatsQueue,
    app: &AppId,
    ids: &[DeadLetterId],
) -> Result<Vec<TaskEnvelope>, StoreError> {
    let layout = queue.layout();
    let dead = queue.dead_stream();
    let now: Millis = now_ms();
    let mut found = Vec::new();
    for id in ids {
        if let Some(message) = find(dead, &layout.dead_subject(app, id)?).await? {
            let mut task = decode(&message.payload)?;
            if let TaskEnvelope::DeliveryV1(t) = &mut task {
                t.attempt += 1;
                t.not_before = now;
            }
            found.push((message.sequence, task));
        }
    }
    let (deliveries, results): (Vec<_>, Vec<_>) = found
        .iter()
        .map(|(_, task)| task.clone())
        .partition(|t| matches!(t, TaskEnvelope::DeliveryV1(_)));
    queue
        .publish_to(herald_ports::Topic::Send, &deliveries)
        .await?;
    queue
        .publish_to(herald_ports::Topic::Result, &results)
        .await?;
    for (sequence, _) in &found {
        dead.delete_message(*sequence)
            .await
            .map_err(nats_error("removing a replayed NATS dead letter"))?;
    }
    Ok(found.into_iter().map(|(_, task)| task).collect())
}

/// The message stored under exactly `subject`, if any.
async fn find(dead: &stream::Stream, subject: &str) -> Result<Option<StreamMessage>, StoreError> {
    match dead.get_last_raw_message_by_subject(subject).await {
        Ok(message) => Ok(Some(message)),
        Err(e) if matches!(e.kind(), RawMessageErrorKind::NoMessageFound) => Ok(None),
        Err(e) => Err(StoreError::backend("reading a NATS dead letter", e)),
    }
}

fn read(message: &StreamMessage) -> Result<DeadLetter, StoreError> {
    let headers = Some(&message.headers);
    let task = decode(&message.payload)?;
    let id = header_str(headers, DEAD_ID)
        .map(DeadLetterId::from_trusted)
        .ok_or_else(|| {
            StoreError::Corrupt(format!("dead letter #{} has no id", message.sequence))
        })?;
    Ok(DeadLetter {
        id,
        app_id: task.app_id().clone(),
        delivery_id: task.delivery_id().clone(),
        reason: header_str(headers, DEAD_REASON)
            .map(unescape_header)
            .unwrap_or_default(),
        died_at: header_millis(headers, DIED_AT).unwrap_or_default(),
        task,
    })
}
