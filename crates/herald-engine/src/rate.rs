//! In-process rate limiting per channel account (the embedded default's `RateLimiter`).
//!
//! Providers count on their side, per second, so Herald paces instead of bursting: each key
//! hands out *slots* one `1/limit` apart on a schedule (`next = max(now, next) + interval`)
//! and every caller sleeps until its own slot. Because slots follow the schedule rather than
//! the moment a sleeper happens to wake, timer granularity and scheduling delays do not
//! accumulate: under backlog exactly `limit` slots fall in every second (governor with a
//! burst of one lost ~10 % to 1 ms timer rounding at 1,000/s), and an idle key never saves
//! up a burst, because a slot is never earlier than now.

use async_trait::async_trait;
use herald_ports::RateLimiter;
use parking_lot::Mutex;
use std::collections::HashMap;
use std::time::Duration;
use tokio::time::Instant;

/// Slots are spaced by [`herald_ports::rate::pace_interval`]: a little below the limit, so
/// a send that jitter moves across a second boundary cannot push that second past it.
fn interval(per_second: u32) -> Duration {
    herald_ports::rate::pace_interval(per_second)
}

/// The schedule of one key.
struct Pace {
    per_second: u32,
    interval: Duration,
    next: Instant,
}

/// Slot schedules by key; a limit change restarts the key's schedule.
pub struct LocalRateLimiter {
    keys: Mutex<HashMap<String, Pace>>,
    /// The wall clock seconds are counted in (Unix ns): the system's, or a test's.
    wall_ns: Box<dyn Fn() -> i64 + Send + Sync>,
}

impl Default for LocalRateLimiter {
    fn default() -> Self {
        Self {
            keys: Mutex::default(),
            wall_ns: Box::new(herald_ports::rate::wall_ns),
        }
    }
}

impl LocalRateLimiter {
    pub fn new() -> Self {
        Self::default()
    }

    /// A limiter whose wall clock is `wall_ns` (tests on tokio's paused clock, where the
    /// system clock would move on its own and spoil slots at random).
    pub fn with_wall_clock(wall_ns: impl Fn() -> i64 + Send + Sync + 'static) -> Self {
        Self {
            keys: Mutex::default(),
            wall_ns: Box::new(wall_ns),
        }
    }

    /// Reserves the next slot of `key` (`Some(None)` when unlimited) if it is due within
    /// `max_wait` of now (any time when `None`); `None` otherwise (nothing reserved).
    fn reserve(
        &self,
        key: &str,
        per_second: u32,
        max_wait: Option<Duration>,
    ) -> Option<Option<Instant>> {
        if per_second == 0 {
            return Some(None);
        }
        let now = Instant::now();
        let mut keys = self.keys.lock();
        let pace = keys.entry(key.to_owned()).or_insert_with(|| Pace {
            per_second,
            interval: interval(per_second),
            next: now,
        });
        if pace.per_second != per_second {
            *pace = Pace {
                per_second,
                interval: interval(per_second),
                next: now,
            };
        }
        let slot = pace.next.max(now);
        if max_wait.is_some_and(|max| slot.saturating_duration_since(now) > max) {
            return None;
        }
        pace.next = slot + pace.interval;
        Some(Some(slot))
    }
}

impl LocalRateLimiter {
    /// How long until `key`'s next slot.
    fn wait_for_next(&self, key: &str) -> Duration {
        let now = Instant::now();
        self.keys
            .lock()
            .get(key)
            .map_or(Duration::ZERO, |p| p.next.saturating_duration_since(now))
    }
}

#[async_trait]
impl RateLimiter for LocalRateLimiter {
    async fn acquire(&self, key: &str, per_second: u32) {
        // Without a bound a slot always comes.
        let _ = self.take(key, per_second, None).await;
    }

    async fn acquire_within(
        &self,
        key: &str,
        per_second: u32,
        max_wait: Duration,
    ) -> Result<(), Duration> {
        self.take(key, per_second, Some(Instant::now() + max_wait))
            .await
    }

    fn try_acquire(&self, key: &str, per_second: u32) -> bool {
        self.reserve(key, per_second, Some(Duration::ZERO))
            .is_some()
    }
}

