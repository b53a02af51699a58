//! The due lane of one logical topic on this node: tasks fetched from the partitions it owns,
//! ready to hand out or leased, and the leases' expiry. Pure state, driven by the consumer
//! thread (fetches, rebalances) and by `receive` / `commit` / `cancel`.
//!
//! Ready tasks are handed out by (due time, arrival): FIFO as fetched, a task whose lease
//! ended goes to the back, and a task stamped due later than this node's clock (clock skew
//! between nodes) waits for it. Leases are in-process: a task not acked within the lease is
//! ready again on the same node while that node holds the partition.

use crate::layout::receipt;
use crate::window::Window;
use herald_domain::{AppId, DeliveryId, Millis, TaskEnvelope};
use herald_ports::{Leased, Topic};
use std::collections::{BTreeMap, HashMap, HashSet};

/// Order key of a ready task or a lease: (time, arrival sequence).
type Key = (Millis, u64);

#[derive(Debug)]
pub(crate) struct DueEntry {
    /// The task as stored.
    task: TaskEnvelope,
    /// The key it has in `ready` or `leases`.
    key: Key,
    /// Whether `key` is in `leases` (else in `ready`).
    leased: bool,
    /// Hand-outs so far by this node.
    deliveries: u32,
}

/// Fetched tasks of one logical topic, by partition.
#[derive(Debug)]
pub(crate) struct DueLane {
    /// The logical topic, named in receipts.
    topic: Topic,
    /// One window per partition this node owns.
    windows: HashMap<i32, Window<DueEntry>>,
    /// Tasks to hand out, by (due time, arrival): (partition, offset).
    ready: BTreeMap<Key, (i32, i64)>,
    /// Tasks handed out, by (lease end, arrival): (partition, offset).
    leases: BTreeMap<Key, (i32, i64)>,
    /// Arrival counter: FIFO among equal times.
    seq: u64,
}

impl DueLane {
    pub(crate) fn new(topic: Topic) -> Self {
        Self {
            topic,
            windows: HashMap::new(),
            ready: BTreeMap::new(),
            leases: BTreeMap::new(),
            seq: 0,
        }
    }

    fn next_key(&mut self, at: Millis) -> Key {
        self.seq += 1;
        (at, self.seq)
    }

    pub(crate) fn topic(&self) -> Topic {
        self.topic
    }

    #[cfg(test)]
    pub(crate) fn windows(&self) -> &HashMap<i32, Window<DueEntry>> {
        &self.windows
    }

    pub(crate) fn windows_mut(&mut self) -> &mut HashMap<i32, Window<DueEntry>> {
        &mut self.windows
    }

    pub(crate) fn assign(&mut self, partition: i32, window: Window<DueEntry>) {
        self.revoke(partition);
        self.windows.insert(partition, window);
    }

    /// Forgets a partition this node no longer owns: its ready tasks and leases go with it
    /// (the new owner hands them out again from the committed offset).
    pub(crate) fn revoke(&mut self, partition: i32) -> Option<Window<DueEntry>> {
        self.ready.retain(|_, (p, _)| *p != partition);
        self.leases.retain(|_, (p, _)| *p != partition);
        self.windows.remove(&partition)
    }

    /// Adds a fetched task; false when the partition is not owned or the task was finished.
    pub(crate) fn fetched(&mut self, partition: i32, offset: i64, task: TaskEnvelope) -> bool {
        let key = self.next_key(task.not_before().max(0));
        let Some(window) = self.windows.get_mut(&partition) else {
            return false;
        };
        let entry = DueEntry {
            task,
            key,
            leased: false,
            deliveries: 0,
        };
        if !window.fetched(offset, entry) {
            return false;
        }
        self.ready.insert(key, (partition, offset));
        true
    }

    /// Leases up to `max` tasks due at `now` for `lease` ms. Tasks never handed out that
    /// `canceled` says are canceled are finished instead.
    pub(crate) fn take(
        &mut self,
        now: Millis,
        max: usize,
        lease: Millis,
        canceled: impl Fn(&TaskEnvelope) -> bool,
    ) -> Vec<Leased> {
        self.expire_leases(now);
        let mut out = Vec::new();
        while out.len() < max {
            let Some(entry) = self.ready.first_entry() else {
                break;
            };
            if entry.key().0 > now {
                break;
            }
            let (partition, offset) = entry.remove();
            let Some(window) = self.windows.get_mut(&partition) else {
                continue;
            };
            // A task handed out before its cancel stays the dispatcher's to finish (it may be
            // mid-send); only tasks never handed out here are dropped.
            if window
                .get_mut(offset)
                .is_some_and(|e| e.deliveries == 0 && canceled(&e.task))
            {
                window.finish(offset);
                continue;
            }
            self.seq += 1;
            let key = (now + lease, self.seq);
            let Some(e) = window.get_mut(offset) else {
                continue;
            };
            e.key = key;
            e.leased = true;
            e.deliveries += 1;
            out.push(Leased {
                receipt: receipt(self.topic, partition, offset),
                task: e.task.clone(),
                deliveries: e.deliveries,
            });
            self.leases.insert(key, (partition, offset));
        }
        out
    }

    fn expire_leases(&mut self, now: Millis) {
        while let Some(entry) = self.leases.first_entry() {
            if entry.key().0 > now {
                break;
            }
            let (partition, offset) = entry.remove();
            let key = self.next_key(now);
            if let Some(e) = self
                .windows
                .get_mut(&partition)
                .and_then(|w| w.get_mut(offset))
            {
                e.key = key;
                e.leased = false;
                self.ready.insert(key, (partition, offset));
            }
        }
    }

