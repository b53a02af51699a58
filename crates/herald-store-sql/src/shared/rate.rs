//! A rate limiter whose slot schedule lives in the database, so a channel account's limit
//! holds for the whole cluster (decision 0009).
//!
//! The schedule is the in-process limiter's (`herald_engine::rate`): slots `1/limit` apart,
//! never earlier than now, paced as `herald_ports::rate::pace_interval` says. Here the *next free slot* of
//! a key is a row (`rate_slots.next_ns`, Unix nanoseconds), and a node reserves a **block**
//! of consecutive slots in one statement (`next = max(next, now) + n·interval`), then hands
//! them to its own callers one by one. Blocks of different nodes never overlap, so the slots
//! of all nodes together are at most `limit` per second; a node that dies simply stops
//! reserving, and the survivors' next blocks start right where the schedule is, so they get
//! the whole limit at once.
//!
//! A block covers [`BLOCK`] of time (100 slots at 1,000/s: ten round trips a second per busy
//! key and node), and the next one is reserved when less than half of it is left, so a busy
//! node never idles on a round trip. A slot whose time has passed unused is dropped, never
//! spent late (that could put two sends of different nodes into one provider second beyond
//! the limit); a node without work therefore wastes at most its last block's remainder. For
//! the same reason a caller that wakes for its slot in a later clock second than the slot's
//! (a stalled node) gives the slot up and takes another.
//! Clocks: slots are wall-clock times, so the nodes' clocks must agree (NTP) to well under a
//! slot interval's worth of error budget — a skewed node sends early or late by its skew.

use crate::db::{Dialect, SqlDb, db_err, params};
use async_trait::async_trait;
use herald_ports::{RateLimiter, StoreError};
use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::time::Instant;

/// How much schedule one reservation covers.
pub const BLOCK: Duration = Duration::from_millis(100);

/// Slots a node holds for one key: `[next, end)` ranges in Unix ns, `interval` apart.
struct Held {
    per_second: u32,
    interval_ns: i64,
    ranges: VecDeque<(i64, i64)>,
    /// A reservation is in flight (only one per key and node at a time).
    refilling: bool,
}

impl Held {
    fn new(per_second: u32) -> Self {
        Self {
            per_second,
            interval_ns: interval_ns(per_second),
            ranges: VecDeque::new(),
            refilling: false,
        }
    }

    /// Drops slots before `now` and returns the first one left, without taking it.
    fn first_from(&mut self, now: i64) -> Option<i64> {
        while let Some((next, end)) = self.ranges.front_mut() {
            if *next < now {
                let skipped = (now - *next + self.interval_ns - 1) / self.interval_ns;
                *next += skipped * self.interval_ns;
            }
            if *next < *end {
                return Some(*next);
            }
            self.ranges.pop_front();
        }
        None
    }

    fn take_first(&mut self) {
        if let Some((next, _)) = self.ranges.front_mut() {
            *next += self.interval_ns;
        }
    }

    /// Schedule time held from `now` on.
    fn held_ahead(&self, now: i64) -> i64 {
        self.ranges
            .iter()
            .map(|&(next, end)| end - next.max(now))
            .filter(|d| *d > 0)
            .sum()
    }
}

/// Slot spacing as the in-process limiter spaces them ([`herald_ports::rate::pace_interval`]).
fn interval_ns(per_second: u32) -> i64 {
    i64::try_from(herald_ports::rate::pace_interval(per_second).as_nanos())
        .unwrap_or(i64::MAX)
        .max(1)
}

fn now_ns() -> i64 {
    herald_ports::rate::wall_ns()
}

/// The cluster-wide limiter; cheap to clone.
#[derive(Clone)]
pub struct SqlRateLimiter {
    db: SqlDb,
    keys: Arc<Mutex<HashMap<String, Held>>>,
}

/// What a caller found among the slots its node holds. `refill` = this caller must reserve
/// the next block (less than half a block is held and no reservation is in flight).
enum Step {
    /// This Unix-ns slot is now the caller's.
    Slot { slot: i64, refill: bool },
    /// The first held slot is beyond the caller's wait bound (nothing taken).
    Beyond { first: i64, refill: bool },
    /// Nothing held.
    Nothing { refill: bool },
}

impl SqlRateLimiter {
    pub fn new(db: SqlDb) -> Self {
        Self {
            db,
            keys: Arc::default(),
        }
    }

    /// Takes a held slot due within `max_wait` (any when `None`).
    fn step(&self, key: &str, per_second: u32, max_wait: Option<Duration>) -> Step {
        let now = now_ns();
        let mut keys = self.keys.lock().expect("rate limiter lock");
        let held = keys
            .entry(key.to_owned())
            .or_insert_with(|| Held::new(per_second));
        if held.per_second != per_second {
            *held = Held::new(per_second);
        }
        let first = held.first_from(now);
        let refill = !held.refilling && held.held_ahead(now) < (BLOCK.as_nanos() as i64) / 2;
        if refill {
            held.refilling = true;
        }
        let bound = max_wait.map(|w| now.saturating_add(w.as_nanos() as i64));
        match first {
            Some(slot) if bound.is_none_or(|b| slot <= b) => {
                held.take_first();
                Step::Slot { slot, refill }
            }
            Some(first) => Step::Beyond { first, refill },
            None => Step::Nothing { refill },
        }
    }

