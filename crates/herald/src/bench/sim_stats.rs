//! Deliveries as the provider simulator counted them (`GET /sim/stats`): the independent witness
//! of what Herald really delivered. Snapshots are taken before and after the load, and after a
//! drain wait that ends once the count stops growing.

use anyhow::Context as _;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::time::Duration;
use tokio::time::Instant;

/// The simulator's counters.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
pub struct SimStats {
    #[serde(default)]
    pub accounts: BTreeMap<String, AccountStats>,
    #[serde(default)]
    pub total_received: u64,
    #[serde(default)]
    pub total_unique: u64,
}

/// Counters of one simulated provider account.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
pub struct AccountStats {
    #[serde(default)]
    pub received: u64,
    #[serde(default)]
    pub unique: u64,
    #[serde(default)]
    pub duplicates: u64,
    #[serde(default)]
    pub throttled: u64,
    /// Accepted sends per Unix second (keys are decimal seconds).
    #[serde(default)]
    pub per_second: BTreeMap<String, u64>,
}

/// The four counters, for one account or all of them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Counts {
    pub received: u64,
    /// Distinct deliveries: what the report calls delivered.
    pub unique: u64,
    pub duplicates: u64,
    pub throttled: u64,
}

impl Counts {
    /// `self - before`, never negative (a simulator restart resets its counters).
    pub fn since(self, before: Counts) -> Counts {
        Counts {
            received: self.received.saturating_sub(before.received),
            unique: self.unique.saturating_sub(before.unique),
            duplicates: self.duplicates.saturating_sub(before.duplicates),
            throttled: self.throttled.saturating_sub(before.throttled),
        }
    }
}

impl SimStats {
    /// Counters of `account`, or of the whole simulator (its totals, plus summed duplicates and
    /// throttles) when no account is named. An unknown account counts zero.
    pub fn counts(&self, account: Option<&str>) -> Counts {
        match account {
            Some(name) => self
                .accounts
                .get(name)
                .map_or_else(Counts::default, |a| Counts {
                    received: a.received,
                    unique: a.unique,
                    duplicates: a.duplicates,
                    throttled: a.throttled,
                }),
            None => Counts {
                received: self.total_received,
                unique: self.total_unique,
                duplicates: self.accounts.values().map(|a| a.duplicates).sum(),
                throttled: self.accounts.values().map(|a| a.throttled).sum(),
            },
        }
    }

    /// The busiest second within `[from, to]` (Unix seconds): for checking provider rate limits.
    pub fn peak_per_second(&self, account: Option<&str>, from: u64, to: u64) -> Option<u64> {
        let mut by_second: BTreeMap<u64, u64> = BTreeMap::new();
        let accounts = self
            .accounts
            .iter()
            .filter(|(name, _)| account.is_none_or(|wanted| wanted == name.as_str()));
        for (_, stats) in accounts {
            for (second, count) in &stats.per_second {
                if let Ok(second) = second.parse::<u64>()
                    && (from..=to).contains(&second)
                {
                    *by_second.entry(second).or_default() += count;
                }
            }
        }
        by_second.into_values().max()
    }
}

/// Reads `{base_url}/sim/stats`.
pub async fn fetch(client: &reqwest::Client, base_url: &str) -> anyhow::Result<SimStats> {
    let url = format!("{base_url}/sim/stats");
    let response = client
        .get(&url)
        .send()
        .await
        .and_then(reqwest::Response::error_for_status)
        .with_context(|| format!("reading simulator stats from {url}"))?;
    let text = response
        .text()
        .await
        .with_context(|| format!("reading {url}"))?;
    serde_json::from_str(&text).with_context(|| format!("{url} answered unexpected JSON"))
}

/// Result of waiting for deliveries to finish.
#[derive(Debug)]
pub struct Drained {
    pub stats: SimStats,
    /// When the delivered count was last seen to grow (end of the load if it never did).
    pub settled_at: Instant,
    /// Whether the count stopped growing before the wait ran out.
    pub settled: bool,
}

