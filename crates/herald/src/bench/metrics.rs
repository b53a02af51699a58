//! Server-side numbers for the report: a small Prometheus text-format reader for the counters
//! Herald exports on `/metrics`, and the peak resident memory (VmHWM) of a process from `/proc`.

use std::collections::BTreeMap;

/// Counters that group commit exports: fsyncs done and items committed by them.
pub const FSYNC_TOTAL: &str = "herald_fsync_total";
pub const COMMIT_ITEMS_TOTAL: &str = "herald_commit_items_total";
/// Deliveries accepted by the API.
pub const ACCEPTED_TOTAL: &str = "herald_accepted_total";
/// Accepted deliveries still waiting in the embedded journal for the indexer.
pub const JOURNAL_UNINDEXED: &str = "herald_journal_unindexed";
/// Peak resident set size the server reports about itself.
pub const PEAK_RSS_BYTES: &str = "herald_peak_rss_bytes";

/// One scrape of `/metrics`: each metric name's value summed over its label sets.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Scrape {
    pub values: BTreeMap<String, f64>,
}

impl Scrape {
    pub fn get(&self, name: &str) -> Option<f64> {
        self.values.get(name).copied()
    }
}

/// Parses the Prometheus text exposition format. Comments and malformed lines are skipped;
/// samples of the same name with different labels are added up (a counter split by label is
/// still one total for the report).
pub fn parse_prometheus(text: &str) -> Scrape {
    let mut values = BTreeMap::new();
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let Some((name, rest)) = split_name(line) else {
            continue;
        };
        let Some(value) = rest
            .split_whitespace()
            .next()
            .and_then(|v| v.parse::<f64>().ok())
        else {
            continue;
        };
        *values.entry(name.to_string()).or_insert(0.0) += value;
    }
    Scrape { values }
}

/// Splits `name{labels} value [ts]` into the name and what follows the labels.
fn split_name(line: &str) -> Option<(&str, &str)> {
    let name_end = line
        .find(|c: char| c == '{' || c.is_whitespace())
        .unwrap_or(line.len());
    let name = &line[..name_end];
    if name.is_empty() {
        return None;
    }
    let rest = &line[name_end..];
    if !rest.starts_with('{') {
        return Some((name, rest));
    }
    // Find the closing brace outside quoted label values (which may contain `}` or `\"`).
    let mut in_quotes = false;
    let mut escaped = false;
    for (i, c) in rest.char_indices() {
        match c {
            _ if escaped => escaped = false,
            '\\' if in_quotes => escaped = true,
            '"' => in_quotes = !in_quotes,
            '}' if !in_quotes => return Some((name, &rest[i + 1..])),
            _ => {}
        }
    }
    None
}

/// Fetches and parses `{base_url}/metrics`; `None` (with a warning) if unavailable, since a
/// benchmark is still useful without server metrics.
pub async fn fetch(client: &reqwest::Client, base_url: &str) -> Option<Scrape> {
    let url = format!("{}/metrics", base_url.trim_end_matches('/'));
    let result = async {
        let response = client.get(&url).send().await?.error_for_status()?;
        response.text().await
    }
    .await;
    match result {
        Ok(text) => Some(parse_prometheus(&text)),
        Err(err) => {
            tracing::warn!(%url, %err, "server metrics unavailable");
            None
        }
    }
}

/// Peak resident set size of a process in bytes, from `VmHWM` in `/proc/<pid>/status`.
pub fn peak_rss_of_pid(pid: u32) -> std::io::Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    parse_vm_hwm(&status).ok_or_else(|| {
        std::io::Error::new(std::io::ErrorKind::InvalidData, "no VmHWM line in status")
    })
}

/// Reads `VmHWM:   123456 kB` into bytes.
pub fn parse_vm_hwm(status: &str) -> Option<u64> {
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let mut parts = line["VmHWM:".len()..].split_whitespace();
    let number: u64 = parts.next()?.parse().ok()?;
    match parts.next() {
        Some("kB") | None => Some(number * 1024),
        Some(_) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_counters_with_and_without_labels_and_sums_label_sets() {
        let text = r#"
# HELP herald_fsync_total Fsyncs done by the group-commit writer.
# TYPE herald_fsync_total counter
herald_fsync_total 1520
herald_commit_items_total{db="queue"} 200000
herald_commit_items_total{db="records",note="a } in \"quotes\""} 50000.5
herald_accepted_total{app="demo"} 3e5 1700000000000
herald_peak_rss_bytes 123456789
herald_weird{unterminated="x 5
not_a_number abc
"#;
        let scrape = parse_prometheus(text);
        assert_eq!(scrape.get(FSYNC_TOTAL), Some(1520.0));
        assert_eq!(scrape.get(COMMIT_ITEMS_TOTAL), Some(250000.5));
        assert_eq!(scrape.get(ACCEPTED_TOTAL), Some(300000.0));
        assert_eq!(scrape.get(PEAK_RSS_BYTES), Some(123456789.0));
        assert_eq!(scrape.get("herald_weird"), None);
        assert_eq!(scrape.get("not_a_number"), None);
        assert_eq!(scrape.values.len(), 4);
    }

    #[test]
    fn vm_hwm_is_read_in_bytes() {
        let status =
            "Name:\therald\nVmPeak:\t  900000 kB\nVmHWM:\t   51200 kB\nVmRSS:\t 40000 kB\n";
        assert_eq!(parse_vm_hwm(status), Some(51200 * 1024));
        assert_eq!(parse_vm_hwm("Name: x\n"), None);
    }

    #[test]
    fn own_process_has_a_peak_rss() {
        let bytes = peak_rss_of_pid(std::process::id()).expect("linux /proc");
        assert!(bytes > 1024 * 1024, "{bytes}");
    }
}
