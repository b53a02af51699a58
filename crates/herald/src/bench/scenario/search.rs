//! Search at scale: load `--messages` through the real accept path (the batch API), then time
//! `GET /v1/messages` (once the simulator has counted every loaded message, so the store is
//! quiet) with a status filter, a time range and a text query, alternating a rare
//! term (one message's own word) and a common one (the template's word). Records the row count and the
//! size of the data dir.

use super::super::load;
use super::super::sim_stats;
use super::context::{Context, Shape};
use super::throughput::describe;
use super::verdict::{Check, Durability, grouped, percentile};
use super::{ScenarioReport, SearchArgs};
use anyhow::Context as _;
use std::path::Path;
use std::time::{Duration, Instant};

/// Total bytes of the files under `dir` (recursively); unreadable entries count 0.
pub fn dir_size(dir: &Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    entries
        .flatten()
        .map(|entry| match entry.metadata() {
            Ok(meta) if meta.is_dir() => dir_size(&entry.path()),
            Ok(meta) => meta.len(),
            Err(_) => 0,
        })
        .sum()
}

/// The `q` of query number `i`: odd ones one message's own word (`user<n>`, rendered from its
/// variable; a prefix match, so `user12` also finds `user120`…), even ones the word every
/// message shares.
pub fn query_text(i: usize, messages: u64) -> String {
    if i % 2 == 1 {
        // Spread over the loaded range with a fixed stride, so runs are reproducible.
        let n = (i as u64).wrapping_mul(2_654_435_761) % messages.max(1);
        format!("user{n}")
    } else {
        "hello".into()
    }
}

/// Waits until the simulator has `rows` deliveries of this run's account (so the status filter
/// sees settled rows and the store is quiet while searches are timed), at most `max_wait`;
/// returns how many it counted.
async fn settle(ctx: &Context, rows: u64, max_wait: Duration) -> anyhow::Result<u64> {
    let started = Instant::now();
    loop {
        let stats = sim_stats::fetch(&ctx.http, &ctx.sim_url).await?;
        let delivered = stats.counts(Some(&ctx.sim_account)).unique;
        if delivered >= rows || started.elapsed() >= max_wait {
            return Ok(delivered);
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

pub async fn run(args: &SearchArgs) -> anyhow::Result<ScenarioReport> {
    anyhow::ensure!(args.messages > 0, "--messages must be at least 1");
    let ctx = Context::prepare(&args.common, "search", 0).await?;
    let mut report = ScenarioReport::new("search");
    let from = chrono::Utc::now() - chrono::Duration::seconds(5);

    let before = ctx.scrape().await;
    let plan = ctx.plan(Shape {
        connections: args.connections,
        batch_size: Some(args.batch_size),
        duration: Some(Duration::from_secs(24 * 3600)),
        max_receivers: Some(args.messages),
        numbered_name: true,
        ..Shape::default()
    })?;
    let loaded = load::run(plan).await?;
    let durability = ctx
        .durability_since(before.as_ref(), loaded.elapsed.as_secs_f64())
        .await;
    report.durability(durability.as_ref());
    describe(&mut report, "load ", &loaded);
    let rows = loaded.accepted * loaded.receivers_per_request as u64;
    let delivered = settle(&ctx, rows, args.settle).await?;
    report.figure(
        "delivered before searching",
        format!("{} of {}", grouped(delivered as f64), grouped(rows as f64)),
    );

    let to = chrono::Utc::now() + chrono::Duration::seconds(60);
    let url = format!("{}/v1/messages", args.common.url.trim_end_matches('/'));
    let mut timings = Vec::with_capacity(args.queries);
    let mut failures = 0u64;
    // Hits per page, by kind of query: [common word, one message's word].
    let mut hits = [0usize; 2];
    let started = Instant::now();
    for i in 0..args.queries {
        let q = query_text(i, rows);
        let params = [
            ("status", args.status.clone()),
            ("from", from.to_rfc3339()),
            ("to", to.to_rfc3339()),
            ("q", q),
            ("limit", "50".into()),
        ];
        let sent = Instant::now();
        let answer = ctx
            .http
            .get(&url)
            .bearer_auth(&ctx.key)
            .query(&params)
            .send()
            .await;
        let body = match answer {
            Ok(answer) if answer.status().is_success() => {
                answer.json::<serde_json::Value>().await.ok()
            }
            _ => None,
        };
        let elapsed = sent.elapsed().as_secs_f64() * 1000.0;
        match body {
            Some(body) => {
                timings.push(elapsed);
                hits[i % 2] += body["items"].as_array().map_or(0, Vec::len);
            }
            None => failures += 1,
        }
    }
    report.duration_secs = loaded.elapsed.as_secs_f64() + started.elapsed().as_secs_f64();
    timings.sort_by(f64::total_cmp);
    let p = |q: f64| percentile(&timings, q).unwrap_or(f64::INFINITY);
    report.figure("rows loaded", grouped(rows as f64));
    if let Some(dir) = &args.common.data_dir {
        report.figure(
            "database size",
            format!("{:.1} MB ({})", dir_size(dir) as f64 / 1e6, dir.display()),
        );
    }
    report.figure(
        "searches",
        format!(
            "{} answered, {failures} failed; status={}, time range, q alternating the common word \
             (mean {:.1} hits per page) and one message's word (mean {:.2})",
            timings.len(),
            args.status,
            hits[0] as f64 / args.queries.div_ceil(2).max(1) as f64,
            hits[1] as f64 / (args.queries / 2).max(1) as f64,
        ),
    );
    report.figure(
        "search ms",
        format!(
            "p50 {:.1}  p95 {:.1}  p99 {:.1}  max {:.1}",
            p(0.5),
            p(0.95),
            p(0.99),
            p(1.0)
        ),
    );
    let mut check = Check::threshold(
        "search",
        &format!(
            "p95 ≤ 100 ms over {} messages",
            grouped(args.messages as f64)
        ),
        format!("p95 {:.1} ms over {} rows", p(0.95), grouped(rows as f64)),
        p(0.95),
        100.0,
        true,
    );
    if failures > 0 {
        check.verdict = super::verdict::Verdict::Fail;
        check.note = format!("{failures} searches failed");
    }
    let consistency = Durability::consistency(durability.as_ref(), rows);
    report.checks.push(check.backed_by(&consistency));
    if timings.is_empty() {
        return Err(anyhow::anyhow!("no search answered")).context(format!("GET {url}"));
    }
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queries_alternate_common_word_and_one_receiver_in_range() {
        assert_eq!(query_text(0, 100), "hello");
        assert_eq!(query_text(2, 100), "hello");
        for i in [1, 3, 5, 99] {
            let q = query_text(i, 100);
            let n: u64 = q.strip_prefix("user").unwrap().parse().unwrap();
            assert!(n < 100, "{q}");
        }
        assert_ne!(query_text(1, 1000), query_text(3, 1000));
    }

    #[test]
    fn dir_size_sums_files_recursively() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("a"), [0u8; 100]).unwrap();
        std::fs::create_dir(dir.path().join("sub")).unwrap();
        std::fs::write(dir.path().join("sub/b"), [0u8; 23]).unwrap();
        assert_eq!(dir_size(dir.path()), 123);
        assert_eq!(dir_size(&dir.path().join("missing")), 0);
    }
}
