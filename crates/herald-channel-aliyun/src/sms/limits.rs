//! Per-number flow control as Aliyun applies it: clock-aligned windows in China time, counted
//! per key (signature + number for verification codes; signature + template + number for
//! notifications). The client checks them *before* calling, so an over-limit send waits for
//! the window instead of burning a call on `isv.BUSINESS_LIMIT_CONTROL`; the simulator
//! enforces the same table.

use super::clock::Window;
use herald_domain::Millis;
use parking_lot::Mutex;
use std::collections::HashMap;

/// At most `max` sends per `window`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limit {
    pub window: Window,
    pub max: u32,
}

/// Verification codes: 1/min, 5/h, 10/day per signature + number.
pub const CODE_LIMITS: [Limit; 3] = [
    Limit {
        window: Window::Minute,
        max: 1,
    },
    Limit {
        window: Window::Hour,
        max: 5,
    },
    Limit {
        window: Window::Day,
        max: 10,
    },
];

/// Notifications: 50/day per signature + template + number.
pub const NOTIFICATION_LIMITS: [Limit; 1] = [Limit {
    window: Window::Day,
    max: 50,
}];

/// A refused send: the exhausted window that opens last, and how long until it does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LimitHit {
    pub limit: Limit,
    pub retry_after_ms: u64,
}

impl LimitHit {
    /// Aliyun's message for this hit (`触发分钟级流控Permits:1`).
    pub fn message(&self) -> String {
        format!(
            "触发{}流控Permits:{}",
            self.limit.window.chinese_name(),
            self.limit.max
        )
    }
}

/// Keys kept before a sweep drops those whose day is over.
const SWEEP_FLOOR: usize = 10_000;

/// Window counters by key. Memory: one small entry per key used today; entries of past days
/// are swept whenever the map has doubled since the last sweep.
#[derive(Debug)]
pub struct NumberLimits {
    inner: Mutex<Counters>,
}

#[derive(Debug)]
struct Counters {
    /// Per key: `(window index, count)` for each limit of the table it was used with.
    by_key: HashMap<String, Vec<(i64, u32)>>,
    sweep_at: usize,
}

impl Default for NumberLimits {
    fn default() -> Self {
        Self {
            inner: Mutex::new(Counters {
                by_key: HashMap::new(),
                sweep_at: SWEEP_FLOOR,
            }),
        }
    }
}

impl NumberLimits {
    /// Takes one send from every window of `limits` for `key`, or none when any is used up.
    pub fn try_acquire(&self, key: &str, limits: &[Limit], now: Millis) -> Result<(), LimitHit> {
        let mut inner = self.inner.lock();
        if inner.by_key.len() >= inner.sweep_at {
            let today = Window::Day.index(now);
            inner
                .by_key
                .retain(|_, slots| slots.iter().any(|(index, _)| *index >= today));
            inner.sweep_at = (inner.by_key.len() * 2).max(SWEEP_FLOOR);
        }
        let slots = inner
            .by_key
            .entry(key.to_owned())
            .or_insert_with(|| vec![(i64::MIN, 0); limits.len()]);
        slots.resize(limits.len(), (i64::MIN, 0));
        let mut hit: Option<LimitHit> = None;
        for (limit, slot) in limits.iter().zip(slots.iter_mut()) {
            let index = limit.window.index(now);
            if slot.0 != index {
                *slot = (index, 0);
            }
            if slot.1 >= limit.max {
                let retry_after_ms = (limit.window.end(now) - now).max(0) as u64;
                if hit.is_none_or(|h| h.retry_after_ms < retry_after_ms) {
                    hit = Some(LimitHit {
                        limit: *limit,
                        retry_after_ms,
                    });
                }
            }
        }
        if let Some(hit) = hit {
            return Err(hit);
        }
        for slot in slots.iter_mut() {
            slot.1 += 1;
        }
        Ok(())
    }

