//! Pacing of provider calls.
//!
//! Providers measure their limits on their side, per second; a limiter that lets a whole
//! second's quota through at once gets throttled. Implementations pace smoothly (one permit
//! every `1/limit` seconds, burst of one) and leave no capacity unused.

use async_trait::async_trait;

#[async_trait]
pub trait RateLimiter: Send + Sync + 'static {
    /// Waits until one call for `key` may go out at `per_second`; `0` means unlimited.
    async fn acquire(&self, key: &str, per_second: u32);

    /// Like [`acquire`](Self::acquire), but only if the permit comes within `max_wait`;
    /// otherwise takes nothing and returns how long until one would be free. The dispatcher
    /// uses it so a task of a slow account with a deep backlog is put back on the queue
    /// instead of sleeping past its lease (which would hand it out, and send it, twice).
    async fn acquire_within(
        &self,
        key: &str,
        per_second: u32,
        max_wait: std::time::Duration,
    ) -> Result<(), std::time::Duration>;

    /// Takes a permit only if one is free now (for per-receiver provider rules that should
    /// fail or defer rather than wait).
    fn try_acquire(&self, key: &str, per_second: u32) -> bool;
}

/// The spacing of one account's slots at `per_second` (> 0), shared by every limiter.
///
/// A provider counts arrivals per clock second, and network and scheduling jitter can move a
/// send across a second boundary: one second then sees one more than was issued in it. So
/// slots are spaced for at most `per_second - 1` per second (and at most 99.5 % of the
/// limit), which a shifted send cannot push past the limit. That costs 0.5 % at 1,000/s
/// (within the ±1 % a rate target allows), 1 % at 100/s; at 1/s there is nothing to spare
/// and the slots are 1.005 s apart.
pub fn pace_interval(per_second: u32) -> std::time::Duration {
    let limit = f64::from(per_second.max(1));
    let paced = if per_second >= 2 {
        (limit * 0.995).min(limit - 1.0)
    } else {
        limit * 0.995
    };
    // Rounded up: a spacing a nanosecond short fits one slot more into some second.
    std::time::Duration::from_nanos((1e9 / paced).ceil() as u64)
}

/// Now, in Unix nanoseconds: providers count per *wall-clock* second.
pub fn wall_ns() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX))
}

/// Whether a slot due at `slot_ns` (Unix ns) may no longer be used at `now_ns`: its caller
/// woke in a later clock second than the slot's. Late within the slot's own second is
/// harmless (the second's count is unchanged), but a send carried into the next second adds
/// to that second's own slots: a stalled process whose waiters all woke at once sent 105 in
/// one second at a limit of 100. Such a caller takes a new slot instead.
pub fn spoiled(slot_ns: i64, now_ns: i64) -> bool {
    // Only later: a wake-up before the slot's second (a paused test clock, a coarse timer)
    // sends nothing into a second it does not belong to that was not already its own.
    now_ns.div_euclid(1_000_000_000) > slot_ns.div_euclid(1_000_000_000)
}

#[cfg(test)]
mod tests {
    use super::pace_interval;

    /// Slots issued in one clock second at the given spacing, at most.
    fn most_per_second(per_second: u32) -> u64 {
        (1e9 / pace_interval(per_second).as_nanos() as f64).ceil() as u64
    }

    #[test]
    fn a_shifted_send_never_pushes_a_second_past_the_limit() {
        for limit in [2, 3, 10, 50, 100, 199, 200, 1_000, 5_000] {
            let most = most_per_second(limit);
            assert!(
                most < u64::from(limit),
                "{limit}/s: up to {most} issued in a second"
            );
        }
    }

    #[test]
    fn capacity_left_unused_stays_within_one_percent_from_100_per_second() {
        for limit in [100, 1_000, 20_000] {
            let paced = 1.0 / pace_interval(limit).as_secs_f64();
            assert!(
                paced >= f64::from(limit) * 0.99 - 1e-3,
                "{limit}/s paced at {paced}"
            );
        }
    }
}
