//! What a simulated account counted: per arrival second and in total, plus the last bodies it
//! accepted and the ids it has seen (to tell retries from first arrivals).
//!
//! Memory is bounded: per-second buckets for the last [`KEPT_SECONDS`], the last
//! [`KEPT_BODIES`] accepted requests, and seen ids as 64-bit hashes in two generations of at
//! most [`SEEN_IDS_PER_GENERATION`] each (≈ 16–32 bytes per id, so ≤ ~64 MB for an account
//! pushed past two million deliveries; a duplicate is recognised if its first arrival is
//! among the last million or more).

use bytes::Bytes;
use serde::Serialize;
use std::collections::{BTreeMap, HashSet, VecDeque};
use std::hash::{DefaultHasher, Hash, Hasher};

/// Seconds of per-second buckets kept (one hour).
pub const KEPT_SECONDS: i64 = 3600;
/// Accepted requests kept for `GET /sim/webhook/{name}/received`.
pub const KEPT_BODIES: usize = 1000;
/// Seen-id hashes per generation before the older generation is dropped.
pub const SEEN_IDS_PER_GENERATION: usize = 1 << 20;

/// Counters of one account, for one second or in total. `received` is every arrival; the
/// others split it: `unique + duplicates` were accepted (200), `throttled` got 429,
/// `rejected` failed authentication or validation, `faulted` got an injected failure.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Counts {
    pub received: u64,
    pub unique: u64,
    pub duplicates: u64,
    pub throttled: u64,
    pub rejected: u64,
    pub faulted: u64,
}

/// How one request ended, for counting.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Unique,
    Duplicate,
    Throttled,
    Rejected,
    Faulted,
}

impl Counts {
    fn add(&mut self, verdict: Verdict) {
        self.received += 1;
        match verdict {
            Verdict::Unique => self.unique += 1,
            Verdict::Duplicate => self.duplicates += 1,
            Verdict::Throttled => self.throttled += 1,
            Verdict::Rejected => self.rejected += 1,
            Verdict::Faulted => self.faulted += 1,
        }
    }
}

/// An accepted request as the simulator keeps it for tests and the sandbox UI.
#[derive(Debug, Clone)]
pub struct ReceivedRecord {
    pub id: String,
    pub timestamp: i64,
    pub signature: Option<String>,
    pub received_at_ms: i64,
    pub duplicate: bool,
    pub body: Bytes,
}

/// Two generations of id hashes: bounded memory, and at least one full generation of memory.
#[derive(Debug, Default)]
struct SeenIds {
    current: HashSet<u64>,
    previous: HashSet<u64>,
}

impl SeenIds {
    /// Records `id`; true when it had been seen before.
    fn insert(&mut self, id: &str) -> bool {
        let mut hasher = DefaultHasher::new();
        id.hash(&mut hasher);
        let key = hasher.finish();
        if self.previous.contains(&key) || !self.current.insert(key) {
            return true;
        }
        if self.current.len() >= SEEN_IDS_PER_GENERATION {
            self.previous = std::mem::take(&mut self.current);
        }
        false
    }
}

/// Everything counted for one account; lives behind the account's mutex, which is only ever
/// held for these few map updates (never across an await).
#[derive(Debug, Default)]
pub struct AccountStats {
    totals: Counts,
    per_second: BTreeMap<i64, Counts>,
    seen: SeenIds,
    received: VecDeque<ReceivedRecord>,
    /// Rate-limit window: the second being admitted and how many were admitted in it.
    window: (i64, u32),
}

impl AccountStats {
    pub fn record(&mut self, arrival_sec: i64, verdict: Verdict) {
        self.totals.add(verdict);
        let newest = self
            .per_second
            .last_key_value()
            .map_or(arrival_sec, |(s, _)| *s);
        if arrival_sec <= newest - KEPT_SECONDS {
            return; // older than the kept hour: totals only
        }
        self.per_second.entry(arrival_sec).or_default().add(verdict);
        while let Some((&oldest, _)) = self.per_second.first_key_value() {
            if oldest > arrival_sec.max(newest) - KEPT_SECONDS {
                break;
            }
            self.per_second.pop_first();
        }
    }

    /// Admits one request into `arrival_sec` unless `limit` (per second, 0 = none) is used up;
    /// a refusal is counted as throttled.
    pub fn admit(&mut self, arrival_sec: i64, limit: u32) -> bool {
        if limit == 0 {
            return true;
        }
        if arrival_sec > self.window.0 {
            self.window = (arrival_sec, 0);
        }
        if self.window.1 >= limit {
            self.record(arrival_sec, Verdict::Throttled);
            return false;
        }
        self.window.1 += 1;
        true
    }

