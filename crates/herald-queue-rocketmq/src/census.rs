//! The state every node folds the ledger into (the *census*); the entries themselves are
//! in module `entries`.
//!
//! RocketMQ cannot delete a message, count a topic's delayed messages, or list a
//! dead-letter queue by tenant. So every queue operation that changes *which tasks exist*
//! also appends one entry to the ledger topic (one queue, so one total order), and every
//! node folds the ledger into the same census: the live tasks per topic and whether they
//! are leased, the canceled tasks still stored on the broker (tombstones), and the dead
//! letters. Depths, `cancel`, `list_dead` and `replay_dead` read the census; the broker
//! only stores messages and delays them. Entries are batch-shaped: one per publish, receive or commit
//! call, never one per task.
//!
//! The ledger is also what makes hand-outs exclusive and leases real. Workers read task
//! topics by offset (plain pull, no broker-side consumption state) and *claim* a range of a
//! queue with a `Leased` entry; the first claim of a range in ledger order wins, a later
//! overlapping claim is refused and its node reads on from the new position. A leased task's
//! body is kept in the census until it is acked, so a lease that runs out can be put back on
//! the broker by any node (`Requeued`).
//!
//! Folding is deterministic: it uses the time written into the entry, never the reader's
//! clock, so every node derives the same census from the same ledger.

pub(crate) use crate::entries::{
    Change, Claim, DeadRecord, Entry, HeldTask, QueueRef, TaskRef, TopicName,
};
use crate::snapshot::{Image, LiveImage};
use herald_domain::{AppId, DeadLetterId, DeliveryId, Millis, TaskEnvelope};
use herald_ports::{DeadLetter, Topic};
use std::collections::{BTreeMap, HashMap, HashSet};

/// A stored task that has not been acked, canceled or buried.
#[derive(Debug, Clone)]
struct LiveTask {
    topic: Topic,
    app: AppId,
    delivery: DeliveryId,
    /// End of the current lease or deferral (0: queued on the broker).
    leased_until: Millis,
    /// Hand-outs so far.
    deliveries: u32,
    /// The task while a node holds it (leased or deferred): what goes back on a requeue.
    held: Option<TaskEnvelope>,
    /// Held only to be re-delayed, not handed out (not counted as leased).
    deferred: bool,
}

impl LiveTask {
    fn queued(topic: Topic, app: AppId, delivery: DeliveryId) -> Self {
        Self {
            topic,
            app,
            delivery,
            leased_until: 0,
            deliveries: 0,
            held: None,
            deferred: false,
        }
    }
}

/// The folded ledger.
#[derive(Debug, Default)]
pub(crate) struct Census {
    live: HashMap<String, LiveTask>,
    /// Keys of canceled tasks still stored on the broker; the hand-out drops them.
    tombstones: HashSet<String>,
    /// Dead letters by app, then id (ids sort by time): listing an app is a range scan.
    dead: BTreeMap<(AppId, DeadLetterId), DeadLetter>,
    /// Keys of the tasks a node holds (leased or deferred): what `expired` scans, so a
    /// receive costs the number of leases, not the number of queued tasks.
    held: HashSet<String>,
    /// Next unclaimed offset per queue.
    claimed: HashMap<QueueRef, u64>,
    /// How many tasks each of this node's cancels removed, by ledger offset.
    cancel_outcomes: HashMap<u64, u64>,
    /// Whether each of this node's claims won, by ledger offset.
    claim_outcomes: HashMap<u64, bool>,
}

/// Task counts per topic, leases and dead letters, at a given time.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Depths {
    pub send: u64,
    pub retry: u64,
    pub result: u64,
    pub leased: u64,
    pub dead: u64,
}

