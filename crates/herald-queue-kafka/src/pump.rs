//! The workers' consumer: one group member per node subscribed to the due and delay-level
//! topics, polled on a thread of its own. It routes fetched tasks into the lanes, builds a
//! window per partition when the group assigns one (from the committed offset and the
//! finished offsets the acks topic remembers), commits each window's position when it moves,
//! writes finished offsets above it to the acks topic, commits and forgets partitions on
//! revocation, and pauses a partition whose window is full.

use crate::codec::{AckRecord, decode, hold_until};
use crate::layout::Route;
use crate::state::{Shared, WindowRef};
use crate::views::Views;
use crate::window::Window;
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer, ConsumerContext, Rebalance};
use rdkafka::message::{BorrowedMessage, Message};
use rdkafka::producer::{FutureProducer, FutureRecord, Producer};
use rdkafka::{ClientContext, Offset, TopicPartitionList};
use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

/// How long one poll blocks: the longest a commit or a pause waits behind an idle poll.
const POLL: Duration = Duration::from_millis(20);
/// Shortest gap between two offset commits while acks stream in.
const COMMIT_GAP: Duration = Duration::from_millis(10);
/// Shortest gap between two writes of finished offsets to the acks topic.
const ACKS_GAP: Duration = Duration::from_millis(100);
/// Longest gap between two looks at flow control and pending commits.
const HOUSEKEEPING: Duration = Duration::from_millis(200);

pub(crate) type WorkerConsumer = BaseConsumer<PumpContext>;

/// Finished offsets of one partition to write: (topic, partition, (position, offsets)).
type PartitionAcks = (String, i32, (i64, Vec<i64>));

/// Rebalance hooks of the workers' consumer, and what they need.
pub(crate) struct PumpContext {
    /// The lanes the windows live in.
    pub(crate) shared: Arc<Shared>,
    /// The acks a new window starts from.
    pub(crate) views: Arc<Views>,
    /// Writes the acks records.
    pub(crate) producer: FutureProducer,
}

impl ClientContext for PumpContext {}

impl ConsumerContext for PumpContext {
    fn pre_rebalance(&self, consumer: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        let Rebalance::Revoke(revoked) = rebalance else {
            return;
        };
        let shared = &self.shared;
        let mut commits = TopicPartitionList::new();
        let mut acks = Vec::new();
        {
            let mut lanes = shared.lanes.lock();
            for elem in revoked.elements() {
                let (topic, partition) = (elem.topic(), elem.partition());
                let Some(route) = shared.layout.route(topic) else {
                    continue;
                };
                let levels = shared.layout.levels();
                let position = lanes.with_window(route, partition, levels, |w| {
                    w.map(|mut w| {
                        let base = w.commit_position();
                        (base, w.take_finished(true).map(|f| (base, f)))
                    })
                });
                if let Some((offset, finished)) = position {
                    add_commit(&mut commits, topic, partition, offset);
                    if let Some(finished) = finished {
                        acks.push((topic.to_owned(), partition, finished));
                    }
                }
                match route {
                    Route::Due(t) => drop(lanes.due_mut(t).revoke(partition)),
                    Route::Wait(t, level) => {
                        drop(lanes.wait[shared.wait_index(t, level)].revoke(partition))
                    }
                }
            }
        }
        if !acks.is_empty() {
            write_acks(&self.producer, shared, acks);
            if let Err(e) = self.producer.flush(shared.options.request_timeout) {
                tracing::warn!(error = %e, "Kafka queue: flushing acks on revocation failed");
            }
        }
        if commits.count() > 0
            && !consumer.assignment_lost()
            && let Err(e) = consumer.commit(&commits, CommitMode::Sync)
        {
            tracing::warn!(error = %e, "Kafka queue: committing revoked partitions failed");
        }
    }

