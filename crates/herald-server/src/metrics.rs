//! Backend metrics appended to `/metrics`: group-commit statistics of the embedded store
//! (fsyncs and items per commit), queue depths, the outbox depth in distributed mode and the
//! process's resident memory.

use herald_api::MetricsSource;
use herald_embedded::CommitStats;
use herald_ports::Queue;
use herald_store_sql::Outbox;
use std::fmt::Write as _;
use std::sync::Arc;
use std::sync::atomic::Ordering;

/// Resident set size now and at its peak (bytes), from /proc/self/status.
pub fn rss_bytes() -> (u64, u64) {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse::<u64>().ok())
            .map_or(0, |kb| kb * 1024)
    };
    (field("VmRSS:"), field("VmHWM:"))
}

/// `stats`: the embedded store's commit statistics (none in distributed mode); `outbox`: the
/// SQL outbox whose depth is exported (distributed mode).
pub(crate) fn source(
    stats: Option<Arc<CommitStats>>,
    journal: Option<Arc<CommitStats>>,
    queue: Arc<dyn Queue>,
    outbox: Option<Outbox>,
) -> MetricsSource {
    let depths = Arc::new(parking_depths(queue, outbox));
    Arc::new(move || {
        let mut out = String::with_capacity(1024);
        if let Some(stats) = &stats {
            commit_metrics(&mut out, stats, journal.as_deref());
        }
        let (rss, peak) = rss_bytes();
        let _ = writeln!(
            out,
            "# HELP herald_rss_bytes Resident memory.\n# TYPE herald_rss_bytes gauge\nherald_rss_bytes {rss}"
        );
        let _ = writeln!(
            out,
            "# HELP herald_peak_rss_bytes Peak resident memory.\n# TYPE herald_peak_rss_bytes gauge\nherald_peak_rss_bytes {peak}"
        );
        out.push_str(&depths());
        out
    })
}

/// The embedded store's group-commit counters and means: `herald.db` and the accept journal
/// together, and the journal's own (what made accepts durable) beside them.
fn commit_metrics(out: &mut String, stats: &CommitStats, journal: Option<&CommitStats>) {
    let both = |f: fn(&CommitStats) -> u64| f(stats) + journal.map_or(0, f);
    let commits = both(CommitStats::commits);
    let items = both(CommitStats::items);
    let nanos = both(|s| s.commit_nanos.load(Ordering::Relaxed));
    let mut counter = |name: &str, help: &str, v: u64| {
        let _ = writeln!(
            out,
            "# HELP {name} {help}\n# TYPE {name} counter\n{name} {v}"
        );
    };
    counter(
        "herald_fsync_total",
        "Durable commits (one fsync each) of the embedded store (herald.db and the accept journal); 0 when storage.durable is off.",
        both(CommitStats::fsyncs),
    );
    counter(
        "herald_commits_total",
        "Committed transactions of the embedded store, durable or not.",
        commits,
    );
    counter(
        "herald_commit_items_total",
        "Items written by those commits (deliveries journaled and indexed, tasks acked, events applied).",
        items,
    );
    counter(
        "herald_commit_jobs_total",
        "Write jobs grouped into those commits.",
        both(|s| s.jobs.load(Ordering::Relaxed)),
    );
    counter(
        "herald_commit_seconds_total",
        "Time spent in COMMIT (fsync), in seconds (integer part).",
        nanos / 1_000_000_000,
    );
    counter(
        "herald_search_vocab_move_failures_total",
        "Moves of staged search words into the vocabulary that failed; the words stay staged for the next move. A growing count means searches fall back to slower prefix queries (decision 0020).",
        stats.vocab_move_failures.load(Ordering::Relaxed),
    );
    if let Some(journal) = journal {
        counter(
            "herald_journal_fsync_total",
            "Durable commits of the accept journal alone; 0 when storage.durable is off.",
            journal.fsyncs(),
        );
        counter(
            "herald_journal_set_aside_total",
            "Journaled accepts set aside unindexed: rows that could not be read back (kept in journal.db's journal_unreadable table) or were missing. Alert on any.",
            journal.set_aside.load(Ordering::Relaxed),
        );
        counter(
            "herald_journal_items_total",
            "Deliveries made durable by the accept journal (accepts without an idempotency key).",
            journal.items(),
        );
    }
    let mean = if commits == 0 {
        0.0
    } else {
        items as f64 / commits as f64
    };
    let mean_latency_ms = if commits == 0 {
        0.0
    } else {
        nanos as f64 / commits as f64 / 1e6
    };
    let _ = writeln!(
        out,
        "# HELP herald_commit_batch_mean Mean items per commit since start.\n# TYPE herald_commit_batch_mean gauge\nherald_commit_batch_mean {mean:.2}"
    );
    let _ = writeln!(
        out,
        "# HELP herald_journal_unindexed Deliveries accepted into the journal, not yet indexed.\n# TYPE herald_journal_unindexed gauge\nherald_journal_unindexed {}",
        journal.map_or(0, |j| j.unindexed.load(Ordering::Relaxed))
    );
    let _ = writeln!(
        out,
        "# HELP herald_commit_latency_mean_ms Mean COMMIT latency since start.\n# TYPE herald_commit_latency_mean_ms gauge\nherald_commit_latency_mean_ms {mean_latency_ms:.3}"
    );
}

/// Queue depths as last sampled (sampling is async; `/metrics` must not block on it).
fn parking_depths(
    queue: Arc<dyn Queue>,
    outbox: Option<Outbox>,
) -> impl Fn() -> String + Send + Sync {
    let last = Arc::new(std::sync::Mutex::new(String::new()));
    let writer = last.clone();
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(std::time::Duration::from_secs(2));
        loop {
            tick.tick().await;
            if let Ok(s) = queue.stats().await {
                let mut out = String::from(
                    "# HELP herald_queue_depth Tasks waiting per topic.\n# TYPE herald_queue_depth gauge\n",
                );
                for (topic, n) in [
                    ("send", s.send),
                    ("retry", s.retry),
                    ("result", s.result),
                    ("leased", s.leased),
                    ("dead", s.dead),
                ] {
                    let _ = writeln!(out, "herald_queue_depth{{topic=\"{topic}\"}} {n}");
                }
                if let Some(outbox) = &outbox
                    && let Ok(depth) = outbox.outbox_depth().await
                {
                    let _ = writeln!(
                        out,
                        "# HELP herald_outbox_depth Tasks committed to the SQL outbox, not yet relayed to the queue.\n# TYPE herald_outbox_depth gauge\nherald_outbox_depth {depth}"
                    );
                }
                if let Ok(mut w) = writer.lock() {
                    *w = out;
                }
            }
        }
    });
    move || last.lock().map(|s| s.clone()).unwrap_or_default()
}
