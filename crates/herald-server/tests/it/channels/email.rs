//! Email over SMTP against a real server: `scripts/smtp_sink.py` (aiosmtpd) with AUTH.
//! Without python3 + aiosmtpd the tests say why and pass, unless `CI=true`.

use super::{Route, assert_failed_with, delivery_in, provider_request_id, route, send};
use crate::harness::{TestApp, spawn_app};
use serde_json::{Value, json};
use std::io::{BufRead as _, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};

/// A running `smtp_sink.py` requiring `herald` / `s3cret`; killed on drop.
struct Sink {
    child: Child,
    port: u16,
    out: tempfile::NamedTempFile,
}

impl Drop for Sink {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Sink {
    fn start() -> Option<Self> {
        let python = std::env::var("PYTHON").unwrap_or_else(|_| "python3".into());
        let usable = Command::new(&python)
            .args(["-c", "import aiosmtpd"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if !usable {
            let why = format!("{python} with aiosmtpd is not available (pip install aiosmtpd)");
            assert!(std::env::var("CI").as_deref() != Ok("true"), "{why}");
            println!("skipping the email end-to-end test: {why}");
            return None;
        }
        let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../scripts/smtp_sink.py");
        let out = tempfile::NamedTempFile::new().expect("sink output file");
        let mut child = Command::new(python)
            .arg(script)
            .arg("--out")
            .arg(out.path())
            .args(["--auth", "herald:s3cret"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("spawn smtp_sink.py");
        let mut line = String::new();
        BufReader::new(child.stdout.take().expect("sink stdout"))
            .read_line(&mut line)
            .expect("read the sink's READY line");
        let port = line
            .strip_prefix("READY ")
            .and_then(|p| p.trim().parse().ok())
            .unwrap_or_else(|| panic!("smtp sink did not start: {line:?}"));
        Some(Self { child, port, out })
    }

    fn accepted(&self) -> Vec<Value> {
        std::fs::read_to_string(self.out.path())
            .unwrap_or_default()
            .lines()
            .map(|l| serde_json::from_str(l).expect("sink JSON line"))
            .collect()
    }

    async fn route(&self, app: &TestApp, password: &str) -> Route {
        route(
            app,
            "email",
            json!({"host": "127.0.0.1", "port": self.port, "tls": "none", "from": "Herald <no-reply@herald.test>", "timeout_ms": 3000}),
            Some(json!({"username": "herald", "password": password})),
            json!({"title": "Invoice {{ n }}", "body": "Invoice {{ n }} is ready.", "fields": {"html": "<p>Invoice <b>{{ n }}</b></p>", "reply_to": "billing@herald.test"}}),
            &["n"],
        )
        .await
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mail_is_accepted_by_a_real_smtp_server() {
    let Some(sink) = Sink::start() else {
        return;
    };
    let app = spawn_app().await;
    let r = sink.route(&app, "s3cret").await;
    let id = send(&app, &r, "ann@example.org", json!({"n": "2026-11"})).await;
    let delivery = delivery_in(&app, &id, "delivered").await;
    let delivery_id = delivery["id"].as_str().expect("delivery id");
    assert_eq!(
        provider_request_id(&delivery),
        Some(format!("<{delivery_id}@herald.test>").as_str()),
        "the Message-ID is the provider id: {delivery}"
    );

    let accepted = sink.accepted();
    assert_eq!(accepted.len(), 1, "{accepted:?}");
    let mail = &accepted[0];
    assert_eq!(mail["rcpt_tos"], json!(["ann@example.org"]));
    assert_eq!(mail["auth_login"], "herald");
    let data = mail["data"].as_str().expect("mail data");
    assert!(data.contains("Subject: Invoice 2026-11"), "{data}");
    assert!(data.contains("Reply-To: billing@herald.test"), "{data}");
    assert!(data.contains("Invoice <b>2026-11</b>"), "{data}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_smtp_password_fails_with_535() {
    let Some(sink) = Sink::start() else {
        return;
    };
    let app = spawn_app().await;
    let r = sink.route(&app, "wrong").await;
    let id = send(&app, &r, "ann@example.org", json!({"n": "1"})).await;
    assert_failed_with(&app, &id, "smtp_535").await;
    assert!(sink.accepted().is_empty());
}
