//! What the ledger stores: one [`Entry`] per queue call that changes which tasks exist,
//! serialized as JSON (readable with any RocketMQ tool). Module `census` says what each
//! change does to the folded state.

use herald_domain::{AppId, DeadLetterId, DeliveryId, Millis, TaskEnvelope};
use herald_ports::Topic;
use serde::{Deserialize, Serialize};

/// One ledger message: what happened, when, and which node wrote it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Entry {
    /// Writer's clock, Unix milliseconds: the fold's notion of "now" for this entry.
    pub at: Millis,
    /// The writing node (a queue instance), so it can find the outcome of its own cancel.
    pub node: String,
    pub change: Change,
}

/// A change to the set of tasks.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub(crate) enum Change {
    /// Tasks stored on the broker by `publish`.
    Published { tasks: Vec<TaskRef> },
    /// A claim of queue ranges: `tasks` handed out and leased until `until`, `deferred`
    /// tasks not yet due (held until they are back on the broker with a delay level),
    /// `dropped` canceled tasks. Refused as a whole if any range was claimed before.
    Leased {
        until: Millis,
        claims: Vec<Claim>,
        tasks: Vec<HeldTask>,
        deferred: Vec<HeldTask>,
        dropped: Vec<String>,
    },
    /// Held tasks that are stored on the broker again (deferred ones sent with a delay
    /// level, leases that ran out sent back): no longer held, queued again.
    Requeued { keys: Vec<String> },
    /// A commit: tasks acked, follow-ups published, tasks moved to the dead letters.
    Committed {
        settled: Vec<String>,
        published: Vec<TaskRef>,
        dead: Vec<DeadRecord>,
    },
    /// `cancel`: queued (not leased) send and retry tasks of these deliveries become
    /// tombstones.
    Canceled {
        app: AppId,
        deliveries: Vec<DeliveryId>,
    },
    /// `replay_dead`: these dead letters left the store, their tasks were published.
    Replayed {
        app: AppId,
        ids: Vec<DeadLetterId>,
        published: Vec<TaskRef>,
    },
}

/// What the census knows of a task: its key (`TaskEnvelope::dedup_key`) and where it lives.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct TaskRef {
    pub key: String,
    pub topic: TopicName,
    pub app: AppId,
    pub delivery: DeliveryId,
}

impl TaskRef {
    pub fn of(topic: Topic, task: &TaskEnvelope) -> Self {
        Self {
            key: task.dedup_key(),
            topic: TopicName(topic),
            app: task.app_id().clone(),
            delivery: task.delivery_id().clone(),
        }
    }
}

/// A claimed range `[from, to)` of one queue of a task topic.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub(crate) struct Claim {
    pub queue: QueueRef,
    pub from: u64,
    pub to: u64,
}

/// One queue of a task topic on one broker.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub(crate) struct QueueRef {
    pub topic: TopicName,
    pub broker: String,
    pub queue: i32,
}

impl QueueRef {
    pub fn of(topic: Topic, queue: &crate::broker::QueueAddr) -> Self {
        Self {
            topic: TopicName(topic),
            broker: queue.broker.to_string(),
            queue: queue.queue,
        }
    }
}

/// A task the census holds a copy of while it is leased or deferred.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct HeldTask {
    pub topic: TopicName,
    pub task: TaskEnvelope,
}

/// A [`Topic`] as the ledger spells it (`send`, `retry`, `result`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct TopicName(pub Topic);

impl Serialize for TopicName {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.0.as_str())
    }
}

impl<'de> Deserialize<'de> for TopicName {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let name = String::deserialize(deserializer)?;
        Topic::ALL
            .into_iter()
            .find(|t| t.as_str() == name)
            .map(TopicName)
            .ok_or_else(|| serde::de::Error::custom(format!("unknown topic {name:?}")))
    }
}

/// A dead letter as the ledger stores it (the task included: this is the only copy).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct DeadRecord {
    pub id: DeadLetterId,
    pub key: String,
    pub reason: String,
    pub died_at: Millis,
    pub task: TaskEnvelope,
}
