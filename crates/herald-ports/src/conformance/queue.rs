//! Conformance suite for the queue port.
//!
//! Each check is an async function that takes a **fresh, empty** queue and panics with a
//! message naming the broken promise. Backends run them one `#[tokio::test]` each (so they
//! run in parallel and fail separately), or all in a row with [`run_all`].
//!
//! What the suite assumes of the queue under test:
//! - its lease (visibility timeout) is [`LEASE`] — build the backend with that value;
//! - `QueueStats::{send, retry, result}` count the tasks stored in a topic, leased or not;
//! - [`tasks_survive_reopen`] needs a factory that opens the *same* storage again, so it is
//!   separate from [`run_all`];
//! - [`priority_then_fifo`] only applies to backends that offer priorities
//!   ([`Features::priorities`]).
//!
//! Timings are real (tens to hundreds of milliseconds), with margins for a loaded machine.

use crate::queue::{Leased, Queue, QueueCommit, Topic};
use herald_domain::time::now_ms;
use herald_domain::{
    AccountId, AppId, ChannelKind, DeliveryId, DeliveryState, DeliveryTask, EventVersion,
    MessageId, Millis, Priority, Receiver, ResultEvent, ResultKind, TaskEnvelope, TemplateId,
    Variables,
};
use std::future::Future;
use std::time::{Duration, Instant};

mod checks;
mod outcomes;
pub use checks::*;
pub use outcomes::*;

/// The lease the queue under test must be built with.
pub const LEASE: Duration = Duration::from_millis(500);

/// How long past [`LEASE`] the suite waits before expecting a redelivery.
pub const LEASE_SLACK: Duration = Duration::from_millis(250);

/// Optional behaviours a backend may lack.
#[derive(Debug, Clone, Copy)]
pub struct Features {
    /// Higher priority handed out first.
    pub priorities: bool,
}

impl Default for Features {
    fn default() -> Self {
        Self { priorities: true }
    }
}

/// Runs every check except [`tasks_survive_reopen`], each on a queue from `fresh`.
pub async fn run_all<Q, F, Fut>(mut fresh: F, features: Features)
where
    Q: Queue,
    F: FnMut() -> Fut,
    Fut: Future<Output = Q>,
{
    publish_receive_ack(&fresh().await).await;
    redelivers_after_lease_expiry(&fresh().await).await;
    not_before_is_respected(&fresh().await).await;
    if features.priorities {
        priority_then_fifo(&fresh().await).await;
    }
    commit_publishes_and_acks_together(&fresh().await).await;
    dead_letters_list_and_replay(&fresh().await).await;
    cancel_removes_queued_and_scheduled(&fresh().await).await;
    receive_waits_and_wakes_on_publish(&fresh().await).await;
    topics_are_separate(&fresh().await).await;
}

/// A delivery task of `app` with fresh ids, attempt 1.
pub fn delivery_task(app: &AppId, priority: Priority, not_before: Millis) -> TaskEnvelope {
    let mut variables = Variables::new();
    variables.insert("code".into(), serde_json::json!("4711"));
    TaskEnvelope::DeliveryV1(DeliveryTask {
        app_id: app.clone(),
        message_id: MessageId::generate(),
        delivery_id: DeliveryId::generate(),
        template_id: TemplateId::generate(),
        template_version: 1,
        channel: ChannelKind::Webhook,
        account_id: AccountId::generate(),
        receiver: Receiver::to("https://example.invalid/hook"),
        variables,
        attempt: 1,
        not_before,
        expire_at: None,
        priority,
        trace: None,
        accepted_at: now_ms(),
    })
}

/// A result event of `app` for a fresh delivery.
pub fn result_task(app: &AppId) -> TaskEnvelope {
    TaskEnvelope::ResultV1(ResultEvent {
        app_id: app.clone(),
        message_id: MessageId::generate(),
        delivery_id: DeliveryId::generate(),
        version: EventVersion::new(1, DeliveryState::Delivered),
        state: DeliveryState::Delivered,
        kind: ResultKind::Dispatch,
        at: now_ms(),
        code: None,
        detail: None,
        next_at: None,
        content: None,
        attempt: None,
    })
}

/// A time comfortably in the past, shared by tasks that must sort FIFO.
fn past() -> Millis {
    now_ms() - 60_000
}

fn delivery_of(task: &TaskEnvelope) -> &DeliveryId {
    task.delivery_id()
}

fn ids(leased: &[Leased]) -> Vec<DeliveryId> {
    leased
        .iter()
        .map(|l| delivery_of(&l.task).clone())
        .collect()
}

fn attempt_of(task: &TaskEnvelope) -> u32 {
    match task {
        TaskEnvelope::DeliveryV1(t) => t.attempt,
        TaskEnvelope::ResultV1(_) => 0,
    }
}

/// Receives from `topic` until `want` tasks arrived or `within` passed.
async fn receive_until(q: &dyn Queue, topic: Topic, want: usize, within: Duration) -> Vec<Leased> {
    let deadline = Instant::now() + within;
    let mut got = Vec::new();
    while got.len() < want {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            break;
        }
        let batch = q
            .receive(topic, want - got.len(), left)
            .await
            .expect("receive failed");
        got.extend(batch);
    }
    got
}

async fn nothing_ready(q: &dyn Queue, topic: Topic, wait: Duration, why: &str) {
    let got = q.receive(topic, 100, wait).await.expect("receive failed");
    assert!(got.is_empty(), "{why}: got {:?}", ids(&got));
}

async fn ack(q: &dyn Queue, leased: &[Leased]) {
    q.commit(QueueCommit {
        ack: leased.iter().map(|l| l.receipt.clone()).collect(),
        ..Default::default()
    })
    .await
    .expect("ack commit failed");
}
