//! In-process pacing of robot webhooks: sliding windows per robot (DingTalk 20/min, Feishu
//! 100/min and 5/s) kept by the client, so Herald answers "not yet" itself instead of
//! spending a call that the provider would throttle (DingTalk then mutes the robot for ten
//! minutes).
//!
//! The dispatcher's own per-account rate limit normally keeps sends below these numbers;
//! this is the provider-specific safety net under it. It is per process: several Herald
//! nodes sharing one robot each keep their own window, so the account's configured rate
//! limit (shared by all nodes) must stay at or below the provider's limit.

use parking_lot::Mutex;
use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

/// One limit: at most `limit` sends in any `period`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    pub limit: u32,
    pub period: Duration,
}

impl Window {
    pub const fn per_minute(limit: u32) -> Self {
        Self {
            limit,
            period: Duration::from_secs(60),
        }
    }

    pub const fn per_second(limit: u32) -> Self {
        Self {
            limit,
            period: Duration::from_secs(1),
        }
    }
}

/// What one robot has sent recently, and whether the provider muted it.
#[derive(Debug, Default)]
struct RobotHistory {
    /// Send instants within the longest window, oldest first.
    sent: VecDeque<Instant>,
    /// Set after the provider throttled the robot: nothing is sent before this instant.
    muted_until: Option<Instant>,
}

/// Sliding windows per robot key (the Herald account id: never a secret).
#[derive(Debug, Default)]
pub struct Pacer {
    robots: Mutex<HashMap<String, RobotHistory>>,
}

impl Pacer {
    /// Takes a send slot for `key` at `now` under every window, or says how long until one
    /// frees up (nothing is recorded then).
    pub fn try_take(&self, key: &str, windows: &[Window], now: Instant) -> Result<(), Duration> {
        let mut robots = self.robots.lock();
        let history = robots.entry(key.to_owned()).or_default();
        if let Some(until) = history.muted_until {
            if until > now {
                return Err(until - now);
            }
            history.muted_until = None;
        }
        let longest = windows.iter().map(|w| w.period).max().unwrap_or_default();
        while history
            .sent
            .front()
            .is_some_and(|&t| now.duration_since(t) >= longest)
        {
            history.sent.pop_front();
        }
        let mut wait = Duration::ZERO;
        for window in windows.iter().filter(|w| w.limit > 0) {
            let in_window: Vec<&Instant> = history
                .sent
                .iter()
                .filter(|&&t| now.duration_since(t) < window.period)
                .collect();
            if in_window.len() >= window.limit as usize {
                // The slot frees when the oldest send that keeps the window full ages out.
                let oldest_blocking = in_window[in_window.len() - window.limit as usize];
                wait = wait.max(window.period - now.duration_since(*oldest_blocking));
            }
        }
        if wait > Duration::ZERO {
            return Err(wait);
        }
        history.sent.push_back(now);
        Ok(())
    }

    /// Takes a slot, sleeping when one frees up within `max_wait`; otherwise returns the
    /// wait so the caller can answer `Retryable` with it.
    pub async fn take(
        &self,
        key: &str,
        windows: &[Window],
        max_wait: Duration,
    ) -> Result<(), Duration> {
        let deadline = Instant::now() + max_wait;
        loop {
            let now = Instant::now();
            match self.try_take(key, windows, now) {
                Ok(()) => return Ok(()),
                Err(wait) if now + wait <= deadline => tokio::time::sleep(wait).await,
                Err(wait) => return Err(wait),
            }
        }
    }

    /// Records that the provider throttled `key`: no send before `until`.
    pub fn mute(&self, key: &str, until: Instant) {
        let mut robots = self.robots.lock();
        let history = robots.entry(key.to_owned()).or_default();
        history.muted_until = Some(history.muted_until.map_or(until, |t| t.max(until)));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_window_holds_and_frees_slots_as_sends_age() {
        let pacer = Pacer::default();
        let windows = [Window::per_second(2), Window::per_minute(3)];
        let t0 = Instant::now();
        assert!(pacer.try_take("a", &windows, t0).is_ok());
        assert!(pacer.try_take("a", &windows, t0).is_ok());
        let wait = pacer.try_take("a", &windows, t0).unwrap_err();
        assert_eq!(
            wait,
            Duration::from_secs(1),
            "the per-second window is full"
        );
        assert!(
            pacer.try_take("b", &windows, t0).is_ok(),
            "robots are independent"
        );

        let t1 = t0 + Duration::from_secs(1);
        assert!(pacer.try_take("a", &windows, t1).is_ok());
        let wait = pacer.try_take("a", &windows, t1).unwrap_err();
        assert_eq!(wait, Duration::from_secs(59), "the minute window is full");
        assert!(
            pacer
                .try_take("a", &windows, t0 + Duration::from_secs(60))
                .is_ok()
        );
    }

    #[test]
    fn a_muted_robot_waits_until_the_mute_ends() {
        let pacer = Pacer::default();
        let t0 = Instant::now();
        pacer.mute("a", t0 + Duration::from_secs(600));
        assert_eq!(
            pacer.try_take("a", &[], t0 + Duration::from_secs(100)),
            Err(Duration::from_secs(500))
        );
        assert!(
            pacer
                .try_take("a", &[], t0 + Duration::from_secs(600))
                .is_ok()
        );
    }

    #[tokio::test]
    async fn take_sleeps_for_short_waits_only() {
        let pacer = Pacer::default();
        let windows = [Window {
            limit: 1,
            period: Duration::from_millis(50),
        }];
        pacer.take("a", &windows, Duration::ZERO).await.unwrap();
        let started = Instant::now();
        pacer
            .take("a", &windows, Duration::from_secs(1))
            .await
            .unwrap();
        assert!(started.elapsed() >= Duration::from_millis(40));
        let wait = pacer
            .take("a", &windows, Duration::from_millis(1))
            .await
            .unwrap_err();
        assert!(wait > Duration::from_millis(1));
    }
}