    /// Counts an accepted request and keeps its body; true when its id was seen before.
    pub fn accept(&mut self, arrival_sec: i64, mut record: ReceivedRecord) -> bool {
        let duplicate = self.seen.insert(&record.id);
        self.record(
            arrival_sec,
            if duplicate {
                Verdict::Duplicate
            } else {
                Verdict::Unique
            },
        );
        record.duplicate = duplicate;
        if self.received.len() >= KEPT_BODIES {
            self.received.pop_front();
        }
        self.received.push_back(record);
        duplicate
    }

    /// The last `limit` accepted requests, oldest first.
    pub fn last_received(&self, limit: usize) -> Vec<ReceivedRecord> {
        let skip = self.received.len().saturating_sub(limit);
        self.received.iter().skip(skip).cloned().collect()
    }

    pub fn snapshot(&self) -> AccountSnapshot {
        AccountSnapshot {
            counts: self.totals,
            per_second: self
                .per_second
                .iter()
                .map(|(sec, c)| (*sec, c.received))
                .collect(),
            per_second_detail: self.per_second.clone(),
        }
    }
}

/// One account in `GET /sim/stats`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AccountSnapshot {
    #[serde(flatten)]
    pub counts: Counts,
    /// Arrivals (`received`) per unix second.
    pub per_second: BTreeMap<i64, u64>,
    /// All counters per unix second.
    pub per_second_detail: BTreeMap<i64, Counts>,
}

/// `GET /sim/stats`: every account plus totals over all of them.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StatsSnapshot {
    pub accounts: BTreeMap<String, AccountSnapshot>,
    pub total_received: u64,
    pub total_unique: u64,
    pub total_duplicates: u64,
    pub total_throttled: u64,
    pub total_rejected: u64,
    pub total_faulted: u64,
}

impl StatsSnapshot {
    pub fn new(accounts: BTreeMap<String, AccountSnapshot>) -> Self {
        let sum = |f: fn(&Counts) -> u64| accounts.values().map(|a| f(&a.counts)).sum();
        Self {
            total_received: sum(|c| c.received),
            total_unique: sum(|c| c.unique),
            total_duplicates: sum(|c| c.duplicates),
            total_throttled: sum(|c| c.throttled),
            total_rejected: sum(|c| c.rejected),
            total_faulted: sum(|c| c.faulted),
            accounts,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(id: &str) -> ReceivedRecord {
        ReceivedRecord {
            id: id.into(),
            timestamp: 0,
            signature: None,
            received_at_ms: 0,
            duplicate: false,
            body: Bytes::from_static(b"{}"),
        }
    }

    #[test]
    fn counts_per_second_and_in_total() {
        let mut stats = AccountStats::default();
        assert!(!stats.accept(100, record("a")));
        assert!(stats.accept(100, record("a")));
        assert!(!stats.accept(101, record("b")));
        stats.record(101, Verdict::Rejected);
        let snap = stats.snapshot();
        assert_eq!(snap.counts.received, 4);
        assert_eq!((snap.counts.unique, snap.counts.duplicates), (2, 1));
        assert_eq!(snap.per_second, BTreeMap::from([(100, 2), (101, 2)]));
        assert_eq!(snap.per_second_detail[&101].rejected, 1);
        let kept = stats.last_received(2);
        assert_eq!(kept.len(), 2);
        assert!(kept[0].duplicate && !kept[1].duplicate);
    }

    #[test]
    fn admits_up_to_the_limit_per_second() {
        let mut stats = AccountStats::default();
        let admitted = (0..5).filter(|_| stats.admit(7, 3)).count();
        assert_eq!(admitted, 3);
        assert!(stats.admit(8, 3), "a new second opens a new window");
        assert_eq!(stats.snapshot().per_second_detail[&7].throttled, 2);
        assert!(stats.admit(9, 0), "0 means unlimited");
    }

    #[test]
    fn memory_stays_bounded() {
        let mut stats = AccountStats::default();
        for sec in 0..(KEPT_SECONDS + 50) {
            stats.record(sec, Verdict::Unique);
        }
        assert_eq!(stats.per_second.len(), KEPT_SECONDS as usize);
        stats.record(0, Verdict::Unique);
        assert_eq!(
            stats.per_second.len(),
            KEPT_SECONDS as usize,
            "too old for a bucket"
        );
        assert_eq!(stats.totals.received, (KEPT_SECONDS + 51) as u64);
        for i in 0..(KEPT_BODIES + 10) {
            stats.accept(KEPT_SECONDS, record(&format!("id{i}")));
        }
        assert_eq!(stats.received.len(), KEPT_BODIES);
        assert_eq!(
            stats.received.back().unwrap().id,
            format!("id{}", KEPT_BODIES + 9)
        );
    }

    #[test]
    fn seen_ids_rotate_generations() {
        let mut seen = SeenIds::default();
        for i in 0..SEEN_IDS_PER_GENERATION {
            assert!(!seen.insert(&i.to_string()));
        }
        assert!(seen.current.is_empty() && seen.previous.len() == SEEN_IDS_PER_GENERATION);
        assert!(
            seen.insert("0"),
            "still remembered in the previous generation"
        );
    }
}