    fn post_rebalance(&self, consumer: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        let Rebalance::Assign(assigned) = rebalance else {
            return;
        };
        let shared = &self.shared;
        let timeout = shared.options.request_timeout;
        let committed = consumer
            .committed_offsets((*assigned).clone(), timeout)
            .unwrap_or_else(|e| {
                tracing::warn!(error = %e, "Kafka queue: reading committed offsets failed");
                (*assigned).clone()
            });
        let mut windows = Vec::new();
        for elem in committed.elements() {
            let (topic, partition) = (elem.topic(), elem.partition());
            let base = match elem.offset() {
                Offset::Offset(offset) => offset,
                _ => consumer
                    .fetch_watermarks(topic, partition, timeout)
                    .map(|(low, _)| low)
                    .unwrap_or(0),
            };
            if let Some(route) = shared.layout.route(topic) {
                let finished = self.views.finished_from(topic, partition, base);
                windows.push((route, partition, base, finished));
            }
        }
        {
            let mut lanes = shared.lanes.lock();
            for (route, partition, base, finished) in windows {
                match route {
                    Route::Due(t) => lanes
                        .due_mut(t)
                        .assign(partition, Window::new(base, finished)),
                    Route::Wait(t, level) => lanes.wait[shared.wait_index(t, level)]
                        .assign(partition, Window::new(base, finished)),
                }
            }
        }
        shared.assignments.fetch_add(1, Ordering::AcqRel);
        shared.fetched.notify_waiters();
    }
}

fn add_commit(tpl: &mut TopicPartitionList, topic: &str, partition: i32, offset: i64) {
    if let Err(e) = tpl.add_partition_offset(topic, partition, Offset::Offset(offset)) {
        tracing::warn!(error = %e, topic, partition, "Kafka queue: bad offset to commit");
    }
}

/// Enqueues acks records (delivery is confirmed by a later flush or not at all: a lost
/// record only means a takeover may hand those tasks out again).
fn write_acks(producer: &FutureProducer, shared: &Shared, acks: Vec<PartitionAcks>) {
    let topic = shared.layout.acks();
    for (task_topic, partition, (base, finished)) in acks {
        let key = format!("{task_topic}/{partition}");
        let record = AckRecord {
            topic: task_topic,
            partition,
            base,
            finished,
        };
        let Ok(payload) = serde_json::to_vec(&record) else {
            continue;
        };
        let send = producer.send_result(
            FutureRecord::<str, [u8]>::to(&topic)
                .key(&key)
                .payload(&payload),
        );
        if let Err((e, _)) = send {
            tracing::warn!(error = %e, "Kafka queue: could not enqueue an acks record");
        }
    }
}

/// Runs the consumer loop until the node closes, then commits what finished.
pub(crate) fn spawn(
    consumer: Arc<WorkerConsumer>,
    shared: Arc<Shared>,
) -> std::io::Result<std::thread::JoinHandle<()>> {
    std::thread::Builder::new()
        .name("herald-kafka-pump".into())
        .spawn(move || {
            let producer = consumer.context().producer.clone();
            let mut flow = FlowControl::default();
            let mut last = Instant::now();
            while !shared.is_closing() {
                match consumer.poll(POLL) {
                    Some(Ok(message)) => route(&shared, &message),
                    Some(Err(e)) => tracing::warn!(error = %e, "Kafka queue consumer"),
                    None => {}
                }
                let wanted = shared.commit_wanted.load(Ordering::Acquire);
                if (wanted && last.elapsed() >= COMMIT_GAP) || last.elapsed() >= HOUSEKEEPING {
                    shared.commit_wanted.store(false, Ordering::Release);
                    flow.housekeeping(&consumer, &producer, &shared, false);
                    last = Instant::now();
                }
            }
            flow.housekeeping(&consumer, &producer, &shared, true);
            if let Err(e) = producer.flush(shared.options.request_timeout) {
                tracing::warn!(error = %e, "Kafka queue: flushing acks on close failed");
            }
        })
}