impl LocalRateLimiter {
    /// Sleeps until a slot that is due before `deadline` (any when `None`); a slot whose
    /// caller wakes in a later clock second than the slot's is given up and another taken
    /// (`herald_ports::rate::spoiled`), so a stalled process never sends a burst into the
    /// next second.
    async fn take(
        &self,
        key: &str,
        per_second: u32,
        deadline: Option<Instant>,
    ) -> Result<(), Duration> {
        loop {
            let now = Instant::now();
            let max_wait = deadline.map(|d| d.saturating_duration_since(now));
            let slot = match self.reserve(key, per_second, max_wait) {
                Some(Some(slot)) => slot,
                Some(None) => return Ok(()),
                None => return Err(self.wait_for_next(key)),
            };
            let slot_wall = (self.wall_ns)()
                .saturating_add(slot.saturating_duration_since(now).as_nanos() as i64);
            tokio::time::sleep_until(slot).await;
            if !herald_ports::rate::spoiled(slot_wall, (self.wall_ns)()) {
                return Ok(());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Current-thread runtime: the check's blocking stall must hold up the limiter's timers.
    #[tokio::test]
    async fn a_stall_never_bursts_into_the_next_second() {
        herald_ports::conformance::rate::a_stall_never_bursts_into_the_next_second(
            std::sync::Arc::new(LocalRateLimiter::new()),
        )
        .await;
    }

    #[tokio::test]
    async fn paces_without_burst() {
        let rl = LocalRateLimiter::new();
        assert!(rl.try_acquire("a", 10));
        assert!(
            !rl.try_acquire("a", 10),
            "burst of one: the second permit must wait 100 ms"
        );
        assert!(rl.try_acquire("b", 10), "keys are independent");
        assert!(
            rl.try_acquire("c", 0) && rl.try_acquire("c", 0),
            "0 = unlimited"
        );
        let start = std::time::Instant::now();
        for _ in 0..5 {
            rl.acquire("a", 50).await;
        }
        assert!(
            start.elapsed() >= std::time::Duration::from_millis(70),
            "{:?}",
            start.elapsed()
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_permit_beyond_the_wait_bound_is_not_taken() {
        let rl = LocalRateLimiter::new();
        let max = Duration::from_secs(2);
        for _ in 0..3 {
            assert_eq!(rl.acquire_within("slow", 1, max).await, Ok(()));
        }
        // Slots at 0 s, ~1 s, ~2 s are taken; the next is ~3 s away: refused, nothing reserved.
        let wait = rl
            .acquire_within("slow", 1, Duration::from_millis(500))
            .await
            .unwrap_err();
        assert!(
            wait > Duration::from_millis(500) && wait <= Duration::from_secs(2),
            "{wait:?}"
        );
        assert_eq!(
            rl.wait_for_next("slow"),
            wait,
            "the refusal reserved nothing"
        );
        assert_eq!(
            rl.acquire_within("fast", 0, Duration::ZERO).await,
            Ok(()),
            "unlimited"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn concurrent_waiters_get_exactly_the_limit_per_second() {
        let start = Instant::now();
        // Wall time follows the paused clock: under CI load the system clock moved on while
        // the 3,100 tasks ran and spoiled slots at random ([990, 995, 995] once).
        let rl = std::sync::Arc::new(LocalRateLimiter::with_wall_clock(move || {
            1_700_000_000_000_000_000 + (Instant::now() - start).as_nanos() as i64
        }));
        let mut tasks = Vec::new();
        for _ in 0..3100 {
            let rl = rl.clone();
            tasks.push(tokio::spawn(async move {
                rl.acquire("acct", 1000).await;
                Instant::now()
            }));
        }
        let mut per_second = [0u32; 3];
        // 3,100 waiters at 995/s span a little over three seconds; count the first three.
        for t in tasks {
            let at = t.await.unwrap() - start;
            if let Some(n) = per_second.get_mut((at.as_millis() / 1000) as usize) {
                *n += 1;
            }
        }
        assert_eq!(
            per_second,
            [995, 995, 995],
            "slots follow the schedule at 99.5 % of the limit, none lost, none early"
        );
    }
}
