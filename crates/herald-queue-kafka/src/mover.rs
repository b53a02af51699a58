//! The mover: a task per node that examines the waiting lanes when their holds end and
//! publishes each due or still-early task onward (module `wait` decides where), then marks it
//! finished so its offset can be committed. Moves are confirmed by the broker before the
//! waiting record is released: a crash in between moves it twice (a duplicate), never zero
//! times.

use crate::codec::encode;
use crate::layout::task_key;
use crate::publish::{Outgoing, send_all};
use crate::state::Shared;
use crate::views::Views;
use crate::wait::{Destination, Move};
use herald_domain::Millis;
use herald_domain::time::now_ms;
use rdkafka::producer::FutureProducer;
use std::sync::Arc;
use std::time::Duration;

/// Longest sleep between two looks, so a missed wake-up costs at most this.
const IDLE_LOOK: Duration = Duration::from_millis(250);
/// How long a failed move waits before it is tried again.
const RETRY_MOVE_MS: Millis = 1_000;

/// Runs until the node closes.
pub(crate) async fn run(shared: Arc<Shared>, views: Arc<Views>, producer: FutureProducer) {
    while !shared.is_closing() {
        let notified = shared.waiting.notified();
        tokio::pin!(notified);
        notified.as_mut().enable();
        let now = now_ms();
        let mut moves = Vec::new();
        let mut wake: Option<Millis> = None;
        {
            let mut lanes = shared.lanes.lock();
            for lane in &mut lanes.wait {
                let next = lane.plan(now, &shared.layout, |t| views.is_canceled(t), &mut moves);
                wake = match (wake, next) {
                    (Some(a), Some(b)) => Some(a.min(b)),
                    (a, b) => a.or(b),
                };
            }
        }
        if !moves.is_empty() {
            shared.want_commit();
        }
        for mv in moves {
            tokio::spawn(move_one(shared.clone(), producer.clone(), mv));
        }
        let sleep = wake
            .map(|at| Duration::from_millis((at - now_ms()).max(0) as u64))
            .unwrap_or(IDLE_LOOK)
            .min(IDLE_LOOK);
        let _ = tokio::time::timeout(sleep, notified).await;
    }
}

/// Publishes one move and records its outcome in the waiting lane.
async fn move_one(shared: Arc<Shared>, producer: FutureProducer, mv: Move) {
    let now = now_ms();
    let (topic, hold_until) = match mv.to {
        Destination::Due => (shared.layout.due(mv.topic), None),
        Destination::Level(level) => (
            shared.layout.wait(mv.topic, level),
            Some(now + shared.layout.hold(level)),
        ),
    };
    let sent = match encode(&mv.task) {
        Ok(payload) => {
            let record = Outgoing {
                topic,
                key: task_key(&mv.task),
                payload: Some(payload),
                hold_until,
            };
            send_all(&producer, &shared.produced, &[record])
                .await
                .map(|_| ())
        }
        Err(e) => Err(e),
    };
    let index = shared.wait_index(mv.topic, mv.level);
    {
        let mut lanes = shared.lanes.lock();
        match &sent {
            Ok(()) => lanes.wait[index].moved(mv.partition, mv.offset),
            Err(e) => {
                tracing::warn!(error = %e, "Kafka queue: moving a waiting task failed; retrying");
                lanes.wait[index].move_failed(mv.partition, mv.offset, now_ms() + RETRY_MOVE_MS);
            }
        }
    }
    shared.want_commit();
    shared.waiting.notify_one();
}
