//! Which waiting write jobs the writer's next group commit takes, and in what order.
//!
//! Jobs declare their size (the items they write) when submitted. Small jobs — a single
//! accept, a dispatcher's acks and result events, a catalog change — are latency-bound:
//! someone waits for each. Bulk jobs — a batch accept of hundreds of receivers — are
//! throughput-bound. Some jobs are urgent whatever their size — the dispatcher's settle
//! (acks, result events and retries of up to thousands of sends), which the next sends wait
//! for — and are submitted as such. In one FIFO, sixteen 1,000-receiver accepts made every group ~16,000
//! deliveries (~200 ms of the writer), and the dispatcher's settle jobs, queued behind them,
//! waited that long each: during the `batch` benchmark delivery nearly stopped (10,752
//! delivered while 598,248 were accepted). So a group takes every waiting small job first
//! (up to the group's job limit), then bulk jobs in arrival order while the group holds
//! fewer than `max_group_items` items; at least one bulk job per group (its last slot is kept
//! for one when the group fills up with small jobs), so a stream of small jobs cannot starve
//! them.

use std::collections::VecDeque;

/// Jobs of at most this many items are small (see the module notes).
pub const SMALL_JOB_ITEMS: u64 = 256;

/// Waiting jobs, split by size; `J` is the job type (generic for the tests).
#[derive(Debug)]
pub struct Backlog<J> {
    small: VecDeque<(u64, J)>,
    bulk: VecDeque<(u64, J)>,
    max_group_items: u64,
}

impl<J> Backlog<J> {
    pub fn new(max_group_items: u64) -> Self {
        Self {
            small: VecDeque::new(),
            bulk: VecDeque::new(),
            max_group_items: max_group_items.max(1),
        }
    }

    /// Queues a job of `items` items; an urgent one counts as small whatever its size.
    pub fn push(&mut self, items: u64, urgent: bool, job: J) {
        if urgent || items <= SMALL_JOB_ITEMS {
            self.small.push_back((items, job));
        } else {
            self.bulk.push_back((items, job));
        }
    }

    pub fn is_empty(&self) -> bool {
        self.small.is_empty() && self.bulk.is_empty()
    }

    /// The next job for a group that already holds `group_items` items, with its size and
    /// whether it is bulk: small jobs first, then a bulk job while the group is under
    /// `max_group_items` — or whatever its size when the group holds no bulk job yet
    /// (`bulk_taken` false). On the group's `last_slot` a waiting bulk job goes before small
    /// ones if the group has none yet.
    pub fn next(
        &mut self,
        group_items: u64,
        bulk_taken: bool,
        last_slot: bool,
    ) -> Option<(u64, bool, J)> {
        let bulk = |(items, job)| (items, true, job);
        if last_slot && !bulk_taken && !self.bulk.is_empty() {
            return self.bulk.pop_front().map(bulk);
        }
        if let Some((items, job)) = self.small.pop_front() {
            return Some((items, false, job));
        }
        if !bulk_taken || group_items < self.max_group_items {
            return self.bulk.pop_front().map(bulk);
        }
        None
    }

    /// Takes every waiting job out, small ones first.
    pub fn drain(&mut self) -> impl Iterator<Item = J> + '_ {
        self.small
            .drain(..)
            .chain(self.bulk.drain(..))
            .map(|(_, job)| job)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Drains one group of at most `max_jobs` as the writer does; returns the job names in
    /// run order.
    fn group_of(backlog: &mut Backlog<&'static str>, max_jobs: usize) -> Vec<&'static str> {
        let (mut items, mut bulk_taken, mut taken) = (0, false, Vec::new());
        while taken.len() < max_jobs {
            let last_slot = taken.len() + 1 == max_jobs;
            let Some((n, is_bulk, job)) = backlog.next(items, bulk_taken, last_slot) else {
                break;
            };
            items += n;
            bulk_taken |= is_bulk;
            taken.push(job);
        }
        taken
    }

    fn group(backlog: &mut Backlog<&'static str>) -> Vec<&'static str> {
        group_of(backlog, usize::MAX)
    }

    #[test]
    fn small_jobs_overtake_bulk_ones_and_bulk_groups_are_capped() {
        let mut backlog = Backlog::new(2_500);
        backlog.push(1_000, false, "bulk 1");
        backlog.push(1_000, false, "bulk 2");
        backlog.push(1, false, "accept");
        backlog.push(1_000, false, "bulk 3");
        backlog.push(600, true, "settle");
        backlog.push(1_000, false, "bulk 4");
        assert_eq!(
            group(&mut backlog),
            ["accept", "settle", "bulk 1", "bulk 2"],
            "small and urgent first, then bulk in arrival order until the group passes 2,500 items"
        );
        backlog.push(1, false, "late accept");
        assert_eq!(group(&mut backlog), ["late accept", "bulk 3", "bulk 4"]);
        assert!(backlog.is_empty());
    }

    #[test]
    fn a_group_full_of_small_jobs_still_takes_one_bulk_job() {
        let mut backlog = Backlog::new(100);
        backlog.push(5_000, false, "bulk");
        for _ in 0..50 {
            backlog.push(10, false, "small");
        }
        let taken = group(&mut backlog);
        assert_eq!(taken.len(), 51);
        assert_eq!(taken.last(), Some(&"bulk"), "{taken:?}");
    }

    #[test]
    fn a_group_filled_by_small_jobs_keeps_its_last_slot_for_a_bulk_one() {
        let mut backlog = Backlog::new(100);
        backlog.push(5_000, false, "bulk");
        for _ in 0..50 {
            backlog.push(10, false, "small");
        }
        let taken = group_of(&mut backlog, 10);
        assert_eq!(taken.len(), 10);
        assert_eq!(taken[9], "bulk", "{taken:?}");
        assert_eq!(backlog.drain().count(), 41);
        assert!(backlog.is_empty());
    }
}
