//! The disk's own ceiling: append 4 KiB and `fsync` in a loop on the file system that holds the
//! data dir, the least a durable group commit can cost. Reported next to Herald's latency so a
//! slow disk and a slow server can be told apart.

use super::scenario::verdict::percentile;
use anyhow::Context as _;
use serde::{Deserialize, Serialize};
use std::io::Write as _;
use std::path::Path;
use std::time::{Duration, Instant};

/// Bytes written before each fsync.
pub const BLOCK: usize = 4096;

/// What the probe measured.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FsyncProbe {
    pub fsyncs: u64,
    pub fsyncs_per_sec: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
}

impl FsyncProbe {
    /// Summarizes fsync latencies (seconds) measured over `elapsed`.
    pub fn from_latencies(mut seconds: Vec<f64>, elapsed: Duration) -> Option<Self> {
        seconds.sort_by(f64::total_cmp);
        let ms = |q: f64| percentile(&seconds, q).map(|s| s * 1000.0);
        Some(Self {
            fsyncs: seconds.len() as u64,
            fsyncs_per_sec: seconds.len() as f64 / elapsed.as_secs_f64().max(1e-9),
            p50_ms: ms(0.50)?,
            p99_ms: ms(0.99)?,
            max_ms: ms(1.0)?,
        })
    }

    pub fn summary(&self) -> String {
        format!(
            "{:.0} fsyncs/s (4 KiB append + fsync), p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
            self.fsyncs_per_sec, self.p50_ms, self.p99_ms, self.max_ms
        )
    }
}

/// Appends and fsyncs a scratch file in `dir` for `duration`, then removes it. Blocking: call
/// it from `spawn_blocking`.
pub fn measure(dir: &Path, duration: Duration) -> anyhow::Result<FsyncProbe> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let path = dir.join(format!("fsync-probe-{}.bin", std::process::id()));
    let result = probe_file(&path, duration);
    let _ = std::fs::remove_file(&path);
    result
}

fn probe_file(path: &Path, duration: Duration) -> anyhow::Result<FsyncProbe> {
    let mut file =
        std::fs::File::create(path).with_context(|| format!("creating {}", path.display()))?;
    let block = [b'x'; BLOCK];
    let mut latencies = Vec::new();
    let started = Instant::now();
    while started.elapsed() < duration {
        file.write_all(&block).context("writing the probe file")?;
        let before = Instant::now();
        file.sync_all().context("fsync of the probe file")?;
        latencies.push(before.elapsed().as_secs_f64());
    }
    FsyncProbe::from_latencies(latencies, started.elapsed()).context("the probe ran no fsync")
}

/// Runs [`measure`] off the async runtime.
pub async fn measure_async(dir: &Path, duration: Duration) -> anyhow::Result<FsyncProbe> {
    let dir = dir.to_path_buf();
    tokio::task::spawn_blocking(move || measure(&dir, duration))
        .await
        .context("fsync probe panicked")?
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summary_from_latencies() {
        let latencies: Vec<f64> = (1..=200).rev().map(|i| f64::from(i) / 1000.0).collect();
        let probe = FsyncProbe::from_latencies(latencies, Duration::from_secs(2)).unwrap();
        assert_eq!(probe.fsyncs, 200);
        assert_eq!(probe.fsyncs_per_sec, 100.0);
        assert!((probe.p50_ms - 100.0).abs() < 1e-9, "{probe:?}");
        assert!((probe.p99_ms - 198.0).abs() < 1e-9, "{probe:?}");
        assert!((probe.max_ms - 200.0).abs() < 1e-9, "{probe:?}");
        assert!(FsyncProbe::from_latencies(Vec::new(), Duration::from_secs(1)).is_none());
    }

    #[test]
    fn probes_a_real_directory_and_cleans_up() {
        let dir = tempfile::tempdir().unwrap();
        let probe = measure(dir.path(), Duration::from_millis(100)).unwrap();
        assert!(probe.fsyncs >= 1 && probe.p50_ms <= probe.p99_ms && probe.p99_ms <= probe.max_ms);
        assert_eq!(
            std::fs::read_dir(dir.path()).unwrap().count(),
            0,
            "scratch file removed"
        );
    }
}
