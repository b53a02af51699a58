//! Engine counters, rendered in Prometheus text format by the API's `/metrics`.
//! Plain atomics: cheaper on the hot path than a metrics registry, and enough for counters.

use std::sync::atomic::{AtomicU64, Ordering};

#[derive(Debug, Default)]
pub struct EngineMetrics {
    /// Deliveries accepted (one per receiver).
    pub accepted: AtomicU64,
    /// Accept requests answered from the idempotency store.
    pub idempotent_replays: AtomicU64,
    /// Provider calls made.
    pub attempts: AtomicU64,
    pub delivered: AtomicU64,
    pub sent: AtomicU64,
    pub retried: AtomicU64,
    pub failed: AtomicU64,
    pub unknown: AtomicU64,
    pub dead: AtomicU64,
    pub expired: AtomicU64,
    pub canceled: AtomicU64,
    /// Tasks dropped because their delivery was already final (redelivery after a crash).
    pub duplicates_skipped: AtomicU64,
    pub results_applied: AtomicU64,
    /// Tasks put back on the queue because their account's next permit was too far away.
    pub rate_deferred: AtomicU64,
}

impl EngineMetrics {
    pub fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Ordering::Relaxed);
    }

    /// `(name, help, value)` for every counter.
    pub fn counters(&self) -> Vec<(&'static str, &'static str, u64)> {
        let g = |c: &AtomicU64| c.load(Ordering::Relaxed);
        vec![
            (
                "herald_accepted_total",
                "Deliveries accepted (one per receiver).",
                g(&self.accepted),
            ),
            (
                "herald_idempotent_replays_total",
                "Accept requests answered from the idempotency store.",
                g(&self.idempotent_replays),
            ),
            (
                "herald_attempts_total",
                "Provider calls made.",
                g(&self.attempts),
            ),
            (
                "herald_delivered_total",
                "Deliveries that reached delivered at dispatch.",
                g(&self.delivered),
            ),
            (
                "herald_sent_total",
                "Deliveries handed to a provider that reports receipts.",
                g(&self.sent),
            ),
            (
                "herald_retries_total",
                "Retries scheduled.",
                g(&self.retried),
            ),
            (
                "herald_failed_total",
                "Deliveries failed permanently.",
                g(&self.failed),
            ),
            (
                "herald_unknown_total",
                "Sends whose outcome is unknown (timeouts).",
                g(&self.unknown),
            ),
            (
                "herald_dead_total",
                "Deliveries dead-lettered after exhausting retries.",
                g(&self.dead),
            ),
            (
                "herald_expired_total",
                "Deliveries dropped past expire_at.",
                g(&self.expired),
            ),
            (
                "herald_canceled_total",
                "Deliveries canceled.",
                g(&self.canceled),
            ),
            (
                "herald_duplicate_tasks_skipped_total",
                "Redelivered tasks skipped because already final.",
                g(&self.duplicates_skipped),
            ),
            (
                "herald_results_applied_total",
                "Result events that changed a record.",
                g(&self.results_applied),
            ),
            (
                "herald_rate_deferred_total",
                "Tasks requeued because their account's next rate permit was beyond the wait bound.",
                g(&self.rate_deferred),
            ),
        ]
    }
}
