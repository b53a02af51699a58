//! WeCom's per-member limits, enforced by Herald before sending: WeCom accepts a call whose
//! members are over 30 messages a minute or 1,000 an hour per application and silently
//! drops their copies, so the only way to not lose them is to never send them.
//!
//! Windows are in-process (per node) and a little stricter than WeCom's: one second longer,
//! and the hour window also a [`BUCKET_MS`] longer to cover its bucket rounding. A node
//! that restarts forgets its windows; several nodes sending to one member each keep their
//! own, so deployments with many nodes should lower the limits per node in the account
//! config.

use crate::common::window::{BUCKET_MS, Limits, Windows};
use parking_lot::Mutex;
use std::collections::HashMap;
use std::sync::Arc;

/// WeCom's limits per member per application.
pub const PER_MINUTE: u32 = 30;
pub const PER_HOUR: u32 = 1000;
/// Safety margin against clock and network skew.
const MARGIN_MS: i64 = 1000;

/// The client-side limits for given per-minute and per-hour counts.
pub fn client_limits(per_minute: u32, per_hour: u32) -> Limits {
    Limits {
        short_limit: per_minute,
        short_ms: 60_000 + MARGIN_MS,
        long_limit: per_hour,
        long_ms: 3_600_000 + BUCKET_MS + MARGIN_MS,
    }
}

/// Windows per application (`corpid:agentid`).
#[derive(Debug, Default)]
pub struct MemberLimits {
    apps: Mutex<HashMap<String, Arc<Windows>>>,
}

impl MemberLimits {
    /// The windows of one application (recreated if its configured limits changed).
    pub fn app(&self, app: &str, limits: Limits) -> Arc<Windows> {
        let mut apps = self.apps.lock();
        let windows = apps
            .entry(app.to_owned())
            .or_insert_with(|| Arc::new(Windows::new(limits)));
        if windows.limits() != limits {
            *windows = Arc::new(Windows::new(limits));
        }
        windows.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_31st_message_a_minute_waits() {
        let limits = MemberLimits::default();
        let windows = limits.app("corp:1", client_limits(PER_MINUTE, PER_HOUR));
        for i in 0..30 {
            windows.try_take("zhangsan", i * 100).unwrap();
        }
        let wait = windows.try_take("zhangsan", 3_000).unwrap_err();
        assert_eq!(
            wait,
            61_000 - 3_000,
            "until the first leaves the (61 s) window"
        );
        assert!(windows.try_take("lisi", 3_000).is_ok());
        let same = limits.app("corp:1", client_limits(PER_MINUTE, PER_HOUR));
        assert!(
            same.try_take("zhangsan", 3_001).is_err(),
            "windows persist per app"
        );
        let lowered = limits.app("corp:1", client_limits(10, 100));
        assert!(
            lowered.try_take("zhangsan", 3_002).is_ok(),
            "new limits start afresh"
        );
    }
}