impl Census {
    /// Applies the entry stored at `offset`; `me` is this node's id.
    pub fn apply(&mut self, offset: u64, entry: Entry, me: &str) {
        match entry.change {
            Change::Published { tasks } => self.add(tasks),
            Change::Leased {
                until,
                claims,
                tasks,
                deferred,
                dropped,
            } => {
                let won = claims
                    .iter()
                    .all(|c| self.claimed.get(&c.queue).copied().unwrap_or(0) <= c.from);
                if entry.node == me {
                    self.claim_outcomes.insert(offset, won);
                }
                if !won {
                    return;
                }
                for claim in claims {
                    self.claimed.insert(claim.queue, claim.to);
                }
                for key in dropped {
                    self.tombstones.remove(&key);
                    self.forget(&key);
                }
                for (held, handed_out) in tasks
                    .into_iter()
                    .map(|t| (t, true))
                    .chain(deferred.into_iter().map(|t| (t, false)))
                {
                    let key = held.task.dedup_key();
                    // A claim of a key the census does not know (its publish entry was lost
                    // in a crash, or a cancel raced the hand-out) makes it live again.
                    self.tombstones.remove(&key);
                    let live = self.live.entry(key.clone()).or_insert_with(|| {
                        LiveTask::queued(
                            held.topic.0,
                            held.task.app_id().clone(),
                            held.task.delivery_id().clone(),
                        )
                    });
                    live.leased_until = until;
                    live.deferred = !handed_out;
                    if handed_out {
                        live.deliveries += 1;
                    }
                    live.held = Some(held.task);
                    self.held.insert(key);
                }
            }
            Change::Requeued { keys } => {
                for key in keys {
                    self.held.remove(&key);
                    if let Some(live) = self.live.get_mut(&key) {
                        live.leased_until = 0;
                        live.deferred = false;
                        live.held = None;
                    }
                }
            }
            Change::Committed {
                settled,
                published,
                dead,
            } => {
                for key in settled {
                    self.forget(&key);
                }
                for record in dead {
                    self.forget(&record.key);
                    self.dead.insert(
                        (record.task.app_id().clone(), record.id.clone()),
                        DeadLetter {
                            id: record.id,
                            app_id: record.task.app_id().clone(),
                            delivery_id: record.task.delivery_id().clone(),
                            reason: record.reason,
                            died_at: record.died_at,
                            task: record.task,
                        },
                    );
                }
                self.add(published);
            }
            Change::Canceled { app, deliveries } => {
                let targets: HashSet<&DeliveryId> = deliveries.iter().collect();
                let doomed: Vec<String> = self
                    .live
                    .iter()
                    .filter(|(_, t)| {
                        t.app == app
                            && matches!(t.topic, Topic::Send | Topic::Retry)
                            && t.leased_until <= entry.at
                            && targets.contains(&t.delivery)
                    })
                    .map(|(key, _)| key.clone())
                    .collect();
                if entry.node == me {
                    self.cancel_outcomes.insert(offset, doomed.len() as u64);
                }
                for key in doomed {
                    self.forget(&key);
                    self.tombstones.insert(key);
                }
            }
            Change::Replayed {
                app,
                ids,
                published,
            } => {
                for id in ids {
                    self.dead.remove(&(app.clone(), id));
                }
                self.add(published);
            }
        }
    }

    /// The census in its serializable shape (node-local outcomes left out).
    pub fn image(&self) -> Image {
        Image {
            live: self
                .live
                .iter()
                .map(|(key, t)| LiveImage {
                    key: key.clone(),
                    topic: TopicName(t.topic),
                    app: t.app.clone(),
                    delivery: t.delivery.clone(),
                    leased_until: t.leased_until,
                    deliveries: t.deliveries,
                    held: t.held.clone(),
                    deferred: t.deferred,
                })
                .collect(),
            tombstones: self.tombstones.iter().cloned().collect(),
            dead: self
                .dead
                .values()
                .map(|d| DeadRecord {
                    id: d.id.clone(),
                    key: d.task.dedup_key(),
                    reason: d.reason.clone(),
                    died_at: d.died_at,
                    task: d.task.clone(),
                })
                .collect(),
            claimed: self
                .claimed
                .iter()
                .map(|(q, at)| (q.clone(), *at))
                .collect(),
        }
    }

