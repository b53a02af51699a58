//! The offset window of one partition: which fetched tasks are finished (acked, moved,
//! dead-lettered, canceled) and which are not, so the committed offset never passes a task
//! whose outcome is not recorded, while tasks after it keep flowing.
//!
//! The commit position is the offset of the first unfinished task (or the next offset to
//! fetch when all are finished). Tasks finished *above* it are written to the acks topic
//! (module `views` folds it on every node), so a node that takes the partition over after a
//! rebalance or crash skips them instead of handing them out again. Kafka's offset-commit
//! metadata would be the natural carrier, but tansu returns it empty. At most
//! [`MAX_REMEMBERED`] offsets are written per record; beyond that a takeover may hand some
//! out again — duplicates, never losses.

use std::collections::{BTreeMap, BTreeSet};

/// Most finished offsets above the commit position one acks record carries.
pub(crate) const MAX_REMEMBERED: usize = 1_000;

/// Fetched tasks of one partition at or above the commit position.
#[derive(Debug)]
pub(crate) struct Window<E> {
    /// Offset of the first unfinished task; everything below is finished.
    base: i64,
    /// The next offset the consumer will deliver (last fetched + 1).
    next: i64,
    /// Fetched tasks by offset; `None` once finished.
    slots: BTreeMap<i64, Option<E>>,
    /// Offsets not fetched yet that a previous owner finished (from the acks topic).
    finished_ahead: BTreeSet<i64>,
    /// The commit position moved since the last offset commit.
    moved: bool,
    /// The set of finished offsets above the position changed since it was last written.
    finished_changed: bool,
}

impl<E> Window<E> {
    /// A window starting at the committed `base`, skipping `finished` offsets above it.
    pub(crate) fn new(base: i64, finished: BTreeSet<i64>) -> Self {
        Self {
            base,
            next: base,
            slots: BTreeMap::new(),
            finished_ahead: finished.into_iter().filter(|o| *o >= base).collect(),
            moved: false,
            finished_changed: false,
        }
    }

    /// Records a fetched task; returns `false` (and drops it) when it was finished before
    /// (by a previous owner) or fetched already.
    pub(crate) fn fetched(&mut self, offset: i64, entry: E) -> bool {
        if offset < self.next {
            return false;
        }
        self.next = offset + 1;
        if self.finished_ahead.remove(&offset) {
            self.slots.insert(offset, None);
            self.advance();
            return false;
        }
        self.slots.insert(offset, Some(entry));
        self.advance();
        true
    }

    /// Records a fetched offset that carries no usable task (undecodable): finished at once,
    /// so it never holds the commit position back.
    pub(crate) fn skipped(&mut self, offset: i64) {
        if offset >= self.next {
            self.next = offset + 1;
            self.finished_ahead.remove(&offset);
            self.slots.insert(offset, None);
            self.finished_changed = true;
            self.advance();
        }
    }

    pub(crate) fn get_mut(&mut self, offset: i64) -> Option<&mut E> {
        self.slots.get_mut(&offset).and_then(Option::as_mut)
    }

    /// Marks the task at `offset` finished; returns it if it was unfinished.
    pub(crate) fn finish(&mut self, offset: i64) -> Option<E> {
        let entry = self.slots.get_mut(&offset)?.take()?;
        self.finished_changed = true;
        self.advance();
        Some(entry)
    }

    fn advance(&mut self) {
        while let Some(entry) = self.slots.first_entry() {
            if entry.get().is_some() {
                break;
            }
            entry.remove();
        }
        let base = self.slots.keys().next().copied().unwrap_or(self.next);
        if base != self.base {
            self.base = base;
            self.moved = true;
        }
    }

    pub(crate) fn commit_position(&self) -> i64 {
        self.base
    }

    pub(crate) fn next_offset(&self) -> i64 {
        self.next
    }

    /// Unfinished fetched tasks, by offset.
    pub(crate) fn unfinished(&self) -> impl Iterator<Item = (i64, &E)> {
        self.slots
            .iter()
            .filter_map(|(offset, e)| e.as_ref().map(|e| (*offset, e)))
    }

