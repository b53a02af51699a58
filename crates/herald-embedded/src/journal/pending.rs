//! The journal's unindexed accepts, in commit order: which are held in memory and which
//! only on disk (spilled), and the read-your-writes view of one of them.
//!
//! An accept's messages and encoded tasks stay in memory while the in-memory accepts hold
//! at most [`JournalOptions::memory_deliveries`] deliveries; past that, accepts are
//! *spilled*: only their `seq`, message ids and delivery count stay here, and the indexer
//! reads them back from `journal.db` when it reaches them. Once one accept is spilled every
//! later one is too, until the indexer has reached them all, so the in-memory accepts are
//! always a prefix of the set (the indexer takes the prefix, then loads the next stretch).
//! Memory is then bounded by the budget plus the ids, whatever the backlog: a burst of
//! accepts is limited by [`JournalOptions::max_bytes`] of journal on disk, not by RAM.

use herald_domain::{DeliveryState, EventVersion, Message, MessageId, MessageStatus, TaskEnvelope};
use herald_ports::{DeliveryView, MessageView};
use std::collections::{HashMap, VecDeque};
use std::sync::Arc;

/// How far the journal may run ahead of the indexer.
#[derive(Debug, Clone)]
pub struct JournalOptions {
    /// Bytes of journal rows that may wait for the indexer; an accept that finds no room
    /// waits (at most `CATCH_UP_LIMIT`, then 503). A row is ~100 B of JSON per delivery of an
    /// ordinary batch (~500 B when a sensitive template keeps its tasks in the row), stored
    /// LZ4-compressed to about a third (`row`), so the default 2 GiB absorbs a burst of ~70
    /// million deliveries of batches; the indexer catches up behind it at its own rate.
    pub max_bytes: u64,
    /// Unindexed messages (their ids stay in memory, ~90 B each, for `GET`).
    pub max_messages: u64,
    /// Unindexed deliveries whose messages and tasks are held in memory (~2 KB each);
    /// later accepts are read back from disk by the indexer.
    pub memory_deliveries: u64,
    /// Free pages of `journal.db` (4 KiB each) past which a trim gives them back to the
    /// file system, once the backlog is small: after a burst the file would otherwise stay
    /// at its high-water mark.
    pub shrink_free_pages: u64,
}

impl Default for JournalOptions {
    fn default() -> Self {
        Self {
            max_bytes: 2 << 30,
            max_messages: 250_000,
            memory_deliveries: 8_192,
            shrink_free_pages: 16_384,
        }
    }
}

/// An accept's send tasks, as the indexer writes them.
pub(crate) enum Work {
    /// As the accept listed them.
    Tasks(Vec<TaskEnvelope>),
    /// Each delivery's first task as recorded ([`Message::first_tasks`]): built by the
    /// indexer, off the accept's path, and never for an accept that spills.
    FirstTasks,
}

impl Work {
    /// The tasks the accept listed, or (`None`) the messages' first tasks.
    pub fn of(listed: Option<Vec<TaskEnvelope>>) -> Self {
        listed.map_or(Self::FirstTasks, Self::Tasks)
    }

    /// The tasks of `messages`' deliveries.
    pub fn into_tasks(self, messages: &[Message]) -> Vec<TaskEnvelope> {
        match self {
            Self::Tasks(tasks) => tasks,
            Self::FirstTasks => messages.iter().flat_map(Message::first_tasks).collect(),
        }
    }
}

/// The room an accept holds until indexed: KiB of journal row and messages.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Room {
    pub kib: u64,
    pub messages: u64,
}

impl Room {
    /// The room of a row of `bytes` holding `messages`; an accept larger than all the room
    /// takes all of it (rather than waiting forever).
    pub fn of(bytes: usize, messages: usize, options: &JournalOptions) -> Self {
        Self {
            kib: (bytes as u64)
                .div_ceil(1024)
                .clamp(1, (options.max_bytes / 1024).max(1)),
            messages: (messages as u64).clamp(1, options.max_messages.max(1)),
        }
    }

    fn add(&mut self, other: Room) {
        self.kib += other.kib;
        self.messages += other.messages;
    }
}

/// An accept that is journaled but not yet indexed.
pub(crate) struct Pending {
    pub seq: i64,
    pub message_ids: Box<[MessageId]>,
    pub deliveries: u64,
    pub room: Room,
    /// The messages, while held in memory (`None`: spilled, read back from the journal).
    pub messages: Option<Arc<Vec<Message>>>,
    /// The tasks: taken by the indexer for its transaction; `None` also while spilled.
    pub work: Option<Work>,
}

#[derive(Default)]
pub(crate) struct PendingSet {
    /// In `seq` (= commit) order.
    pub batches: VecDeque<Pending>,
    pub by_message: HashMap<MessageId, i64>,
    /// Unindexed deliveries in all.
    pub deliveries: u64,
    /// Of those, the deliveries whose messages are in memory.
    pub in_memory: u64,
    /// Accepts held only on disk.
    pub spilled: usize,
    /// Highest `seq` committed to the journal.
    pub appended: i64,
}

