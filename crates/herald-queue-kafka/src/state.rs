//! What one node holds in memory, shared by the consumer thread, the mover and the `Queue`
//! calls: the due and waiting lanes of the partitions this node owns, and the signals that
//! wake whoever waits on them. One mutex guards all lanes; every critical section is short
//! (no I/O under the lock).

use crate::due::DueLane;
use crate::layout::{DELAYED_TOPICS, Layout, Route};
use crate::options::KafkaQueueOptions;
use crate::wait::WaitLane;
use crate::window::Window;
use herald_ports::Topic;
use parking_lot::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use tokio::sync::Notify;

/// The lanes of this node.
#[derive(Debug)]
pub(crate) struct Lanes {
    /// Indexed like `Topic::ALL`.
    pub(crate) due: Vec<DueLane>,
    /// Indexed by `wait_index(topic, level)`.
    pub(crate) wait: Vec<WaitLane>,
}

impl Lanes {
    pub(crate) fn due_mut(&mut self, topic: Topic) -> &mut DueLane {
        &mut self.due[topic_index(topic)]
    }

    pub(crate) fn due(&self, topic: Topic) -> &DueLane {
        &self.due[topic_index(topic)]
    }

    /// Calls `f` with the window of a Kafka partition this node owns, whatever its lane.
    pub(crate) fn with_window<T>(
        &mut self,
        route: Route,
        partition: i32,
        levels: usize,
        f: impl FnOnce(Option<WindowRef<'_>>) -> T,
    ) -> T {
        match route {
            Route::Due(topic) => f(self
                .due_mut(topic)
                .windows_mut()
                .get_mut(&partition)
                .map(WindowRef::Due)),
            Route::Wait(topic, level) => f(self.wait[wait_index(topic, level, levels)]
                .windows_mut()
                .get_mut(&partition)
                .map(WindowRef::Wait)),
        }
    }
}

/// A window of either lane kind, for the code that only needs offsets.
pub(crate) enum WindowRef<'a> {
    Due(&'a mut Window<crate::due::DueEntry>),
    Wait(&'a mut Window<crate::wait::WaitEntry>),
}

impl WindowRef<'_> {
    pub(crate) fn take_commit(&mut self) -> Option<i64> {
        match self {
            Self::Due(w) => w.take_commit(),
            Self::Wait(w) => w.take_commit(),
        }
    }

    pub(crate) fn commit_position(&self) -> i64 {
        match self {
            Self::Due(w) => w.commit_position(),
            Self::Wait(w) => w.commit_position(),
        }
    }

    pub(crate) fn take_finished(&mut self, force: bool) -> Option<Vec<i64>> {
        match self {
            Self::Due(w) => w.take_finished(force),
            Self::Wait(w) => w.take_finished(force),
        }
    }

    pub(crate) fn skipped(&mut self, offset: i64) {
        match self {
            Self::Due(w) => w.skipped(offset),
            Self::Wait(w) => w.skipped(offset),
        }
    }

    pub(crate) fn unfinished_count(&self) -> usize {
        match self {
            Self::Due(w) => w.unfinished_count(),
            Self::Wait(w) => w.unfinished_count(),
        }
    }

    pub(crate) fn next_offset(&self) -> i64 {
        match self {
            Self::Due(w) => w.next_offset(),
            Self::Wait(w) => w.next_offset(),
        }
    }

    pub(crate) fn depth(&self, end: i64) -> u64 {
        match self {
            Self::Due(w) => w.depth(end),
            Self::Wait(w) => w.depth(end),
        }
    }
}

impl Lanes {
    /// Calls `f` with every window this node owns and its Kafka topic name.
    pub(crate) fn for_each_window(
        &mut self,
        layout: &Layout,
        mut f: impl FnMut(&str, i32, WindowRef<'_>),
    ) {
        for lane in &mut self.due {
            let name = layout.due(lane.topic());
            for (partition, window) in lane.windows_mut() {
                f(&name, *partition, WindowRef::Due(window));
            }
        }
        for lane in &mut self.wait {
            let name = layout.wait(lane.topic(), lane.level());
            for (partition, window) in lane.windows_mut() {
                f(&name, *partition, WindowRef::Wait(window));
            }
        }
    }
}

pub(crate) fn topic_index(topic: Topic) -> usize {
    match topic {
        Topic::Send => 0,
        Topic::Retry => 1,
        Topic::Result => 2,
    }
}

pub(crate) fn wait_index(topic: Topic, level: usize, levels: usize) -> usize {
    let delayed = DELAYED_TOPICS
        .iter()
        .position(|t| *t == topic)
        .expect("only send and retry wait");
    delayed * levels + level
}

/// Everything the node's parts share.
#[derive(Debug)]
pub(crate) struct Shared {
    pub(crate) layout: Layout,
    pub(crate) options: KafkaQueueOptions,
    pub(crate) lanes: Mutex<Lanes>,
    /// A due lane got tasks (wakes `receive`).
    pub(crate) ready: Notify,
    /// A waiting lane got tasks or a move finished (wakes the mover).
    pub(crate) waiting: Notify,
    /// The consumer fetched something or was (re)assigned (wakes catch-up waits).
    pub(crate) fetched: Notify,
    /// Windows changed: the consumer thread should commit offsets soon.
    pub(crate) commit_wanted: AtomicBool,
    /// Rebalances that assigned partitions to this node so far.
    pub(crate) assignments: AtomicU64,
    /// End offsets this node's own writes prove.
    pub(crate) produced: crate::publish::ProducedEnds,
    /// The node is closing: threads and tasks stop.
    pub(crate) closing: AtomicBool,
}

impl Shared {
    pub(crate) fn new(options: KafkaQueueOptions) -> Self {
        let layout = Layout::new(&options);
        let due = Topic::ALL.iter().map(|t| DueLane::new(*t)).collect();
        let mut wait = Vec::new();
        for topic in DELAYED_TOPICS {
            for level in 0..layout.levels() {
                wait.push(WaitLane::new(topic, level));
            }
        }
        Self {
            layout,
            options,
            lanes: Mutex::new(Lanes { due, wait }),
            ready: Notify::new(),
            waiting: Notify::new(),
            fetched: Notify::new(),
            commit_wanted: AtomicBool::new(false),
            assignments: AtomicU64::new(0),
            produced: Default::default(),
            closing: AtomicBool::new(false),
        }
    }

    pub(crate) fn wait_index(&self, topic: Topic, level: usize) -> usize {
        wait_index(topic, level, self.layout.levels())
    }

    pub(crate) fn want_commit(&self) {
        self.commit_wanted.store(true, Ordering::Release);
    }

    pub(crate) fn is_closing(&self) -> bool {
        self.closing.load(Ordering::Acquire)
    }
}