/// Polling cadence of the drain wait.
#[derive(Debug, Clone, Copy)]
pub struct DrainTiming {
    pub poll: Duration,
    /// No growth for this long counts as finished.
    pub quiet: Duration,
}

impl Default for DrainTiming {
    fn default() -> Self {
        Self {
            poll: Duration::from_millis(250),
            quiet: Duration::from_secs(2),
        }
    }
}

/// Polls until the delivered count of `account` has not grown for the quiet period, or
/// `max_wait` has passed.
pub async fn drain(
    client: &reqwest::Client,
    base_url: &str,
    after_run: &SimStats,
    account: Option<&str>,
    max_wait: Duration,
) -> anyhow::Result<Drained> {
    drain_with(
        client,
        base_url,
        after_run,
        account,
        max_wait,
        DrainTiming::default(),
    )
    .await
}

pub async fn drain_with(
    client: &reqwest::Client,
    base_url: &str,
    after_run: &SimStats,
    account: Option<&str>,
    max_wait: Duration,
    timing: DrainTiming,
) -> anyhow::Result<Drained> {
    let began = Instant::now();
    let mut latest = after_run.clone();
    let mut delivered = latest.counts(account).unique;
    let mut grew_at = began;
    loop {
        let now = Instant::now();
        if now.duration_since(grew_at) >= timing.quiet {
            return Ok(Drained {
                stats: latest,
                settled_at: grew_at,
                settled: true,
            });
        }
        if now.duration_since(began) >= max_wait {
            return Ok(Drained {
                stats: latest,
                settled_at: grew_at,
                settled: false,
            });
        }
        tokio::time::sleep(timing.poll).await;
        latest = fetch(client, base_url).await?;
        let count = latest.counts(account).unique;
        if count > delivered {
            delivered = count;
            grew_at = Instant::now();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn stats(value: serde_json::Value) -> SimStats {
        serde_json::from_value(value).expect("valid stats")
    }

    #[test]
    fn counts_for_one_account_or_all_and_their_difference() {
        let before = stats(json!({
            "accounts": {
                "sandbox": {"received": 10, "unique": 9, "duplicates": 1, "throttled": 0, "per_second": {}},
                "other": {"received": 5, "unique": 5, "duplicates": 0, "throttled": 2}
            },
            "total_received": 15, "total_unique": 14
        }));
        let after = stats(json!({
            "accounts": {
                "sandbox": {"received": 110, "unique": 105, "duplicates": 5, "throttled": 3},
                "other": {"received": 5, "unique": 5, "duplicates": 0, "throttled": 2}
            },
            "total_received": 115, "total_unique": 110
        }));
        let delta = after
            .counts(Some("sandbox"))
            .since(before.counts(Some("sandbox")));
        assert_eq!(
            delta,
            Counts {
                received: 100,
                unique: 96,
                duplicates: 4,
                throttled: 3
            }
        );
        assert_eq!(
            after.counts(None),
            Counts {
                received: 115,
                unique: 110,
                duplicates: 5,
                throttled: 5
            }
        );
        assert_eq!(after.counts(Some("missing")), Counts::default());
        assert_eq!(
            before.counts(None).since(after.counts(None)),
            Counts::default(),
            "no negatives"
        );
    }

    #[test]
    fn peak_second_is_taken_within_the_window_and_summed_across_accounts() {
        let s = stats(json!({
            "accounts": {
                "a": {"per_second": {"100": 5, "101": 7, "102": 50}},
                "b": {"per_second": {"100": 4, "101": 1, "bogus": 1000}}
            }
        }));
        assert_eq!(s.peak_per_second(None, 100, 101), Some(9));
        assert_eq!(s.peak_per_second(Some("a"), 100, 101), Some(7));
        assert_eq!(s.peak_per_second(None, 100, 102), Some(50));
        assert_eq!(s.peak_per_second(None, 200, 300), None);
    }
}
