//! Herald's queue port ([`herald_ports::Queue`]) on RocketMQ, for distributed mode: several
//! stateless nodes share one RocketMQ cluster through its name server (remoting protocol,
//! `rocketmq-client-rust` 1.0; tested against the Rust name server and broker 1.0).
//! Decision record: `docs/decisions/0011-rocketmq-queue.md`.
//!
//! # Layout
//! Under a prefix (`herald` by default; one per deployment or test run):
//!
//! | topic | queues | holds |
//! |---|---|---|
//! | `herald_send`, `herald_retry`, `herald_result` | `queues_per_topic` per broker | tasks: JSON body, message key = dedup key |
//! | `herald_ledger` | exactly one (one total order) | one JSON entry per publish, receive, commit, cancel or replay |
//! | `herald_snapshot` | exactly one, on the ledger's broker | census snapshots, in parts of ≤ 1 MiB |
//!
//! # The ledger and the census
//! RocketMQ cannot delete a message, count the delayed messages of a topic, list a
//! dead-letter queue by tenant, or (on the Rust broker 1.0) bring back a POP message that
//! was not acked. So each node appends one ledger entry per call that changes which tasks
//! exist, and folds the ledger into a *census* (module `census`): the live tasks per topic,
//! their leases and hand-out counts, the bodies of leased tasks, the next unclaimed offset
//! of every queue, tombstones of canceled tasks, and the dead letters. Every node folds the
//! same entries in the same order, so every node sees the same state.
//!
//! # Hand-out and leases
//! `receive` reads a topic's queues by offset (plain pull, long-polled by the broker when
//! nothing is there) from the census's claimed offsets, and *claims* what it read with one
//! `Leased` entry. The first claim of a range in ledger order wins; a node whose claim lost
//! reads on from the new position. A lease is the entry's `until`: a task not acked by then
//! is put back on the broker by the next `receive` of its topic on any node, and handed out
//! again with `deliveries` raised. `commit` writes acks, follow-ups and dead letters as one
//! entry (after sending the follow-ups): depths change together, and a crash in between
//! hands the task out again. At least once, never lost.
//!
//! # Delays: native delay levels, rounded up, re-delayed when early
//! A task whose `not_before` is ahead is sent with the smallest delay level that covers the
//! delay (levels `1s 5s 10s 30s 1m 2m 3m 4m 5m 6m 7m 8m 9m 10m 20m 30m 1h 2h`): never
//! earlier than asked, up to one level's step later. Longer than 2 h (a `send_at` days
//! ahead) is **chained**: the task is sent with the 2 h level, and the hand-out finds it not
//! yet due, holds it in its claim, and sends it again with the level that covers what is
//! left, as often as needed. The same check catches a level that fires early for any
//! reason: nothing is handed out before its `not_before`. See [`DelayHop`].
//!
//! # Cancel, dead letters, stats
//! - `cancel` turns queued (not leased) send and retry tasks into tombstones; a hand-out
//!   that reads a tombstoned task claims it and drops it.
//! - Dead letters live in the ledger (task, reason, time); `list_dead` is a range of the
//!   census by app and id; replay publishes the task (`attempt + 1`, due now) and records it.
//! - `stats` counts the census: tasks per topic (due, leased or waiting on a delay level),
//!   leases not run out, dead letters.
//!
//! # Limits
//! - **No priorities**: tasks are handed out in queue order; `Priority` travels but does not
//!   reorder. The conformance suite runs with `Features { priorities: false }`.
//! - The census keeps a small record per live task (the body while leased) and every dead
//!   letter in memory on every node. A node starts from the newest census snapshot (each
//!   node writes one every `snapshot_every`, default 10 min) and folds only the ledger after
//!   it, so dead letters and far-future tasks outlive the broker's commit-log retention
//!   (`fileReservedTime`, 72 h by default) as long as some node runs more often than that.
//! - Routes are read when the queue connects: queues added to a topic later are read after
//!   the nodes restart.
//! - Every publish, commit, cancel, replay and every receive that reads something appends
//!   to the one ledger queue: one broker's single queue bounds the cluster's call rate
//!   (measured numbers in the decision record).
//! - A waiting receive on a topic with several queues long-polls one queue at a time in
//!   200 ms slices, reading the ledger and every queue between slices (with one queue per
//!   topic it waits in one long poll).
//! - A long poll occupies one client instance for its wait; `pollers` bounds how many
//!   `receive` calls of one node wait at once.
//! - Call [`RocketMqQueue::shutdown`] to close connections; dropping the queue leaves them
//!   to the process's exit.

// The RocketMQ client's futures are deeply nested: proving them `Send` needs more steps than
// the default limit of 128.
#![recursion_limit = "512"]

mod broker;
mod census;
mod client;
mod codec;
mod entries;
mod handout;
mod ledger;
mod levels;
mod options;
mod pull;
mod queue;
mod snapshot;

pub use levels::{DELAY_LEVELS_MS, DELAY_LEVELS_SETTING, DelayHop};
pub use options::RocketMqQueueOptions;
pub use queue::RocketMqQueue;