    pub(crate) fn unfinished_mut(&mut self) -> impl Iterator<Item = (i64, &mut E)> {
        self.slots
            .iter_mut()
            .filter_map(|(offset, e)| e.as_mut().map(|e| (*offset, e)))
    }

    pub(crate) fn unfinished_count(&self) -> usize {
        self.slots.values().filter(|e| e.is_some()).count()
    }

    fn finished_above(&self) -> impl Iterator<Item = i64> + '_ {
        let fetched = self
            .slots
            .iter()
            .filter(|(_, e)| e.is_none())
            .map(|(offset, _)| *offset);
        fetched.chain(self.finished_ahead.iter().copied())
    }

    /// Tasks stored between the commit position and `end` (the partition's end offset) that
    /// are not finished: the partition's depth as far as this node knows.
    pub(crate) fn depth(&self, end: i64) -> u64 {
        let finished = self.finished_above().filter(|o| *o < end).count() as i64;
        (end - self.base - finished).max(0) as u64
    }

    /// The position to commit, if it moved since the last call.
    pub(crate) fn take_commit(&mut self) -> Option<i64> {
        std::mem::take(&mut self.moved).then_some(self.base)
    }

    /// The finished offsets above the position (at most [`MAX_REMEMBERED`]), if they changed
    /// since the last call (or always, with `force`) and there are any.
    pub(crate) fn take_finished(&mut self, force: bool) -> Option<Vec<i64>> {
        let changed = std::mem::take(&mut self.finished_changed);
        if !changed && !force {
            return None;
        }
        let finished: Vec<i64> = self.finished_above().take(MAX_REMEMBERED).collect();
        (!finished.is_empty()).then_some(finished)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commit_position_stops_at_the_lowest_unfinished() {
        let mut w = Window::new(10, BTreeSet::new());
        for offset in 10..15 {
            assert!(w.fetched(offset, offset));
        }
        assert_eq!(w.finish(11), Some(11));
        assert_eq!(w.finish(13), Some(13));
        assert_eq!(w.commit_position(), 10, "10 is still out");
        assert_eq!(w.depth(15), 3);
        assert_eq!(w.take_commit(), None, "the position did not move");
        assert_eq!(w.take_finished(false), Some(vec![11, 13]));
        assert_eq!(w.take_finished(false), None, "nothing changed since");
        w.finish(10);
        assert_eq!(w.commit_position(), 12, "10 and 11 finished");
        assert_eq!(w.finish(10), None, "finishing twice is a no-op");
        assert_eq!(w.take_commit(), Some(12));
        assert_eq!(w.take_finished(false), Some(vec![13]));
        w.finish(12);
        w.finish(14);
        assert_eq!(w.commit_position(), 15);
        assert_eq!(w.take_finished(true), None, "nothing above the position");
        assert_eq!(w.depth(17), 2, "two stored, not fetched yet");
    }

    #[test]
    fn the_next_owner_skips_finished_tasks() {
        let mut first = Window::new(0, BTreeSet::new());
        for offset in 0..4 {
            first.fetched(offset, ());
        }
        first.finish(1);
        first.finish(3);
        let finished = first.take_finished(true).unwrap();

        let mut second = Window::new(first.commit_position(), finished.into_iter().collect());
        assert_eq!(second.depth(4), 2, "the finished ones are not counted");
        let handed: Vec<i64> = (0..4).filter(|o| second.fetched(*o, ())).collect();
        assert_eq!(handed, vec![0, 2], "finished tasks are skipped");
    }

    #[test]
    fn gaps_and_refetches_do_not_confuse_the_position() {
        let mut w = Window::new(0, BTreeSet::new());
        assert!(w.fetched(5, ()), "a gap (compaction) is fine");
        assert!(!w.fetched(5, ()), "a refetch is ignored");
        w.finish(5);
        assert_eq!(w.commit_position(), 6);
        assert_eq!(w.next_offset(), 6);
    }

    #[test]
    fn remembered_offsets_are_capped() {
        let mut w = Window::new(0, BTreeSet::new());
        for offset in 0..5_000 {
            w.fetched(offset, ());
        }
        for offset in 1..5_000 {
            w.finish(offset);
        }
        assert_eq!(w.take_finished(true).map(|f| f.len()), Some(MAX_REMEMBERED));
    }
}