    /// The census an [`Image`] describes.
    pub fn restore(image: Image) -> Self {
        let mut census = Self::default();
        for t in image.live {
            if t.held.is_some() {
                census.held.insert(t.key.clone());
            }
            census.live.insert(
                t.key,
                LiveTask {
                    topic: t.topic.0,
                    app: t.app,
                    delivery: t.delivery,
                    leased_until: t.leased_until,
                    deliveries: t.deliveries,
                    held: t.held,
                    deferred: t.deferred,
                },
            );
        }
        census.tombstones = image.tombstones.into_iter().collect();
        for d in image.dead {
            census.dead.insert(
                (d.task.app_id().clone(), d.id.clone()),
                DeadLetter {
                    id: d.id,
                    app_id: d.task.app_id().clone(),
                    delivery_id: d.task.delivery_id().clone(),
                    reason: d.reason,
                    died_at: d.died_at,
                    task: d.task,
                },
            );
        }
        census.claimed = image.claimed.into_iter().collect();
        census
    }

    /// The task is gone (acked, buried, canceled or dropped).
    fn forget(&mut self, key: &str) {
        self.live.remove(key);
        self.held.remove(key);
    }

    fn add(&mut self, tasks: Vec<TaskRef>) {
        for task in tasks {
            self.live
                .entry(task.key)
                .or_insert_with(|| LiveTask::queued(task.topic.0, task.app, task.delivery));
        }
    }

    /// The next unclaimed offset of a queue.
    pub fn claimed(&self, queue: &QueueRef) -> u64 {
        self.claimed.get(queue).copied().unwrap_or(0)
    }

    /// Whether this node's claim stored at `offset` won, once folded (taken once).
    pub fn take_claim_outcome(&mut self, offset: u64) -> Option<bool> {
        self.claim_outcomes.remove(&offset)
    }

    /// How many times the task has been handed out.
    pub fn deliveries(&self, key: &str) -> u32 {
        self.live.get(key).map_or(0, |t| t.deliveries)
    }

    /// Held tasks of `topic` whose lease or deferral ran out by `now`: they go back on the
    /// broker.
    pub fn expired(&self, topic: Topic, now: Millis) -> Vec<(String, TaskEnvelope)> {
        self.held
            .iter()
            .filter_map(|key| Some((key, self.live.get(key)?)))
            .filter(|(_, t)| t.topic == topic && t.leased_until > 0 && t.leased_until <= now)
            .filter_map(|(key, t)| Some((key.clone(), t.held.clone()?)))
            .collect()
    }

    /// Whether the task with this key was canceled and must not be handed out.
    pub fn is_tombstoned(&self, key: &str) -> bool {
        self.tombstones.contains(key)
    }

    /// The outcome of this node's cancel stored at `offset`, once folded (taken once).
    pub fn take_cancel_outcome(&mut self, offset: u64) -> Option<u64> {
        self.cancel_outcomes.remove(&offset)
    }

    pub fn depths(&self, now: Millis) -> Depths {
        let mut depths = Depths {
            dead: self.dead.len() as u64,
            ..Depths::default()
        };
        for task in self.live.values() {
            match task.topic {
                Topic::Send => depths.send += 1,
                Topic::Retry => depths.retry += 1,
                Topic::Result => depths.result += 1,
            }
            if task.leased_until > now && !task.deferred {
                depths.leased += 1;
            }
        }
        depths
    }

    /// Dead letters of `app` after the cursor, oldest first (ids sort by time).
    pub fn dead_of(
        &self,
        app: &AppId,
        after: Option<&DeadLetterId>,
        limit: usize,
    ) -> Vec<DeadLetter> {
        use std::ops::Bound::{Excluded, Included, Unbounded};
        let start = match after {
            Some(cursor) => Excluded((app.clone(), cursor.clone())),
            None => Included((app.clone(), DeadLetterId::from_trusted(""))),
        };
        self.dead
            .range((start, Unbounded))
            .take_while(|((owner, _), _)| owner == app)
            .take(limit)
            .map(|(_, letter)| letter.clone())
            .collect()
    }

    /// The dead letters among `ids` that belong to `app`.
    pub fn dead_by_ids(&self, app: &AppId, ids: &[DeadLetterId]) -> Vec<DeadLetter> {
        ids.iter()
            .filter_map(|id| self.dead.get(&(app.clone(), id.clone())))
            .cloned()
            .collect()
    }
}

#[cfg(test)]
#[path = "census_tests.rs"]
mod tests;
