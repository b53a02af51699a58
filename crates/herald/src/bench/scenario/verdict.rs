//! The arithmetic that decides PASS or FAIL, kept free of I/O so it can be tested exactly:
//! percentiles, the durability cross-check (every throughput figure must be backed by the fsync
//! counter), the per-second window check of the rate scenario, and the checks themselves.

use super::super::metrics::{self, Scrape};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// How a check ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    Pass,
    Fail,
    /// The figure is not backed by the server's fsync counter, so it is not believed.
    Inconsistent,
}

impl Verdict {
    pub fn from_pass(pass: bool) -> Self {
        if pass { Self::Pass } else { Self::Fail }
    }

    pub fn label(self) -> &'static str {
        match self {
            Self::Pass => "PASS",
            Self::Fail => "FAIL",
            Self::Inconsistent => "FAIL (inconsistent)",
        }
    }
}

/// One row of the target table, as measured.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Check {
    /// The target table's row, e.g. `single` or `get`.
    pub row: String,
    /// The target in words, e.g. `≥ 50,000 accepted/s`.
    pub target: String,
    /// The measured figure in words.
    pub measured: String,
    pub verdict: Verdict,
    /// Why, when it is not obvious (by how much it missed, what was inconsistent).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub note: String,
}

impl Check {
    /// A check of `measured >= target` (or `<=` when `at_most`), with the shortfall as note.
    pub fn threshold(
        row: &str,
        target_text: &str,
        measured_text: String,
        value: f64,
        target: f64,
        at_most: bool,
    ) -> Self {
        let pass = if at_most {
            value <= target
        } else {
            value >= target
        };
        let note = match (pass, at_most) {
            (true, _) => String::new(),
            (false, false) if value > 0.0 => format!("{:.1}× short", target / value),
            (false, false) => "nothing measured".into(),
            (false, true) => format!("{:.1}× over", value / target),
        };
        Self {
            row: row.into(),
            target: target_text.into(),
            measured: measured_text,
            verdict: Verdict::from_pass(pass),
            note,
        }
    }

    /// Downgrades the check to `Inconsistent` when the durability cross-check failed.
    pub fn backed_by(mut self, consistency: &Consistency) -> Self {
        if let Consistency::Inconsistent(why) = consistency {
            self.verdict = Verdict::Inconsistent;
            self.note = if self.note.is_empty() {
                why.clone()
            } else {
                format!("{}; {why}", self.note)
            };
        }
        self
    }
}

/// Group-commit counters over a measured interval.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Durability {
    /// `herald_fsync_total` delta.
    pub fsyncs: f64,
    /// `herald_commit_items_total` delta.
    pub items: f64,
    pub seconds: f64,
}

/// Whether a throughput figure is backed by fsyncs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Consistency {
    Consistent,
    Inconsistent(String),
}

impl Durability {
    /// From two `/metrics` scrapes; `None` when either is missing or lacks the counters.
    pub fn between(before: Option<&Scrape>, after: Option<&Scrape>, seconds: f64) -> Option<Self> {
        let delta =
            |name: &str| -> Option<f64> { Some((after?.get(name)? - before?.get(name)?).max(0.0)) };
        Some(Self {
            fsyncs: delta(metrics::FSYNC_TOTAL)?,
            items: delta(metrics::COMMIT_ITEMS_TOTAL)?,
            seconds,
        })
    }

    pub fn fsyncs_per_sec(&self) -> f64 {
        if self.seconds > 0.0 {
            self.fsyncs / self.seconds
        } else {
            0.0
        }
    }

    /// Items per fsync (0 without fsyncs).
    pub fn mean_batch(&self) -> f64 {
        if self.fsyncs > 0.0 {
            self.items / self.fsyncs
        } else {
            0.0
        }
    }

    /// `fsyncs × mean batch ≥ accepted`: every accepted delivery was in some fsynced commit.
    pub fn consistency(durability: Option<&Self>, accepted: u64) -> Consistency {
        let Some(d) = durability else {
            return Consistency::Inconsistent("inconsistent: no fsync counters on /metrics".into());
        };
        let covered = d.fsyncs * d.mean_batch();
        if covered + 0.5 >= accepted as f64 {
            Consistency::Consistent
        } else {
            Consistency::Inconsistent(format!(
                "inconsistent: {:.0} fsyncs × mean batch {:.1} = {:.0} < {accepted} accepted",
                d.fsyncs,
                d.mean_batch(),
                covered
            ))
        }
    }
}

/// Nearest-rank percentile (`q` in 0–1) of an ascending slice; `None` when empty.
pub fn percentile(sorted: &[f64], q: f64) -> Option<f64> {
    if sorted.is_empty() {
        return None;
    }
    let rank = (q.clamp(0.0, 1.0) * sorted.len() as f64).ceil() as usize;
    Some(sorted[rank.clamp(1, sorted.len()) - 1])
}

/// The full seconds of a window that starts and ends mid-second: from the second after `from`
/// to the second before `to` (Unix seconds, both given as fractions).
pub fn full_seconds(from: f64, to: f64) -> std::ops::RangeInclusive<u64> {
    let first = from.floor() as u64 + 1;
    let last = (to.floor() as u64).saturating_sub(1);
    first..=last
}

/// Seconds of `window` whose count is outside `expected ± tolerance` (a fraction), with their
/// counts; a second with no entry counts 0.
pub fn seconds_off_target(
    per_second: &BTreeMap<u64, u64>,
    window: std::ops::RangeInclusive<u64>,
    expected: f64,
    tolerance: f64,
) -> Vec<(u64, u64)> {
    let (low, high) = (expected * (1.0 - tolerance), expected * (1.0 + tolerance));
    window
        .map(|second| (second, per_second.get(&second).copied().unwrap_or(0)))
        .filter(|(_, count)| (*count as f64) < low - 1e-9 || (*count as f64) > high + 1e-9)
        .collect()
}

/// `12345.6` → `12,346` (thousands grouped, rounded).
pub fn grouped(value: f64) -> String {
    super::super::report::group(value.max(0.0).round() as u64)
}

#[cfg(test)]
#[path = "verdict_tests.rs"]
mod tests;
