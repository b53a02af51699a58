//! The timer: moves waiting tasks to their topic's due stream once their `not_before` has
//! passed. NATS 2.9 has no scheduled delivery, so waiting is done with nak-with-delay on a
//! consumer of its own.
//!
//! Every node runs one timer loop per waiting stream, all sharing one durable consumer
//! (`timer`, `max_ack_pending` unlimited), so each waiting task is held by one node at a
//! time. For each message the loop reads the `Herald-Not-Before` header:
//! - not yet due → nak with a delay of exactly the time left; the server redelivers it then
//!   (to whichever node pulls), and the task does not occupy any worker's lease budget;
//! - due → publish it, unchanged and with its `Nats-Msg-Id`, onto the due stream, await the
//!   publish ack, then ack it here. A crash between the two re-moves it after `timer_hold`,
//!   and the due stream's dedup window drops the copy.
//!
//! Limits: every waiting task is an entry in the timer consumer's pending set, and NATS 2.9
//! rescans that set whenever a delay is set or expires, so the cost grows with the number of
//! waiting tasks (fine for tens of thousands; far-future schedules in the millions want a
//! database-backed scheduler in front). A due task reaches workers within a few tens of
//! milliseconds of its `not_before` while a timer runs; with no node running, it waits.

use crate::codec::{NOT_BEFORE, header_millis};
use crate::layout::Layout;
use async_nats::jetstream::consumer::PullConsumer;
use async_nats::jetstream::message::Message;
use async_nats::jetstream::{AckKind, Context};
use futures::StreamExt;
use herald_domain::time::now_ms;
use std::sync::Arc;
use std::time::Duration;
use tokio::task::JoinHandle;

/// Most waiting tasks handled in one step.
const CHUNK: usize = 256;
/// Pause before re-subscribing after an error (server restart, stream deleted).
const RETRY_PAUSE: Duration = Duration::from_millis(500);
/// Delay before a task whose move failed is tried again.
const MOVE_RETRY: Duration = Duration::from_secs(1);

/// Starts the timer loop of one waiting stream; it runs until the handle is aborted.
pub(crate) fn spawn(js: Context, consumer: PullConsumer, layout: Arc<Layout>) -> JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            if let Err(e) = run(&js, &consumer, &layout).await {
                tracing::warn!(error = %e, "NATS queue timer stopped; restarting");
            }
            tokio::time::sleep(RETRY_PAUSE).await;
        }
    })
}

async fn run(js: &Context, consumer: &PullConsumer, layout: &Layout) -> Result<(), String> {
    let messages = consumer
        .stream()
        .max_messages_per_batch(CHUNK * 2)
        .expires(Duration::from_secs(5))
        .heartbeat(Duration::from_secs(2))
        .messages()
        .await
        .map_err(|e| e.to_string())?;
    let mut chunks = messages.ready_chunks(CHUNK);
    while let Some(chunk) = chunks.next().await {
        let mut batch = Vec::with_capacity(chunk.len());
        let mut failure = None;
        for item in chunk {
            match item {
                Ok(message) => batch.push(message),
                Err(e) => failure = Some(e.to_string()),
            }
        }
        handle(js, layout, batch).await;
        if let Some(e) = failure {
            return Err(e);
        }
    }
    Err("the timer's message stream ended".to_owned())
}

/// Naks what is early, moves what is due.
async fn handle(js: &Context, layout: &Layout, batch: Vec<Message>) {
    let now = now_ms();
    let mut due = Vec::new();
    for message in batch {
        let not_before = header_millis(message.headers.as_ref(), NOT_BEFORE);
        let target = layout.due_subject_of(message.subject.as_str());
        match (not_before, target) {
            (Some(at), Some(_)) if at > now => {
                let wait = Duration::from_millis(u64::try_from(at - now).unwrap_or(0));
                settle(&message, AckKind::Nak(Some(wait))).await;
            }
            (Some(_), Some(target)) => due.push((message, target)),
            _ => {
                tracing::warn!(
                    subject = %message.subject,
                    "waiting NATS message without a due time or a known subject; dropping it"
                );
                settle(&message, AckKind::Term).await;
            }
        }
    }
    let mut pending = Vec::with_capacity(due.len());
    for (message, target) in due {
        let mut publish = async_nats::jetstream::message::PublishMessage::build()
            .payload(message.payload.clone());
        if let Some(headers) = message.headers.clone() {
            publish = publish.headers(headers);
        }
        let sent = js.send_publish(target, publish).await;
        pending.push((message, sent));
    }
    for (message, sent) in pending {
        let stored = match sent {
            Ok(ack) => ack.await.map(|_| ()).map_err(|e| e.to_string()),
            Err(e) => Err(e.to_string()),
        };
        match stored {
            Ok(()) => settle(&message, AckKind::Ack).await,
            Err(e) => {
                tracing::warn!(error = %e, subject = %message.subject, "moving a due NATS task failed");
                settle(&message, AckKind::Nak(Some(MOVE_RETRY))).await;
            }
        }
    }
}

/// Sends an ack/nak/term; a lost one only means the server redelivers the task later.
async fn settle(message: &Message, kind: AckKind) {
    if let Err(e) = message.ack_with(kind).await {
        tracing::debug!(error = %e, "settling a waiting NATS task failed");
    }
}
