//! Herald's queue port ([`herald_ports::Queue`]) on Kafka, for distributed mode: several
//! stateless nodes share one Kafka-protocol cluster. Tested against tansu 0.6 with rdkafka's
//! bundled librdkafka. Decision record: `docs/decisions/0010-kafka-queue.md`.
//!
//! # Layout
//! Under a prefix `p` (one per deployment or test run):
//!
//! | topic | key | holds | read by |
//! |---|---|---|---|
//! | `p.send`, `p.retry`, `p.result` | channel account (results: delivery) | due tasks | group `p.workers` |
//! | `p.send.wait.<ms>ms`, `p.retry.wait.<ms>ms` | channel account | delayed tasks, one topic per delay level | group `p.workers` |
//! | `p.dead` (compacted) | dead-letter id | dead letters; null = replayed | every node, in full |
//! | `p.canceled` (compacted) | `app/delivery` | cancel tombstones | every node, in full |
//! | `p.acks` (compacted) | `topic/partition` | offsets finished above a commit position | every node, in full |
//!
//! One account's tasks land in one partition of a due topic, so the node that owns the
//! partition sees all of that account's traffic.
//!
//! # Hand-out, leases, offsets
//! Each node runs one group member on a thread of its own (module `pump`) that fetches into
//! a window per partition (module `window`). `receive` leases ready tasks from the windows
//! (module `due`); a lease is in-process and a task not acked within it is handed out again
//! by the same node. The committed offset of a partition is the lowest task whose outcome is
//! not recorded; tasks above it flow on and their offsets are written to `p.acks` (every
//! 100 ms and on revocation), so a node taking the partition over (rebalance, crash,
//! restart) skips them. (Offset-commit metadata would be the natural place; tansu drops it.)
//! A rate-limited account therefore holds back only the *commit position*, never the
//! hand-out of other accounts' tasks, and the dispatcher releases even that by deferring
//! (ack + re-publish to retry in one `commit`). A partition whose window holds
//! `max_window` unfinished tasks is paused until half of them finished.
//!
//! # Delays: a ladder of level topics
//! A task due `r` ms from now goes to the level topic with the longest hold `<= r`, stamped
//! `hold until = now + hold` (module `publish`). The mover (modules `wait`, `mover`) examines
//! it once the hold passed and moves it to the due topic, or one level down, or — when less
//! than the first level remains — keeps it in memory and moves it when due. Nothing is handed
//! out before its `not_before`; lateness is the last hop's latency (tens of ms). A waiting
//! record is released only after its move is acknowledged by the broker.
//!
//! # Cancel, dead letters, stats, priorities
//! - `cancel` writes tombstones every node checks before hand-out and before a move, and
//!   removes matching queued tasks this node holds (module `cancel`).
//! - Dead letters are folded into memory on every node (modules `views`, `dead`).
//! - `stats`: a topic's depth is end offset − commit position − finished tasks above it,
//!   over its due and level topics (module `stats`).
//! - **No priorities**: partitions hand out in offset order; the conformance suite runs with
//!   `Features { priorities: false }`.
//!
//! # On tansu
//! tansu 0.6's in-memory engine cannot fetch from an offset inside a multi-record batch and
//! answers ListOffsets(latest) with the last batch's base offset + 1: set
//! [`KafkaQueueOptions::single_record_batches`] there. End offsets are always raised to what
//! this node's own writes and fetches prove. Details: the decision record.
//!
//! # Delivery guarantees
//! At-least-once. A crash between publishing follow-ups and committing offsets, or between a
//! move and its offset commit, hands a task out again; order within an account is not
//! promised (retries and redeliveries overtake). A node that dies without leaving the group
//! holds its partitions until the group's session timeout ends.

mod admin;
mod cancel;
mod catchup;
mod codec;
mod dead;
mod due;
mod layout;
mod mover;
mod options;
mod publish;
mod pump;
mod queue;
mod state;
mod stats;
mod views;
mod wait;
mod window;

pub use admin::delete_topics;
pub use options::KafkaQueueOptions;
pub use queue::KafkaQueue;
