//! Simulator configuration: per simulated account, its secret, rate limit and injected faults.
//! Read from TOML at start (`[sim.accounts.<name>]`) and replaceable at runtime with
//! `PUT /sim/accounts/{name}` (same fields, as JSON).

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The simulators' start-up configuration.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SimConfig {
    /// Accounts known from the start; any other name gets [`SimAccountConfig::default`].
    pub accounts: BTreeMap<String, SimAccountConfig>,
}

/// A secret the simulator checks signatures with. `Debug` never prints it.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct SimSecret(pub String);

impl std::fmt::Debug for SimSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SimSecret(<redacted>)")
    }
}

/// How one simulated account behaves.
///
/// Faults apply in phases over the calls that pass authentication and the rate limit,
/// counted from the last configuration change: the first `fail_first` calls fail with
/// `fail_status`, the next `permanent_first` answer 400, the next `timeout_first` stall for
/// `timeout_sleep_ms` (and are then accepted, like a slow server that did the work), and
/// after that each call fails with probability `error_rate`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SimAccountConfig {
    /// When set, every request must carry a valid signature (401 otherwise). Write-only:
    /// never serialized back.
    #[serde(skip_serializing)]
    pub secret: Option<SimSecret>,
    /// Requests admitted per wall-clock second; over it → 429 `Retry-After: 1`. 0 = unlimited.
    pub rate_limit_per_sec: u32,
    /// Calls answered with `fail_status` before any succeeds.
    pub fail_first: u64,
    /// Status of injected failures (`fail_first`, `error_rate`).
    pub fail_status: u16,
    /// `Retry-After` seconds sent with injected failures.
    pub retry_after_secs: Option<u64>,
    /// Calls answered 400 after the `fail_first` ones.
    pub permanent_first: u64,
    /// Calls that stall `timeout_sleep_ms` before answering, after the permanent ones.
    pub timeout_first: u64,
    /// How long a timeout fault stalls.
    pub timeout_sleep_ms: u64,
    /// Probability (0–1) that a call fails with `fail_status` once the phases are over.
    pub error_rate: f64,
    /// Added to every answer that passed authentication, to model a slow provider.
    pub latency_ms: u64,
}

impl Default for SimAccountConfig {
    fn default() -> Self {
        Self {
            secret: None,
            rate_limit_per_sec: 0,
            fail_first: 0,
            fail_status: 503,
            retry_after_secs: None,
            permanent_first: 0,
            timeout_first: 0,
            timeout_sleep_ms: 30_000,
            error_rate: 0.0,
            latency_ms: 0,
        }
    }
}

impl SimAccountConfig {
    /// Checks ranges; the message names the offending field.
    pub fn validate(&self) -> Result<(), String> {
        if !(0.0..=1.0).contains(&self.error_rate) {
            return Err("error_rate: must be between 0 and 1".into());
        }
        if !(400..=599).contains(&self.fail_status) {
            return Err("fail_status: must be an HTTP error status (400-599)".into());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partial_json_keeps_defaults_and_unknown_fields_are_refused() {
        let config: SimAccountConfig =
            serde_json::from_str(r#"{"fail_first": 2, "secret": "s"}"#).unwrap();
        assert_eq!(config.fail_first, 2);
        assert_eq!(config.fail_status, 503);
        assert_eq!(config.timeout_sleep_ms, 30_000);
        assert_eq!(config.secret, Some(SimSecret("s".into())));
        let shown = serde_json::to_string(&config).unwrap();
        assert!(!shown.contains("secret"), "{shown}");
        assert!(format!("{config:?}").contains("<redacted>"));
        assert!(serde_json::from_str::<SimAccountConfig>(r#"{"fail_frist": 2}"#).is_err());
        let bad = SimAccountConfig {
            error_rate: 1.5,
            ..SimAccountConfig::default()
        };
        assert!(bad.validate().unwrap_err().starts_with("error_rate"));
    }
}
