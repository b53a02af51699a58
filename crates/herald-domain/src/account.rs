//! Channel accounts: which provider credentials to use, how fast, and how to retry.
//!
//! Secrets are not part of [`Account`]: they travel separately as a [`SealedSecret`]
//! (AES-GCM ciphertext with the id of the key that sealed it), so nothing that prints or
//! serializes an account can leak them.

use crate::FieldError;
use crate::channel::ChannelKind;
use crate::ids::{AccountId, AppId};
use crate::time::Millis;
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// A provider account of one channel.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Account {
    pub id: AccountId,
    pub app_id: AppId,
    pub name: String,
    pub channel: ChannelKind,
    /// Non-secret provider settings (endpoint URL, sign name, agent id, …).
    pub config: serde_json::Value,
    pub rate_limit: RateLimit,
    pub retry: RetrySchedule,
    pub enabled: bool,
    /// Whether a secret is stored (the value itself is never returned).
    pub has_secret: bool,
    #[serde(with = "crate::time::rfc3339_millis")]
    pub created_at: Millis,
    #[serde(with = "crate::time::rfc3339_millis")]
    pub updated_at: Millis,
}

/// Secret material sealed with the master key identified by `key_id`.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SealedSecret {
    pub key_id: String,
    pub nonce: Vec<u8>,
    pub ciphertext: Vec<u8>,
}

impl std::fmt::Debug for SealedSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SealedSecret")
            .field("key_id", &self.key_id)
            .finish_non_exhaustive()
    }
}

/// Sends per second the provider allows this account; `0` means unlimited.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct RateLimit {
    pub per_second: u32,
}

/// The delays between attempts, as the account's provider tolerates them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RetrySchedule {
    /// Delay before retry n+1 after failed attempt n+1 (index 0 = first retry).
    pub delays_ms: Vec<u64>,
    /// Symmetric jitter, in percent of each delay (0–50).
    pub jitter_percent: u8,
}

impl Default for RetrySchedule {
    /// The seed's schedule (RocketMQ's delay levels): 1s 5s 10s 30s 1m … 1h 2h, ±20 %.
    fn default() -> Self {
        let secs = [
            1, 5, 10, 30, 60, 120, 180, 240, 300, 360, 420, 480, 540, 600, 1200, 1800, 3600, 7200,
        ];
        Self {
            delays_ms: secs.iter().map(|s| s * 1000).collect(),
            jitter_percent: 20,
        }
    }
}

impl RetrySchedule {
    pub fn validate(&self, field: &str) -> Result<(), FieldError> {
        if self.delays_ms.len() > 64 {
            return Err(FieldError::new(
                format!("{field}.delays_ms"),
                "at most 64 delays",
            ));
        }
        if self.delays_ms.iter().any(|d| *d > 7 * 24 * 3_600_000) {
            return Err(FieldError::new(
                format!("{field}.delays_ms"),
                "each delay must be at most 7 days",
            ));
        }
        if self.jitter_percent > 50 {
            return Err(FieldError::new(
                format!("{field}.jitter_percent"),
                "must be between 0 and 50",
            ));
        }
        Ok(())
    }

    /// Delay before the next attempt after `failed_attempts` failures, or `None` when the
    /// schedule is exhausted. Jitter is applied, then the result is raised to `retry_after`.
    pub fn next_delay(
        &self,
        failed_attempts: u32,
        retry_after: Option<Duration>,
    ) -> Option<Duration> {
        let base = *self
            .delays_ms
            .get(failed_attempts.checked_sub(1)? as usize)?;
        let spread = base * u64::from(self.jitter_percent) / 100;
        let jittered = if spread == 0 {
            base
        } else {
            base - spread + rand::random_range(0..=2 * spread)
        };
        let delay = Duration::from_millis(jittered);
        Some(retry_after.map_or(delay, |ra| delay.max(ra)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schedule_jitters_within_bounds_and_respects_retry_after() {
        let s = RetrySchedule {
            delays_ms: vec![1000, 5000],
            jitter_percent: 20,
        };
        for _ in 0..200 {
            let d = s.next_delay(1, None).unwrap().as_millis();
            assert!((800..=1200).contains(&d), "{d}");
        }
        assert_eq!(
            s.next_delay(1, Some(Duration::from_secs(30))),
            Some(Duration::from_secs(30))
        );
        assert_eq!(s.next_delay(3, None), None, "exhausted after two retries");
        assert_eq!(s.next_delay(0, None), None);
        assert_eq!(RetrySchedule::default().delays_ms.len(), 18);
    }
}
