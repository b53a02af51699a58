//! The in-memory index of the queue: which stored tasks are due, pending or leased.
//!
//! Memory is a *replica* of part of `queue_tasks`, kept exact by applying every committed
//! change in commit order (see [`Memory::settle`]). The invariant that makes the scheduler
//! work: every stored row whose key `(not_before, id)` is at most [`Memory::edge`] is in
//! memory. Rows above the edge may or may not be (the loader skips those already present).
//! The loader raises the edge as time passes; a publish that finds memory full lowers it just
//! below the row it could not admit, so that row is loaded later, in order. Tasks not due
//! yet may hold at most half of memory ([`Memory::pending_room`]), by publish and by load.

use super::schema::topic_index;
use herald_domain::{Millis, TaskEnvelope};
use herald_ports::{Leased, Receipt, Topic};
use std::cmp::Reverse;
use std::collections::{BTreeMap, BTreeSet, HashMap};

/// `(not_before, id)`: the order the scheduler loads rows in.
pub(crate) type Key = (Millis, i64);

/// Where a task in memory currently is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Place {
    /// Not due yet.
    Pending,
    /// Due, waiting for a consumer.
    Ready,
    /// Handed out; back to ready when the deadline passes without an ack.
    Leased(Millis),
    /// Held back by a cancel whose delete is being committed.
    Reserved,
}

struct Entry {
    topic: Topic,
    priority: u8,
    not_before: Millis,
    /// Hand-outs so far (since this process loaded the row).
    deliveries: u32,
    place: Place,
    task: TaskEnvelope,
}

/// The per-topic orderings.
#[derive(Default)]
struct Lane {
    /// Due tasks: priority high first, then earliest due, then oldest row.
    ready: BTreeSet<(Reverse<u8>, Millis, i64)>,
    /// Tasks loaded ahead of their `not_before`.
    pending: BTreeSet<(Millis, i64)>,
    /// Leases by deadline.
    leases: BTreeSet<(Millis, i64)>,
    /// Rows stored on disk for this topic (queued, pending and leased).
    stored: u64,
}

/// A committed (or failed) write's effect on memory, applied in commit order.
#[derive(Default)]
pub(crate) struct Change {
    /// Rows inserted: admitted to memory if at or below the edge.
    pub inserted: Vec<(i64, Topic, TaskEnvelope)>,
    /// Rows deleted (ack, dead letter, cancel).
    pub removed: Vec<(i64, Topic)>,
    /// Entries a cancel held back; put back if the write fails.
    pub reserved: Vec<i64>,
    pub dead_added: u64,
    pub dead_removed: u64,
    pub load: Option<Load>,
}

/// Rows read by the scheduler from `(from, to]`.
pub(crate) struct Load {
    pub from: Key,
    pub to: Key,
    pub rows: Vec<(i64, Topic, TaskEnvelope)>,
    /// Depths counted in the same transaction (first load only).
    pub counts: Option<([u64; 3], u64)>,
}

/// What a cancel found for one row.
pub(crate) enum Reservation {
    /// Not in memory: the row can be deleted.
    Absent,
    /// Handed out: must stay.
    Leased,
    /// Held back from consumers until the cancel's commit settles.
    Reserved,
}

/// The whole in-memory state, behind one short-held mutex.
pub(crate) struct Memory {
    lanes: [Lane; 3],
    entries: HashMap<i64, Entry>,
    /// Every stored row with a key at or below this is in `entries`.
    pub edge: Key,
    /// Most entries kept; beyond it rows wait on disk.
    pub capacity: usize,
    dead: u64,
    /// Whether the first load (which also counts depths) has been applied.
    pub loaded: bool,
    /// Ticket of the next change to apply; changes settle out of order and wait here.
    next_apply: u64,
    parked: BTreeMap<u64, (Change, bool)>,
}

/// Bit set of topics whose waiters should re-check.
pub(crate) type TopicMask = u8;

pub(crate) fn bit(topic: Topic) -> TopicMask {
    1 << topic_index(topic)
}

impl Memory {
    pub fn new(capacity: usize) -> Self {
        Self {
            lanes: Default::default(),
            entries: HashMap::new(),
            edge: (Millis::MIN, i64::MIN),
            capacity: capacity.max(1),
            dead: 0,
            loaded: false,
            next_apply: 0,
            parked: BTreeMap::new(),
        }
    }