    /// When something may next become ready: the earliest due time or lease end.
    pub(crate) fn next_wake(&self) -> Option<Millis> {
        let ready = self.ready.keys().next().map(|k| k.0);
        let lease = self.leases.keys().next().map(|k| k.0);
        ready.into_iter().chain(lease).min()
    }

    /// Finishes a task (its outcome is recorded); false when this node does not hold it
    /// (stale receipt, partition moved on).
    pub(crate) fn ack(&mut self, partition: i32, offset: i64) -> bool {
        let Some(entry) = self
            .windows
            .get_mut(&partition)
            .and_then(|w| w.finish(offset))
        else {
            return false;
        };
        if entry.leased {
            self.leases.remove(&entry.key);
        } else {
            self.ready.remove(&entry.key);
        }
        true
    }

    /// Finishes ready (not leased) tasks of these deliveries of `app`; returns how many.
    pub(crate) fn cancel(&mut self, app: &AppId, deliveries: &HashSet<&DeliveryId>) -> u64 {
        let mut hits = Vec::new();
        for (partition, window) in &self.windows {
            for (offset, e) in window.unfinished() {
                let matches = matches!(e.task, TaskEnvelope::DeliveryV1(_))
                    && e.task.app_id() == app
                    && deliveries.contains(e.task.delivery_id());
                if matches && !e.leased {
                    hits.push((*partition, offset));
                }
            }
        }
        for (partition, offset) in &hits {
            self.ack(*partition, *offset);
        }
        hits.len() as u64
    }

    pub(crate) fn leased(&self) -> u64 {
        self.leases.len() as u64
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use herald_domain::Priority;
    use herald_ports::conformance::queue::delivery_task;

    fn lane_with(tasks: &[TaskEnvelope]) -> DueLane {
        let mut lane = DueLane::new(Topic::Send);
        lane.assign(0, Window::new(0, Default::default()));
        for (offset, task) in tasks.iter().enumerate() {
            assert!(lane.fetched(0, offset as i64, task.clone()));
        }
        lane
    }

    #[test]
    fn leases_expire_back_to_ready_and_count_deliveries() {
        let app = AppId::generate();
        let task = delivery_task(&app, Priority::Normal, 0);
        let mut lane = lane_with(std::slice::from_ref(&task));
        let first = lane.take(1_000, 10, 500, |_| false);
        assert_eq!(first.len(), 1);
        assert!(
            lane.take(1_400, 10, 500, |_| false).is_empty(),
            "still leased"
        );
        let second = lane.take(1_500, 10, 500, |_| false);
        assert_eq!((second.len(), second[0].deliveries), (1, 2));
        assert!(lane.ack(0, 0));
        assert!(!lane.ack(0, 0), "a second ack finds nothing");
        assert_eq!(lane.windows()[&0].commit_position(), 1);
        assert_eq!(lane.next_wake(), None);
    }

    #[test]
    fn a_held_task_does_not_block_the_ones_behind_it() {
        let app = AppId::generate();
        let tasks: Vec<_> = (0..3)
            .map(|_| delivery_task(&app, Priority::Normal, 0))
            .collect();
        let mut lane = lane_with(&tasks);
        let held = lane.take(10, 1, 60_000, |_| false);
        let rest = lane.take(10, 10, 60_000, |_| false);
        assert_eq!(rest.len(), 2, "tasks after a leased one flow");
        for l in &rest {
            let (p, o) = crate::layout::parse_receipt(&l.receipt).unwrap();
            lane.ack(p, o);
        }
        assert_eq!(
            lane.windows()[&0].commit_position(),
            0,
            "offset held below the lease"
        );
        assert_eq!(lane.windows()[&0].depth(3), 1);
        let (p, o) = crate::layout::parse_receipt(&held[0].receipt).unwrap();
        lane.ack(p, o);
        assert_eq!(lane.windows()[&0].commit_position(), 3);
    }

    #[test]
    fn canceled_tasks_are_finished_not_handed_out() {
        let app = AppId::generate();
        let tasks: Vec<_> = (0..3)
            .map(|_| delivery_task(&app, Priority::Normal, 0))
            .collect();
        let mut lane = lane_with(&tasks);
        let leased = lane.take(10, 1, 60_000, |_| false);
        let all: HashSet<&DeliveryId> = tasks.iter().map(|t| t.delivery_id()).collect();
        assert_eq!(
            lane.cancel(&AppId::generate(), &all),
            0,
            "other apps cannot"
        );
        let doomed = tasks[2].delivery_id().clone();
        let got = lane.take(10, 10, 60_000, |t| t.delivery_id() == &doomed);
        assert_eq!(got.len(), 1, "the tombstoned task is dropped at hand-out");
        assert_eq!(lane.cancel(&app, &all), 0, "leased tasks are left alone");
        assert_eq!(lane.leased(), 2);
        assert_eq!(leased[0].task, tasks[0]);

        let first = tasks[0].delivery_id().clone();
        let again = lane.take(60_010, 10, 60_000, |t| t.delivery_id() == &first);
        assert_eq!(
            again.len(),
            2,
            "tasks handed out before their cancel come back when their lease ends"
        );
    }

    #[test]
    fn tasks_due_later_wait_for_their_time() {
        let app = AppId::generate();
        let mut lane = lane_with(&[delivery_task(&app, Priority::Normal, 5_000)]);
        assert!(lane.take(4_999, 10, 500, |_| false).is_empty());
        assert_eq!(lane.next_wake(), Some(5_000));
        assert_eq!(lane.take(5_000, 10, 500, |_| false).len(), 1);
    }
}
