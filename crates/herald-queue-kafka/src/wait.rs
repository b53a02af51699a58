//! The waiting lane of one delay-level topic on this node: delayed tasks fetched from the
//! partitions it owns, and the decision what to do with each once its level's hold is over.
//!
//! A task published to level `L` carries `hold_until = publish time + L`. Once that passed,
//! it is examined: canceled → finished; due → moved to the due topic; still `r` ms early →
//! moved to the level `<= r` (a hop), or, when `r` is shorter than the first level, kept in
//! memory on a timer and moved when due. A task is finished (its offset released) only once
//! its move is confirmed by the broker, so a crash moves it again (a duplicate), never loses
//! it. Holds within one level topic grow with the offset (same hold added to publish time),
//! so the lane examines each partition in order and stops at the first task still held.

use crate::layout::Layout;
use crate::window::Window;
use herald_domain::{AppId, DeliveryId, Millis, TaskEnvelope};
use herald_ports::Topic;
use std::collections::{HashMap, HashSet};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum WaitState {
    /// Not examined yet: waits for `hold_until`.
    Holding,
    /// Examined, due within the first level: waits in memory for `not_before`.
    Timer,
    /// A move was sent and is not confirmed yet.
    Moving,
}

#[derive(Debug)]
pub(crate) struct WaitEntry {
    /// The task as stored.
    task: TaskEnvelope,
    /// Not examined before this time (the record's header).
    hold_until: Millis,
    /// Where the task is in its wait.
    state: WaitState,
}

/// Where a waiting task goes next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Destination {
    Due,
    Level(usize),
}

/// A move the mover must publish, then confirm with [`WaitLane::moved`].
#[derive(Debug, Clone)]
pub(crate) struct Move {
    pub(crate) topic: Topic,
    pub(crate) level: usize,
    pub(crate) partition: i32,
    pub(crate) offset: i64,
    pub(crate) task: TaskEnvelope,
    pub(crate) to: Destination,
}

/// Fetched tasks of one delay-level topic, by partition.
#[derive(Debug)]
pub(crate) struct WaitLane {
    /// The logical topic the tasks wait for.
    topic: Topic,
    /// The ladder level this lane's Kafka topic holds.
    level: usize,
    /// One window per partition this node owns.
    windows: HashMap<i32, Window<WaitEntry>>,
}

impl WaitLane {
    pub(crate) fn new(topic: Topic, level: usize) -> Self {
        Self {
            topic,
            level,
            windows: HashMap::new(),
        }
    }

    pub(crate) fn topic(&self) -> Topic {
        self.topic
    }

    pub(crate) fn level(&self) -> usize {
        self.level
    }

    #[cfg(test)]
    pub(crate) fn windows(&self) -> &HashMap<i32, Window<WaitEntry>> {
        &self.windows
    }

    pub(crate) fn windows_mut(&mut self) -> &mut HashMap<i32, Window<WaitEntry>> {
        &mut self.windows
    }

    pub(crate) fn assign(&mut self, partition: i32, window: Window<WaitEntry>) {
        self.windows.insert(partition, window);
    }

    pub(crate) fn revoke(&mut self, partition: i32) -> Option<Window<WaitEntry>> {
        self.windows.remove(&partition)
    }

    pub(crate) fn fetched(
        &mut self,
        partition: i32,
        offset: i64,
        task: TaskEnvelope,
        hold_until: Millis,
    ) -> bool {
        let entry = WaitEntry {
            task,
            hold_until,
            state: WaitState::Holding,
        };
        self.windows
            .get_mut(&partition)
            .is_some_and(|w| w.fetched(offset, entry))
    }

    /// Examines what is due for a look at `now`, appends the moves to make, and returns when
    /// to look again.
    pub(crate) fn plan(
        &mut self,
        now: Millis,
        layout: &Layout,
        canceled: impl Fn(&TaskEnvelope) -> bool,
        moves: &mut Vec<Move>,
    ) -> Option<Millis> {
        let mut wake: Option<Millis> = None;
        let mut later = |at: Millis| wake = Some(wake.map_or(at, |w| w.min(at)));
        let first_level = layout.hold(1);
        for (partition, window) in &mut self.windows {
            let mut finished = Vec::new();
            for (offset, e) in window.unfinished_mut() {
                match e.state {
                    WaitState::Moving => continue,
                    WaitState::Holding if e.hold_until > now => {
                        later(e.hold_until);
                        break;
                    }
                    WaitState::Holding | WaitState::Timer => {}
                }
                if canceled(&e.task) {
                    finished.push(offset);
                    continue;
                }
                let remaining = e.task.not_before() - now;
                let to = if remaining <= 0 {
                    Destination::Due
                } else if remaining >= first_level {
                    Destination::Level(layout.level_for(remaining))
                } else {
                    e.state = WaitState::Timer;
                    later(e.task.not_before());
                    continue;
                };
                e.state = WaitState::Moving;
                moves.push(Move {
                    topic: self.topic,
                    level: self.level,
                    partition: *partition,
                    offset,
                    task: e.task.clone(),
                    to,
                });
            }
            for offset in finished {
                window.finish(offset);
            }
        }
        wake
    }