    /// Whether the change of `ticket` (and every earlier one) has been applied.
    pub fn applied(&self, ticket: u64) -> bool {
        self.next_apply > ticket
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether the loader should run now: due rows may wait on disk (the edge is behind the
    /// clock) and a quarter of memory or more is free. Leased tasks count as used, so the
    /// test is the room left, not how full memory looks.
    pub fn loader_lagging(&self, now: Millis) -> bool {
        self.edge.0 < now
            && self.capacity - self.entries.len().min(self.capacity) >= self.capacity / 4
    }

    /// Tasks loaded ahead of their `not_before`.
    pub fn pending_len(&self) -> usize {
        self.lanes.iter().map(|l| l.pending.len()).sum()
    }

    /// Room for tasks that are not due yet: they may fill at most half of memory, so a
    /// campaign scheduled a minute ahead (or retries held back by a rate limit) cannot keep
    /// tasks that are due now on disk until it falls due.
    pub fn pending_room(&self) -> usize {
        (self.capacity / 2).saturating_sub(self.pending_len())
    }

    /// Leases up to `max` due tasks of `topic`. Also returns when the topic next changes by
    /// itself (a pending task falls due or a lease expires).
    pub fn take(
        &mut self,
        topic: Topic,
        max: usize,
        now: Millis,
        lease_ms: i64,
    ) -> (Vec<Leased>, Option<Millis>) {
        self.reclaim_and_promote(topic, now);
        let lane_index = topic_index(topic);
        let mut out = Vec::with_capacity(max.min(self.lanes[lane_index].ready.len()));
        while out.len() < max {
            let Some((_, _, id)) = self.lanes[lane_index].ready.pop_first() else {
                break;
            };
            let Some(entry) = self.entries.get_mut(&id) else {
                continue;
            };
            let deadline = now.saturating_add(lease_ms);
            entry.deliveries += 1;
            entry.place = Place::Leased(deadline);
            self.lanes[lane_index].leases.insert((deadline, id));
            out.push(Leased {
                receipt: Receipt {
                    topic,
                    token: id as u64,
                    handle: None,
                },
                task: entry.task.clone(),
                deliveries: entry.deliveries,
            });
        }
        let lane = &self.lanes[lane_index];
        let next_due = lane.pending.first().map(|(at, _)| *at);
        let next_expiry = lane.leases.first().map(|(at, _)| *at);
        let wake = match (next_due, next_expiry) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        (out, wake)
    }

    /// Expired leases go back to ready; pending tasks that fell due become ready.
    fn reclaim_and_promote(&mut self, topic: Topic, now: Millis) {
        let lane = &mut self.lanes[topic_index(topic)];
        while let Some(&(deadline, id)) = lane.leases.first() {
            if deadline > now {
                break;
            }
            lane.leases.pop_first();
            if let Some(entry) = self.entries.get_mut(&id) {
                entry.place = Place::Ready;
                lane.ready
                    .insert((Reverse(entry.priority), entry.not_before, id));
            }
        }
        while let Some(&(due, id)) = lane.pending.first() {
            if due > now {
                break;
            }
            lane.pending.pop_first();
            if let Some(entry) = self.entries.get_mut(&id) {
                entry.place = Place::Ready;
                lane.ready
                    .insert((Reverse(entry.priority), entry.not_before, id));
            }
        }
    }

    /// Depths per topic (stored rows), leases currently held, dead letters.
    pub fn depths(&mut self, now: Millis) -> ([u64; 3], u64, u64) {
        let mut leased = 0;
        for topic in Topic::ALL {
            self.reclaim_and_promote(topic, now);
            leased += self.lanes[topic_index(topic)].leases.len() as u64;
        }
        let stored = [0, 1, 2].map(|i| self.lanes[i].stored);
        (stored, leased, self.dead)
    }

    /// Holds a queued entry back from consumers for a cancel in flight.
    pub fn reserve(&mut self, id: i64) -> Reservation {
        let Some(entry) = self.entries.get_mut(&id) else {
            return Reservation::Absent;
        };
        let lane = &mut self.lanes[topic_index(entry.topic)];
        match entry.place {
            Place::Leased(_) => return Reservation::Leased,
            Place::Reserved => return Reservation::Reserved,
            Place::Ready => {
                lane.ready
                    .remove(&(Reverse(entry.priority), entry.not_before, id));
            }
            Place::Pending => {
                lane.pending.remove(&(entry.not_before, id));
            }
        }
        entry.place = Place::Reserved;
        Reservation::Reserved
    }

    /// Records the outcome of the write that drew `ticket` and applies every change whose
    /// turn has come. Returns the topics whose waiters should look again.
    pub fn settle(
        &mut self,
        ticket: u64,
        change: Change,
        committed: bool,
        now: Millis,
    ) -> TopicMask {
        self.parked.insert(ticket, (change, committed));
        let mut mask = 0;
        while let Some((change, committed)) = self.parked.remove(&self.next_apply) {
            self.next_apply += 1;
            mask |= if committed {
                self.apply(change, now)
            } else {
                self.undo(change, now)
            };
        }
        mask
    }

    fn apply(&mut self, change: Change, now: Millis) -> TopicMask {
        let mut mask = 0;
        for (id, topic) in change.removed {
            let lane = &mut self.lanes[topic_index(topic)];
            lane.stored = lane.stored.saturating_sub(1);
            self.forget(id);
        }
        for (id, topic, task) in change.inserted {
            self.lanes[topic_index(topic)].stored += 1;
            let key = (task.not_before(), id);
            if key > self.edge {
                continue;
            }
            if self.entries.len() >= self.capacity || (key.0 > now && self.pending_room() == 0) {
                // Memory is full (or, for a task not due yet, its half for those): leave the
                // row on disk and make the loader fetch it later.
                self.edge = (key.0, key.1 - 1);
                continue;
            }
            self.admit(id, topic, task, now);
            mask |= bit(topic);
        }
        self.dead = (self.dead + change.dead_added).saturating_sub(change.dead_removed);
        if let Some(load) = change.load {
            if let Some((stored, dead)) = load.counts {
                for (lane, n) in self.lanes.iter_mut().zip(stored) {
                    lane.stored = n;
                }
                self.dead = dead;
                self.loaded = true;
                mask = 0b111;
            }
            // An earlier change lowered the edge below where this load started (memory was
            // full): rows it could not admit sort before the loaded ones, so admitting these
            // would hand them out of order. Drop them; the next pass reads them again.
            if self.edge == load.from {
                self.edge = load.to;
                for (id, topic, task) in load.rows {
                    if !self.entries.contains_key(&id) {
                        self.admit(id, topic, task, now);
                        mask |= bit(topic);
                    }
                }
            }
        }
        mask
    }

    /// A failed write changed nothing on disk: release what its cancel held back.
    fn undo(&mut self, change: Change, now: Millis) -> TopicMask {
        let mut mask = 0;
        for id in change.reserved {
            if let Some(entry) = self.entries.get_mut(&id)
                && entry.place == Place::Reserved
            {
                let lane = &mut self.lanes[topic_index(entry.topic)];
                if entry.not_before <= now {
                    entry.place = Place::Ready;
                    lane.ready
                        .insert((Reverse(entry.priority), entry.not_before, id));
                } else {
                    entry.place = Place::Pending;
                    lane.pending.insert((entry.not_before, id));
                }
                mask |= bit(entry.topic);
            }
        }
        mask
    }

    fn admit(&mut self, id: i64, topic: Topic, task: TaskEnvelope, now: Millis) {
        let not_before = task.not_before();
        let priority = task.priority().as_u8();
        let lane = &mut self.lanes[topic_index(topic)];
        let place = if not_before <= now {
            lane.ready.insert((Reverse(priority), not_before, id));
            Place::Ready
        } else {
            lane.pending.insert((not_before, id));
            Place::Pending
        };
        self.entries.insert(
            id,
            Entry {
                topic,
                priority,
                not_before,
                deliveries: 0,
                place,
                task,
            },
        );
    }

    fn forget(&mut self, id: i64) {
        let Some(entry) = self.entries.remove(&id) else {
            return;
        };
        let lane = &mut self.lanes[topic_index(entry.topic)];
        match entry.place {
            Place::Ready => {
                lane.ready
                    .remove(&(Reverse(entry.priority), entry.not_before, id));
            }
            Place::Pending => {
                lane.pending.remove(&(entry.not_before, id));
            }
            Place::Leased(deadline) => {
                lane.leases.remove(&(deadline, id));
            }
            Place::Reserved => {}
        }
    }
}