/// Puts a fetched record into its lane and wakes whoever waits for it.
fn route(shared: &Shared, message: &BorrowedMessage<'_>) {
    let Some(route) = shared.layout.route(message.topic()) else {
        return;
    };
    let (partition, offset) = (message.partition(), message.offset());
    let task = message.payload().map(decode);
    let mut lanes = shared.lanes.lock();
    match (route, task) {
        (Route::Due(topic), Some(Ok(task))) => {
            if lanes.due_mut(topic).fetched(partition, offset, task) {
                shared.ready.notify_waiters();
            }
        }
        (Route::Wait(topic, level), Some(Ok(task))) => {
            let hold = hold_until(message);
            if lanes.wait[shared.wait_index(topic, level)].fetched(partition, offset, task, hold) {
                shared.waiting.notify_one();
            }
        }
        (_, bad) => {
            let why = match bad {
                Some(Err(e)) => e.to_string(),
                _ => "empty payload".to_owned(),
            };
            tracing::error!(topic = message.topic(), partition, offset, %why, "Kafka queue: skipping an unreadable record");
            let levels = shared.layout.levels();
            lanes.with_window(route, partition, levels, |w| {
                if let Some(mut w) = w {
                    w.skipped(offset);
                }
            });
        }
    }
    drop(lanes);
    shared.fetched.notify_waiters();
}

/// Which partitions this thread paused (reset by every new assignment), and when it last
/// wrote acks.
struct FlowControl {
    paused: HashSet<(String, i32)>,
    seen_assignments: u64,
    acks_written: Instant,
}

impl Default for FlowControl {
    fn default() -> Self {
        Self {
            paused: HashSet::new(),
            seen_assignments: 0,
            acks_written: Instant::now(),
        }
    }
}

impl FlowControl {
    /// Commits moved positions, writes changed finished sets (every [`ACKS_GAP`], or all of
    /// them when `closing`) and pauses or resumes partitions by window size.
    fn housekeeping(
        &mut self,
        consumer: &WorkerConsumer,
        producer: &FutureProducer,
        shared: &Shared,
        closing: bool,
    ) {
        let assignments = shared.assignments.load(Ordering::Acquire);
        if assignments != self.seen_assignments {
            self.paused.clear();
            self.seen_assignments = assignments;
        }
        let max = shared.options.max_window;
        let mut commits = TopicPartitionList::new();
        let mut pause = TopicPartitionList::new();
        let mut resume = TopicPartitionList::new();
        let mut acks = Vec::new();
        let write_acks_now = closing || self.acks_written.elapsed() >= ACKS_GAP;
        if write_acks_now {
            self.acks_written = Instant::now();
        }
        shared.lanes.lock().for_each_window(
            &shared.layout,
            |topic, partition, mut w: WindowRef<'_>| {
                if let Some(offset) = w.take_commit() {
                    add_commit(&mut commits, topic, partition, offset);
                }
                if write_acks_now && let Some(finished) = w.take_finished(closing) {
                    acks.push((topic.to_owned(), partition, (w.commit_position(), finished)));
                }
                let key = (topic.to_owned(), partition);
                let open = w.unfinished_count();
                if open >= max && !self.paused.contains(&key) {
                    pause.add_partition(topic, partition);
                    self.paused.insert(key);
                } else if open <= max / 2 && self.paused.contains(&key) {
                    resume.add_partition(topic, partition);
                    self.paused.remove(&key);
                }
            },
        );
        if !acks.is_empty() {
            write_acks(producer, shared, acks);
        }
        let mode = if closing {
            CommitMode::Sync
        } else {
            CommitMode::Async
        };
        if commits.count() > 0
            && let Err(e) = consumer.commit(&commits, mode)
        {
            tracing::warn!(error = %e, "Kafka queue: offset commit failed");
            shared.want_commit();
        }
        if pause.count() > 0
            && let Err(e) = consumer.pause(&pause)
        {
            tracing::warn!(error = %e, "Kafka queue: pausing full partitions failed");
        }
        if resume.count() > 0
            && let Err(e) = consumer.resume(&resume)
        {
            tracing::warn!(error = %e, "Kafka queue: resuming partitions failed");
        }
    }
}
