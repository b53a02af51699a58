//! One simulated provider account: its current configuration, fault progress and counters.
//! Provider-independent, so every simulator (webhook now, SMS and push later) shares it.

use super::config::SimAccountConfig;
use super::stats::{AccountSnapshot, AccountStats, ReceivedRecord, Verdict};
use parking_lot::{Mutex, RwLock};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// What the fault plan decided for one call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// Answer normally.
    None,
    /// Answer `status` (with `Retry-After` when set).
    Fail {
        status: u16,
        retry_after_secs: Option<u64>,
    },
    /// Answer 400.
    Permanent,
    /// Stall this long, then answer normally.
    Stall(Duration),
}

/// A simulated account. Shared by all requests to it; every lock is held only for a few
/// field updates, never across an await.
#[derive(Debug)]
pub struct AccountSim {
    /// Replaced wholesale by `PUT /sim/accounts/{name}`; readers clone the `Arc`.
    config: RwLock<Arc<SimAccountConfig>>,
    /// Calls that reached the fault stage since the last configuration change.
    fault_calls: AtomicU64,
    stats: Mutex<AccountStats>,
}

impl AccountSim {
    pub fn new(config: SimAccountConfig) -> Self {
        Self {
            config: RwLock::new(Arc::new(config)),
            fault_calls: AtomicU64::new(0),
            stats: Mutex::new(AccountStats::default()),
        }
    }

    pub fn config(&self) -> Arc<SimAccountConfig> {
        self.config.read().clone()
    }

    /// Replaces the configuration and restarts the fault phases.
    pub fn reconfigure(&self, config: SimAccountConfig) {
        *self.config.write() = Arc::new(config);
        self.fault_calls.store(0, Ordering::SeqCst);
    }

    pub fn reject(&self, arrival_sec: i64) {
        self.stats.lock().record(arrival_sec, Verdict::Rejected);
    }

    pub fn count_fault(&self, arrival_sec: i64) {
        self.stats.lock().record(arrival_sec, Verdict::Faulted);
    }

    /// Counts a request a provider-specific limit refused (e.g. a per-minute window the
    /// simulator keeps itself), so `/sim/stats` shows it as throttled like [`Self::admit`] does.
    pub fn count_throttled(&self, arrival_sec: i64) {
        self.stats.lock().record(arrival_sec, Verdict::Throttled);
    }

    /// Takes a rate-limit slot; false (counted as throttled) when the second is used up.
    pub fn admit(&self, arrival_sec: i64, limit_per_sec: u32) -> bool {
        self.stats.lock().admit(arrival_sec, limit_per_sec)
    }

    /// Counts an accepted request; true when it was a duplicate.
    pub fn accept(&self, arrival_sec: i64, record: ReceivedRecord) -> bool {
        self.stats.lock().accept(arrival_sec, record)
    }

    pub fn last_received(&self, limit: usize) -> Vec<ReceivedRecord> {
        self.stats.lock().last_received(limit)
    }

    pub fn snapshot(&self) -> AccountSnapshot {
        self.stats.lock().snapshot()
    }

    pub fn reset_stats(&self) {
        *self.stats.lock() = AccountStats::default();
    }

    /// The fault for the next call, following the phases documented on [`SimAccountConfig`].
    pub fn next_fault(&self, config: &SimAccountConfig) -> Fault {
        let call = self.fault_calls.fetch_add(1, Ordering::Relaxed);
        let fail = Fault::Fail {
            status: config.fail_status,
            retry_after_secs: config.retry_after_secs,
        };
        let mut edge = config.fail_first;
        if call < edge {
            return fail;
        }
        edge = edge.saturating_add(config.permanent_first);
        if call < edge {
            return Fault::Permanent;
        }
        edge = edge.saturating_add(config.timeout_first);
        if call < edge {
            return Fault::Stall(Duration::from_millis(config.timeout_sleep_ms));
        }
        if config.error_rate > 0.0 && rand::random::<f64>() < config.error_rate {
            return fail;
        }
        Fault::None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fault_phases_run_in_order_and_restart_on_reconfigure() {
        let config = SimAccountConfig {
            fail_first: 2,
            permanent_first: 1,
            timeout_first: 1,
            timeout_sleep_ms: 5,
            retry_after_secs: Some(3),
            ..SimAccountConfig::default()
        };
        let account = AccountSim::new(config.clone());
        let fail = Fault::Fail {
            status: 503,
            retry_after_secs: Some(3),
        };
        let seen: Vec<_> = (0..5).map(|_| account.next_fault(&config)).collect();
        assert_eq!(
            seen,
            [
                fail,
                fail,
                Fault::Permanent,
                Fault::Stall(Duration::from_millis(5)),
                Fault::None
            ]
        );
        account.reconfigure(config.clone());
        assert_eq!(account.next_fault(&config), fail);
        let always = SimAccountConfig {
            error_rate: 1.0,
            ..SimAccountConfig::default()
        };
        assert!(matches!(account.next_fault(&always), Fault::Fail { .. }));
    }
}
