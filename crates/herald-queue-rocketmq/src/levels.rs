//! RocketMQ's fixed delay levels and how a task's `not_before` maps onto them.
//!
//! A broker delays a message only by one of its levels (`messageDelayLevel`, by default
//! `1s 5s 10s 30s 1m 2m 3m 4m 5m 6m 7m 8m 9m 10m 20m 30m 1h 2h`, numbered from 1). A delay
//! is rounded **up** to the next level, so a task is never released before its
//! `not_before` (a provider's Retry-After is a floor, not a hint). A delay longer than the
//! last level is chained: the task is delayed by the last level, and when it arrives early
//! the hand-out delays it again by the level that covers what is left (module `handout`).
//! The same re-delay catches a level that fires early for any other reason.

use herald_domain::Millis;

/// The broker's default delay levels in milliseconds; level `n` is `DELAY_LEVELS_MS[n - 1]`.
/// The broker must run with these (its default setting).
pub const DELAY_LEVELS_MS: [Millis; 18] = [
    1_000, 5_000, 10_000, 30_000, 60_000, 120_000, 180_000, 240_000, 300_000, 360_000, 420_000,
    480_000, 540_000, 600_000, 1_200_000, 1_800_000, 3_600_000, 7_200_000,
];

/// The broker setting that declares [`DELAY_LEVELS_MS`].
pub const DELAY_LEVELS_SETTING: &str = "1s 5s 10s 30s 1m 2m 3m 4m 5m 6m 7m 8m 9m 10m 20m 30m 1h 2h";

/// One delayed publish: which level to ask for and how long it holds the message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DelayHop {
    /// RocketMQ's 1-based delay level.
    pub level: i32,
    /// How long that level holds the message.
    pub holds: Millis,
}

impl DelayHop {
    /// The hop for a task due in `remaining` milliseconds: `None` when it is due now, the
    /// smallest level that covers the delay, or the last level when none does (chaining).
    pub fn for_remaining(remaining: Millis) -> Option<Self> {
        if remaining <= 0 {
            return None;
        }
        let index = DELAY_LEVELS_MS
            .iter()
            .position(|&level| level >= remaining)
            .unwrap_or(DELAY_LEVELS_MS.len() - 1);
        Some(Self {
            level: index as i32 + 1,
            holds: DELAY_LEVELS_MS[index],
        })
    }

    /// Whether this hop releases the task at or after its due time; false only for a chained
    /// hop (the last level, shorter than the delay), which needs another hop on arrival.
    pub fn reaches(self, remaining: Millis) -> bool {
        self.holds >= remaining
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn due_tasks_need_no_hop() {
        assert_eq!(DelayHop::for_remaining(0), None);
        assert_eq!(DelayHop::for_remaining(-5_000), None);
    }

    #[test]
    fn delays_round_up_to_the_next_level() {
        let cases = [
            (1, 1, 1_000),
            (400, 1, 1_000),
            (1_000, 1, 1_000),
            (1_001, 2, 5_000),
            (29_999, 4, 30_000),
            (61_000, 6, 120_000),
            (600_001, 15, 1_200_000),
            (3_600_000, 17, 3_600_000),
            (3_600_001, 18, 7_200_000),
            (7_200_000, 18, 7_200_000),
        ];
        for (remaining, level, holds) in cases {
            let hop = DelayHop::for_remaining(remaining).expect("a delay needs a hop");
            assert_eq!(hop, DelayHop { level, holds }, "delay of {remaining} ms");
            assert!(
                hop.reaches(remaining),
                "{remaining} ms is covered in one hop"
            );
            assert!(hop.holds >= remaining, "never released early");
        }
    }

    #[test]
    fn delays_beyond_the_last_level_are_chained() {
        let three_days = 3 * 24 * 3_600_000;
        let hop = DelayHop::for_remaining(three_days).expect("a hop");
        assert_eq!(hop.level, 18);
        assert!(!hop.reaches(three_days), "one hop does not reach it");
        // Hops needed at two hours each, the last one rounded up like any delay.
        let mut left = three_days;
        let mut hops = 0;
        while let Some(hop) = DelayHop::for_remaining(left) {
            left -= hop.holds;
            hops += 1;
        }
        assert_eq!(hops, 36);
        assert!(left <= 0);
    }

    #[test]
    fn levels_match_the_setting() {
        let parsed: Vec<Millis> = DELAY_LEVELS_SETTING
            .split(' ')
            .map(|level| {
                let (number, unit) = level.split_at(level.len() - 1);
                let number: Millis = number.parse().expect("a number");
                number
                    * match unit {
                        "s" => 1_000,
                        "m" => 60_000,
                        "h" => 3_600_000,
                        other => panic!("unit {other}"),
                    }
            })
            .collect();
        assert_eq!(parsed, DELAY_LEVELS_MS);
    }
}
