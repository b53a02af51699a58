//! Shared pieces of the end-to-end tests that drive the real `herald` binary: child processes
//! that are killed when the test ends (even by a panic), the simulator and server launchers,
//! and the HTTP helpers in [`api`] and load generator in [`load`].
//!
//! Every child writes its output to a log file in the test's temp dir; when a test panics,
//! the guard prints the tail of each log so a failure explains itself.

pub mod api;
pub mod load;

use std::fs::File;
use std::io::{BufRead as _, BufReader, Read as _};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

/// The binary under test.
pub const HERALD: &str = env!("CARGO_BIN_EXE_herald");

/// The administrator key every test server is started with.
pub const ADMIN_KEY: &str = "crash-test-admin-key-0123456789";

/// A child process that is SIGKILLed and reaped when dropped.
pub struct ChildGuard {
    child: Child,
    label: String,
    log: PathBuf,
}

impl ChildGuard {
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// SIGKILL, then reap: the process gets no chance to flush or finish anything.
    pub fn kill_now(&mut self) {
        self.child.kill().expect("SIGKILL the child");
        self.child.wait().expect("reap the killed child");
    }

    /// Sends SIGTERM (the workspace forbids `unsafe`, so through `kill(1)`).
    pub fn terminate(&self) {
        let status = Command::new("kill")
            .args(["-TERM", &self.pid().to_string()])
            .status()
            .expect("run kill -TERM");
        assert!(status.success(), "kill -TERM {} failed", self.pid());
    }

    /// Waits up to `timeout` for the process to exit on its own.
    pub async fn wait_exit(&mut self, timeout: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self.child.try_wait().expect("poll the child") {
                return Some(status);
            }
            if Instant::now() >= deadline {
                return None;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Panics with the log's tail if the process has already exited.
    fn assert_running(&mut self) {
        if let Some(status) = self.child.try_wait().expect("poll the child") {
            panic!(
                "{} exited early with {status}; log:\n{}",
                self.label,
                log_tail(&self.log)
            );
        }
    }
}

impl Drop for ChildGuard {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if std::thread::panicking() {
            eprintln!(
                "---- {} log ({}) ----\n{}",
                self.label,
                self.log.display(),
                log_tail(&self.log)
            );
        }
    }
}

/// The last 60 lines of a log file.
fn log_tail(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(60)..].join("\n")
}

/// Starts `herald sim` on a kernel-chosen loopback port; returns it with its base URL.
pub fn start_sim(dir: &Path) -> (ChildGuard, String) {
    let log = dir.join("sim.log");
    let mut child = Command::new(HERALD)
        .args(["sim", "--listen", "127.0.0.1:0"])
        .stdout(Stdio::piped())
        .stderr(File::create(&log).expect("create sim log"))
        .spawn()
        .expect("spawn herald sim");
    let stdout = child.stdout.take().expect("sim stdout");
    let mut guard = ChildGuard {
        child,
        label: "herald sim".into(),
        log,
    };
    let mut reader = BufReader::new(stdout);
    let mut first = String::new();
    reader.read_line(&mut first).expect("read sim banner");
    // Keep draining stdout so the simulator never blocks on a full pipe.
    std::thread::spawn(move || {
        let mut sink = Vec::new();
        let _ = reader.read_to_end(&mut sink);
    });
    let Some(base) = first
        .split_whitespace()
        .find(|w| w.starts_with("http://"))
        .map(str::to_owned)
    else {
        guard.assert_running();
        panic!("no address in the simulator's banner {first:?}");
    };
    (guard, base)
}

/// A loopback port that was free a moment ago.
fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind a probe port");
    listener.local_addr().expect("probe address").port()
}

/// Starts `herald serve` on `data_dir` (durable, no demo, no built-in simulator) and waits for
/// `/healthz`. `run` numbers the log file, so a restart keeps the first run's log.
pub async fn start_server(
    data_dir: &Path,
    run: u32,
    shutdown_grace_secs: u64,
) -> (ChildGuard, String) {
    start_server_with(data_dir, run, shutdown_grace_secs, &[]).await
}

/// [`start_server`] with more `HERALD_*` settings (e.g. a distributed backend).
pub async fn start_server_with(
    data_dir: &Path,
    run: u32,
    shutdown_grace_secs: u64,
    env: &[(&str, String)],
) -> (ChildGuard, String) {
    let log_path = data_dir
        .parent()
        .expect("data dir has a parent")
        .join(format!("serve-{run}.log"));
    let log = File::create(&log_path).expect("create server log");
    let addr = format!("127.0.0.1:{}", free_port());
    let child = Command::new(HERALD)
        .arg("serve")
        .env_remove("HERALD_CONFIG")
        .env("HERALD_SERVER__LISTEN", &addr)
        .env("HERALD_STORAGE__DATA_DIR", data_dir)
        .env("HERALD_STORAGE__DURABLE", "true")
        .env("HERALD_SECURITY__ADMIN_KEY", ADMIN_KEY)
        .env("HERALD_BOOTSTRAP__DEMO", "false")
        .env("HERALD_SIM__BUILTIN", "false")
        .env(
            "HERALD_DISPATCHER__SHUTDOWN_GRACE_SECS",
            shutdown_grace_secs.to_string(),
        )
        .env("HERALD_LOG__FORMAT", "text")
        .env("NO_COLOR", "1")
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .stdout(log.try_clone().expect("clone log handle"))
        .stderr(log)
        .spawn()
        .expect("spawn herald serve");
    let mut guard = ChildGuard {
        child,
        label: format!("herald serve (run {run})"),
        log: log_path,
    };
    let base = format!("http://{addr}");
    let http = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        guard.assert_running();
        let healthy = http
            .get(format!("{base}/healthz"))
            .timeout(Duration::from_secs(1))
            .send()
            .await
            .is_ok_and(|r| r.status().is_success());
        if healthy {
            return (guard, base);
        }
        assert!(
            Instant::now() < deadline,
            "herald serve never became healthy"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
