//! Herald's queue port ([`herald_ports::Queue`]) on NATS JetStream, for distributed mode:
//! several stateless nodes share one NATS server or cluster. Tested against nats-server 2.9
//! (Debian's); uses nothing newer. Decision record: `docs/decisions/0007-nats-queue.md`.
//!
//! # Layout
//! Under a prefix (`herald` by default; one per deployment or test run):
//!
//! | stream | subjects | retention | consumer |
//! |---|---|---|---|
//! | `HERALD_SEND`, `HERALD_RETRY`, `HERALD_RESULT` | `herald.<topic>.<app>.<account>.<delivery>` | work queue | `workers`: ack wait = lease |
//! | `HERALD_SEND_WAIT`, `HERALD_RETRY_WAIT` | `herald.wait.<topic>.<app>.<account>.<delivery>` | work queue | `timer`: unlimited ack pending |
//! | `HERALD_DEAD` | `herald.dead.<app>.<dead-letter id>` | limits | none |
//!
//! # Delays: a waiting lane per topic, moved by a timer
//! A task whose `not_before` is ahead (a retry, a scheduled `send_at`) is published to its
//! topic's *waiting* stream. Each node runs a timer (module `timer`) per waiting stream that
//! naks early tasks with a delay of exactly the time left and, once due, republishes them onto
//! the *due* stream that workers pull from. Delayed tasks therefore never sit in a worker
//! consumer: a nak-with-delay counts against `max_ack_pending`, and a retry backlog on the
//! workers' consumer would stall due sends. The waiting lane's consumer has no such limit.
//! Limits: NATS 2.9 rescans a consumer's pending set when delays are set or expire, so the
//! timer suits up to tens of thousands of waiting tasks; tasks are moved only while at least
//! one node runs.
//!
//! # Leases, receive, commit
//! A lease is the workers' ack wait; an unacked task is redelivered after it and
//! `Leased::deliveries` is JetStream's delivery count. `receive` is one pull per call (batch
//! `max`, `no_wait`, expiring after `wait`): what is ready, or the first task to arrive within
//! `wait` and what is ready then (module `handout`). `commit` is not atomic across NATS: it
//! publishes follow-ups, then dead letters, then acks (each confirmed by the server), so a
//! crash duplicates work rather than losing it, and the duplicates are dropped by dedup.
//!
//! # Dedup
//! Every task is published with `Nats-Msg-Id` = [`TaskEnvelope::dedup_key`] (delivery and
//! attempt, or delivery and event version). The duplicate window defaults to 2 minutes and must
//! cover `lease + timer_hold`, the longest automatic re-publish after a crash; see
//! [`NatsQueueOptions::dedup_window`] for the memory side of the trade.
//!
//! # Dead letters, cancel, stats, priorities
//! - Dead letters go to their own stream with the reason in headers (module `dead`).
//! - `cancel` deletes queued tasks by sequence (never a filtered purge, which on 2.9 makes
//!   consumers skip stored messages); leased tasks are left alone (module `cancel`).
//! - `stats` reads stream and consumer info: a topic's depth is its due plus waiting stream.
//! - **No priorities**: JetStream hands out in stream order (FIFO per due stream; delayed
//!   tasks join when due). `Priority` travels in the task but does not reorder. The
//!   conformance suite runs with `Features { priorities: false }`.
//!
//! # TLS
//! `async-nats` is built without default features, so it brings no rustls crypto provider (no
//! `ring`): the process's single provider comes from reqwest (`aws-lc-rs`). Plain `nats://`
//! needs none; a `tls://` URL uses the process default, so install one at start.

mod cancel;
mod codec;
mod dead;
mod handout;
mod layout;
mod options;
mod queue;
mod setup;
mod timer;

pub use options::NatsQueueOptions;
pub use queue::NatsQueue;
pub use setup::delete_streams;

#[cfg(doc)]
use herald_domain::TaskEnvelope;