impl PendingSet {
    /// Adds a committed accept, spilling it when the memory budget is used up (or an
    /// earlier accept is spilled: the in-memory ones stay a prefix).
    pub fn push(&mut self, mut pending: Pending, memory_deliveries: u64) {
        if self.spills(pending.deliveries, memory_deliveries) {
            pending.messages = None;
            pending.work = None;
        }
        for id in pending.message_ids.iter() {
            self.by_message.insert(id.clone(), pending.seq);
        }
        self.deliveries += pending.deliveries;
        if pending.messages.is_some() {
            self.in_memory += pending.deliveries;
        } else {
            self.spilled += 1;
        }
        self.appended = self.appended.max(pending.seq);
        self.batches.push_back(pending);
    }

    /// Whether an accept of `deliveries` committed now is spilled.
    pub fn spills(&self, deliveries: u64, memory_deliveries: u64) -> bool {
        self.spilled > 0 || (self.in_memory > 0 && self.in_memory + deliveries > memory_deliveries)
    }

    /// Holds a spilled accept in memory again (read back by the indexer).
    pub fn load(&mut self, seq: i64, messages: Vec<Message>, work: Work) -> bool {
        let Ok(at) = self.batches.binary_search_by_key(&seq, |b| b.seq) else {
            return false;
        };
        let batch = &mut self.batches[at];
        if batch.messages.is_none() {
            self.spilled -= 1;
            self.in_memory += batch.deliveries;
            batch.messages = Some(Arc::new(messages));
        }
        batch.work = Some(work);
        true
    }

    /// Drops the batches up to `seq` (now indexed); returns the room they held.
    pub fn indexed(&mut self, seq: i64) -> Room {
        let mut freed = Room::default();
        while self.batches.front().is_some_and(|b| b.seq <= seq) {
            let done = self.batches.pop_front().expect("checked above");
            self.deliveries -= done.deliveries;
            if done.messages.is_some() {
                self.in_memory -= done.deliveries;
            } else {
                self.spilled -= 1;
            }
            freed.add(done.room);
            for id in done.message_ids.iter() {
                self.by_message.remove(id);
            }
        }
        freed
    }

    /// Takes one accept out of the backlog without indexing it (its row is unreadable or
    /// gone); returns the room it held.
    pub fn remove(&mut self, seq: i64) -> Option<Room> {
        let at = self.batches.binary_search_by_key(&seq, |b| b.seq).ok()?;
        let gone = self.batches.remove(at)?;
        self.deliveries -= gone.deliveries;
        if gone.messages.is_some() {
            self.in_memory -= gone.deliveries;
        } else {
            self.spilled -= 1;
        }
        for id in gone.message_ids.iter() {
            self.by_message.remove(id);
        }
        Some(gone.room)
    }

    /// The accepts with `first <= seq <= last` whose tasks are not in memory.
    pub fn without_work(&self, first: i64, last: i64) -> Vec<i64> {
        self.batches
            .iter()
            .skip_while(|b| b.seq < first)
            .take_while(|b| b.seq <= last)
            .filter(|b| b.work.is_none())
            .map(|b| b.seq)
            .collect()
    }

    /// Every accept up to this `seq` is indexed or set aside: nothing before the first
    /// pending one is left to wait for.
    pub fn settled_through(&self) -> i64 {
        self.batches
            .front()
            .map_or(self.appended, |first| first.seq - 1)
    }

    /// The journal `seq` of an unindexed message and, if held in memory, its view.
    pub fn find(
        &self,
        app: &herald_domain::AppId,
        id: &MessageId,
    ) -> Option<(i64, Option<MessageView>)> {
        let seq = *self.by_message.get(id)?;
        let at = self.batches.binary_search_by_key(&seq, |b| b.seq).ok()?;
        let view = match &self.batches[at].messages {
            Some(messages) => Some(view_in(messages, app, id)?),
            None => None,
        };
        Some((seq, view))
    }
}

/// The view of message `id` of `app` among an accept's messages.
pub(crate) fn view_in(
    messages: &[Message],
    app: &herald_domain::AppId,
    id: &MessageId,
) -> Option<MessageView> {
    messages
        .iter()
        .find(|m| &m.id == id && &m.app_id == app)
        .map(accepted_view)
}

/// What the records store holds for a message right after its accept: every delivery
/// `scheduled` (a `send_at` after `created_at`) or `accepted`, at version 0, no attempts.
fn accepted_view(message: &Message) -> MessageView {
    let state = if message.send_at.is_some_and(|at| at > message.created_at) {
        DeliveryState::Scheduled
    } else {
        DeliveryState::Accepted
    };
    let deliveries: Vec<DeliveryView> = message
        .deliveries
        .iter()
        .map(|d| DeliveryView {
            id: d.id.clone(),
            receiver: d.receiver.clone(),
            state,
            version: EventVersion::new(0, state),
            code: None,
            detail: None,
            next_at: None,
            content: None,
            updated_at: message.created_at,
            attempts: Vec::new(),
        })
        .collect();
    MessageView {
        status: MessageStatus::derive(deliveries.iter().map(|d| d.state)),
        message: message.clone(),
        deliveries,
    }
}