    /// Reserves the next block of `key` in the database and adds it to what this node holds.
    async fn refill(&self, key: &str, per_second: u32) {
        // Clears the key's in-flight flag however this ends (also when the caller's future
        // is dropped mid-reservation), so the key never waits for a reservation that died.
        struct InFlight<'a>(&'a Mutex<HashMap<String, Held>>, &'a str);
        impl Drop for InFlight<'_> {
            fn drop(&mut self) {
                if let Some(held) = self.0.lock().expect("rate limiter lock").get_mut(self.1) {
                    held.refilling = false;
                }
            }
        }
        let _in_flight = InFlight(&self.keys, key);
        let interval = interval_ns(per_second);
        let count = ((BLOCK.as_nanos() as i64) / interval).max(1);
        let span = count * interval;
        match reserve(&self.db, key, per_second, now_ns(), span).await {
            Ok(end) => {
                let mut keys = self.keys.lock().expect("rate limiter lock");
                if let Some(held) = keys.get_mut(key)
                    && held.per_second == per_second
                {
                    held.ranges.push_back((end - span, end));
                }
            }
            Err(e) => {
                tracing::warn!(key, error = %e, "reserving rate slots failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }

    /// Waits for a slot of `key`; `Err(wait)` when none comes within `max_wait`.
    async fn take(
        &self,
        key: &str,
        per_second: u32,
        max_wait: Option<Duration>,
    ) -> Result<(), Duration> {
        if per_second == 0 {
            return Ok(());
        }
        let started = Instant::now();
        loop {
            let left = max_wait.map(|w| w.saturating_sub(started.elapsed()));
            match self.step(key, per_second, left) {
                Step::Slot { slot, refill } => {
                    if refill {
                        self.refill(key, per_second).await;
                    }
                    sleep_until_ns(slot).await;
                    // Woken in a later clock second (a stalled node, a slow reservation):
                    // sending now would add to that second's own slots; take another.
                    if !herald_ports::rate::spoiled(slot, now_ns()) {
                        return Ok(());
                    }
                }
                Step::Beyond { refill: true, .. } | Step::Nothing { refill: true } => {
                    self.refill(key, per_second).await;
                }
                Step::Beyond { first, .. } => {
                    return Err(Duration::from_nanos((first - now_ns()).max(0) as u64));
                }
                // Another caller of this node is reserving: its block comes in a moment.
                Step::Nothing { .. } if left.is_some_and(|l| l.is_zero()) => return Err(BLOCK),
                Step::Nothing { .. } => tokio::time::sleep(Duration::from_millis(1)).await,
            }
        }
    }
}

async fn sleep_until_ns(slot: i64) {
    let wait = slot - now_ns();
    if wait > 0 {
        tokio::time::sleep(Duration::from_nanos(wait as u64)).await;
    }
}

/// Moves `key`'s next free slot past a block of `span` ns starting no earlier than `now`;
/// returns the block's end. A limit change never restarts the schedule: nodes still pacing
/// at the old limit keep their blocks, and new blocks start after every held one.
async fn reserve(
    db: &SqlDb,
    key: &str,
    per_second: u32,
    now: i64,
    span: i64,
) -> Result<i64, StoreError> {
    match db.dialect() {
        Dialect::Postgres => {
            let rows = db
                .fetch_all(
                    "INSERT INTO rate_slots (rate_key, per_second, next_ns) VALUES (?, ?, ?)
                     ON CONFLICT (rate_key) DO UPDATE SET
                       next_ns = GREATEST(rate_slots.next_ns, ?) + ?,
                       per_second = EXCLUDED.per_second
                     RETURNING next_ns",
                    params![key, per_second, now + span, now, span],
                )
                .await
                .map_err(db_err("reserving rate slots"))?;
            rows.first()
                .ok_or_else(|| StoreError::Unavailable("no row from the slot reservation".into()))?
                .int(0)
        }
        Dialect::MySql => {
            let mut tx = db.begin().await?;
            tx.execute(
                "INSERT INTO rate_slots (rate_key, per_second, next_ns) VALUES (?, ?, ?)
                 ON DUPLICATE KEY UPDATE
                   next_ns = GREATEST(next_ns, ?) + ?,
                   per_second = VALUES(per_second)",
                params![key, per_second, now + span, now, span],
            )
            .await
            .map_err(db_err("reserving rate slots"))?;
            let rows = tx
                .fetch_all(
                    "SELECT next_ns FROM rate_slots WHERE rate_key = ?",
                    params![key],
                )
                .await
                .map_err(db_err("reading reserved rate slots"))?;
            tx.commit().await?;
            rows.first()
                .ok_or_else(|| StoreError::Unavailable("no row from the slot reservation".into()))?
                .int(0)
        }
    }
}

#[async_trait]
impl RateLimiter for SqlRateLimiter {
    async fn acquire(&self, key: &str, per_second: u32) {
        let _ = self.take(key, per_second, None).await;
    }

    async fn acquire_within(
        &self,
        key: &str,
        per_second: u32,
        max_wait: Duration,
    ) -> Result<(), Duration> {
        self.take(key, per_second, Some(max_wait)).await
    }

    /// Only slots this node already holds count: a database round trip has no place in a
    /// non-blocking check, so a node that holds none answers `false` (and reserves a block
    /// in the background for the next call).
    fn try_acquire(&self, key: &str, per_second: u32) -> bool {
        if per_second == 0 {
            return true;
        }
        // A slot due within one interval counts as free now (held slots are never in the past).
        let now = Some(Duration::from_nanos(interval_ns(per_second) as u64));
        let (taken, refill) = match self.step(key, per_second, now) {
            Step::Slot { refill, .. } => (true, refill),
            Step::Beyond { refill, .. } | Step::Nothing { refill } => (false, refill),
        };
        if refill {
            let this = self.clone();
            let key = key.to_owned();
            tokio::spawn(async move { this.refill(&key, per_second).await });
        }
        taken
    }
}
