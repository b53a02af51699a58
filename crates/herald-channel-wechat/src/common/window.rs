//! Per-key sliding windows with two limits (WeCom's 30 a minute and 1,000 an hour per
//! member): the client takes a slot before sending, the simulator counts arrivals with it.
//!
//! The short window keeps exact times (at most `short_limit` of them); the long one keeps
//! counts per [`BUCKET_MS`] bucket, and a bucket counts until its *end* leaves the window,
//! so the long window is never more permissive than an exact one. Memory per active key is
//! a few hundred bytes; keys idle for a whole long window are swept.

use parking_lot::Mutex;
use std::collections::{HashMap, VecDeque};

/// Granularity of the long window.
pub const BUCKET_MS: i64 = 10_000;
/// Keys are swept after this many new keys.
const SWEEP_EVERY: usize = 4096;

/// Two limits over two window lengths.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    pub short_limit: u32,
    pub short_ms: i64,
    pub long_limit: u32,
    pub long_ms: i64,
}

#[derive(Debug, Default)]
struct Key {
    /// Times in the short window, oldest first.
    recent: VecDeque<i64>,
    /// `(bucket index, count)` in the long window, oldest first.
    buckets: VecDeque<(i64, u32)>,
}

impl Key {
    fn prune(&mut self, now: i64, limits: &Limits) {
        while self
            .recent
            .front()
            .is_some_and(|&t| t <= now - limits.short_ms)
        {
            self.recent.pop_front();
        }
        while self
            .buckets
            .front()
            .is_some_and(|&(b, _)| (b + 1) * BUCKET_MS <= now - limits.long_ms)
        {
            self.buckets.pop_front();
        }
    }

    fn long_count(&self) -> u32 {
        self.buckets.iter().map(|&(_, n)| n).sum()
    }

    /// How long until one more fits, or `None` when it fits now.
    fn wait(&self, now: i64, limits: &Limits) -> Option<u64> {
        let mut wait = 0_i64;
        let short = self.recent.len() as u32;
        if short >= limits.short_limit {
            // The oldest `short - limit + 1` must leave; the last of them decides.
            let index = (short - limits.short_limit) as usize;
            let leaves = self.recent.get(index).map_or(now, |t| t + limits.short_ms);
            wait = wait.max(leaves - now);
        }
        let mut long = self.long_count();
        if long >= limits.long_limit {
            for &(bucket, count) in &self.buckets {
                long -= count;
                if long < limits.long_limit {
                    wait = wait.max((bucket + 1) * BUCKET_MS + limits.long_ms - now);
                    break;
                }
            }
        }
        (short >= limits.short_limit || self.long_count() >= limits.long_limit)
            .then_some(wait.max(1) as u64)
    }

    fn record(&mut self, now: i64) {
        self.recent.push_back(now);
        let bucket = now.div_euclid(BUCKET_MS);
        match self.buckets.back_mut() {
            Some((b, n)) if *b == bucket => *n += 1,
            _ => self.buckets.push_back((bucket, 1)),
        }
    }
}

/// Sliding-window counters by key (e.g. `corpid:agentid:userid`).
#[derive(Debug)]
pub struct Windows {
    limits: Limits,
    keys: Mutex<(HashMap<String, Key>, usize)>,
}

impl Windows {
    pub fn new(limits: Limits) -> Self {
        Self {
            limits,
            keys: Mutex::default(),
        }
    }

    pub fn limits(&self) -> Limits {
        self.limits
    }

    /// Takes a slot for `key` at `now_ms`; `Err(wait_ms)` when a limit is reached.
    pub fn try_take(&self, key: &str, now_ms: i64) -> Result<(), u64> {
        let mut guard = self.keys.lock();
        let (keys, added) = &mut *guard;
        if !keys.contains_key(key) {
            *added += 1;
            if *added >= SWEEP_EVERY {
                *added = 0;
                let limits = self.limits;
                keys.retain(|_, k| {
                    k.prune(now_ms, &limits);
                    !k.buckets.is_empty()
                });
            }
        }
        let entry = keys.entry(key.to_owned()).or_default();
        entry.prune(now_ms, &self.limits);
        if let Some(wait) = entry.wait(now_ms, &self.limits) {
            return Err(wait);
        }
        entry.record(now_ms);
        Ok(())
    }

    /// Gives back a slot taken at `taken_ms` (the send did not happen).
    pub fn release(&self, key: &str, taken_ms: i64) {
        let mut guard = self.keys.lock();
        let Some(entry) = guard.0.get_mut(key) else {
            return;
        };
        if let Some(pos) = entry.recent.iter().rposition(|&t| t == taken_ms) {
            entry.recent.remove(pos);
        }
        let bucket = taken_ms.div_euclid(BUCKET_MS);
        if let Some(pos) = entry.buckets.iter().position(|&(b, _)| b == bucket) {
            entry.buckets[pos].1 -= 1;
            if entry.buckets[pos].1 == 0 {
                entry.buckets.remove(pos);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIMITS: Limits = Limits {
        short_limit: 3,
        short_ms: 60_000,
        long_limit: 5,
        long_ms: 3_600_000,
    };

    #[test]
    fn short_window_slides_and_says_how_long_to_wait() {
        let windows = Windows::new(LIMITS);
        for t in [0, 10_000, 20_000] {
            windows.try_take("m", t).unwrap();
        }
        assert_eq!(windows.try_take("m", 30_000), Err(30_000));
        assert!(
            windows.try_take("other", 30_000).is_ok(),
            "keys are independent"
        );
        windows.try_take("m", 60_000).unwrap();
        // The long window now holds 4; one more fits, then it is full for an hour.
        windows.try_take("m", 130_000).unwrap();
        let wait = windows.try_take("m", 200_000).unwrap_err();
        assert_eq!(
            wait,
            10_000 + 3_600_000 - 200_000,
            "the first bucket ends at 10 s"
        );
    }

    #[test]
    fn released_slots_can_be_taken_again() {
        let windows = Windows::new(LIMITS);
        for t in [0, 1, 2] {
            windows.try_take("m", t).unwrap();
        }
        assert!(windows.try_take("m", 3).is_err());
        windows.release("m", 2);
        assert!(windows.try_take("m", 3).is_ok());
    }
}