    /// Gives back a send taken at `taken_at` that provably did not happen (the provider
    /// refused it), in the windows that are still the same.
    pub fn release(&self, key: &str, limits: &[Limit], taken_at: Millis) {
        let mut inner = self.inner.lock();
        if let Some(slots) = inner.by_key.get_mut(key) {
            for (limit, slot) in limits.iter().zip(slots.iter_mut()) {
                if slot.0 == limit.window.index(taken_at) {
                    slot.1 = slot.1.saturating_sub(1);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 2024-02-01 00:30:05 China time.
    const T: Millis = 1_706_718_605_000;

    #[test]
    fn codes_get_one_a_minute_five_an_hour_ten_a_day() {
        let limits = NumberLimits::default();
        let key = "签名|13800000000";
        assert!(limits.try_acquire(key, &CODE_LIMITS, T).is_ok());
        let hit = limits.try_acquire(key, &CODE_LIMITS, T + 1000).unwrap_err();
        assert_eq!(hit.limit.window, Window::Minute);
        assert_eq!(hit.retry_after_ms, 54_000);
        assert_eq!(hit.message(), "触发分钟级流控Permits:1");
        for minute in 1..5 {
            assert!(
                limits
                    .try_acquire(key, &CODE_LIMITS, T + minute * 60_000)
                    .is_ok()
            );
        }
        let hit = limits
            .try_acquire(key, &CODE_LIMITS, T + 5 * 60_000)
            .unwrap_err();
        assert_eq!(hit.limit.window, Window::Hour);
        assert_eq!(hit.retry_after_ms, (25 * 60 - 5) * 1000);
        for hour in 1..6 {
            assert!(
                limits
                    .try_acquire(key, &CODE_LIMITS, T + hour * 3_600_000)
                    .is_ok()
            );
        }
        let hit = limits
            .try_acquire(key, &CODE_LIMITS, T + 7 * 3_600_000)
            .unwrap_err();
        assert_eq!(hit.limit.window, Window::Day);
        assert_eq!(
            T + 7 * 3_600_000 + hit.retry_after_ms as i64,
            Window::Day.end(T)
        );
        assert!(
            limits
                .try_acquire("签名|13900000000", &CODE_LIMITS, T)
                .is_ok(),
            "per number"
        );
    }

    #[test]
    fn a_released_send_frees_its_slot() {
        let limits = NumberLimits::default();
        limits.try_acquire("k", &CODE_LIMITS, T).unwrap();
        limits.release("k", &CODE_LIMITS, T);
        assert!(limits.try_acquire("k", &CODE_LIMITS, T + 10).is_ok());
        for i in 0..50 {
            limits
                .try_acquire("n", &NOTIFICATION_LIMITS, T + i)
                .unwrap();
        }
        assert!(
            limits
                .try_acquire("n", &NOTIFICATION_LIMITS, T + 60)
                .is_err()
        );
    }
}

/// A number as Aliyun counts it: mainland numbers lose their `+86` / `0086` / `86` prefix,
/// other numbers keep their digits (a leading `+` or `00` dropped).
pub fn normalize_number(number: &str) -> String {
    let trimmed = number.trim();
    let digits = trimmed
        .strip_prefix('+')
        .or_else(|| trimmed.strip_prefix("00"))
        .unwrap_or(trimmed);
    match digits.strip_prefix("86") {
        Some(rest) if rest.len() == 11 && rest.starts_with('1') => rest.to_owned(),
        _ => digits.to_owned(),
    }
}

#[cfg(test)]
mod number_tests {
    use super::normalize_number;

    #[test]
    fn mainland_prefixes_are_dropped() {
        for n in [
            "13800000000",
            "+8613800000000",
            "008613800000000",
            "8613800000000",
        ] {
            assert_eq!(normalize_number(n), "13800000000", "{n}");
        }
        assert_eq!(normalize_number("+85291234567"), "85291234567");
    }
}