    /// The move of the task at `offset` is confirmed: the task is finished here.
    pub(crate) fn moved(&mut self, partition: i32, offset: i64) {
        if let Some(w) = self.windows.get_mut(&partition) {
            w.finish(offset);
        }
    }

    /// The move failed: examine the task again at `retry_at`.
    pub(crate) fn move_failed(&mut self, partition: i32, offset: i64, retry_at: Millis) {
        if let Some(e) = self
            .windows
            .get_mut(&partition)
            .and_then(|w| w.get_mut(offset))
        {
            e.state = WaitState::Holding;
            e.hold_until = retry_at;
        }
    }

    /// Finishes waiting (not moving) tasks of these deliveries of `app`; returns how many.
    pub(crate) fn cancel(&mut self, app: &AppId, deliveries: &HashSet<&DeliveryId>) -> u64 {
        let mut count = 0;
        for window in self.windows.values_mut() {
            let hits: Vec<i64> = window
                .unfinished()
                .filter(|(_, e)| {
                    e.state != WaitState::Moving
                        && e.task.app_id() == app
                        && deliveries.contains(e.task.delivery_id())
                })
                .map(|(offset, _)| offset)
                .collect();
            for offset in hits {
                window.finish(offset);
                count += 1;
            }
        }
        count
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::options::KafkaQueueOptions;
    use herald_domain::Priority;
    use herald_ports::conformance::queue::delivery_task;
    use std::time::Duration;

    fn layout() -> Layout {
        Layout::new(&KafkaQueueOptions {
            delay_levels: vec![Duration::from_secs(1), Duration::from_secs(10)],
            ..Default::default()
        })
    }

    #[test]
    fn tasks_hop_down_the_ladder_and_never_move_early() {
        let layout = layout();
        let app = AppId::generate();
        let mut lane = WaitLane::new(Topic::Send, 2);
        lane.assign(0, Window::new(0, Default::default()));
        let far = delivery_task(&app, Priority::Normal, 100_000);
        let near = delivery_task(&app, Priority::Normal, 10_500);
        lane.fetched(0, 0, far, 10_000);
        lane.fetched(0, 1, near, 10_000);
        let mut moves = Vec::new();
        assert_eq!(
            lane.plan(9_999, &layout, |_| false, &mut moves),
            Some(10_000)
        );
        assert!(moves.is_empty(), "held until its level passed");

        let wake = lane.plan(10_000, &layout, |_| false, &mut moves);
        assert_eq!(moves.len(), 1, "the far task hops");
        assert_eq!(moves[0].to, Destination::Level(2));
        assert_eq!(wake, Some(10_500), "the near one waits in memory");
        lane.moved(0, moves[0].offset);
        assert_eq!(lane.windows()[&0].commit_position(), 1);

        moves.clear();
        lane.plan(10_500, &layout, |_| false, &mut moves);
        assert_eq!(moves[0].to, Destination::Due);
        lane.move_failed(0, 1, 11_000);
        moves.clear();
        assert_eq!(
            lane.plan(10_600, &layout, |_| false, &mut moves),
            Some(11_000)
        );
        assert!(moves.is_empty(), "a failed move is retried later");
    }

    #[test]
    fn canceled_tasks_are_dropped_not_moved() {
        let layout = layout();
        let app = AppId::generate();
        let mut lane = WaitLane::new(Topic::Retry, 0);
        lane.assign(0, Window::new(0, Default::default()));
        let a = delivery_task(&app, Priority::Normal, 500);
        let b = delivery_task(&app, Priority::Normal, 500);
        lane.fetched(0, 0, a.clone(), 0);
        lane.fetched(0, 1, b.clone(), 0);
        let mut moves = Vec::new();
        lane.plan(0, &layout, |t| t == &a, &mut moves);
        assert!(moves.is_empty());
        let set: HashSet<&DeliveryId> = [b.delivery_id()].into_iter().collect();
        assert_eq!(lane.cancel(&app, &set), 1);
        assert_eq!(lane.windows()[&0].commit_position(), 2);
    }
}
