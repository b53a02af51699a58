//! The email channel against a real SMTP server: `scripts/smtp_sink.py` on aiosmtpd.
//!
//! Without python3 + aiosmtpd the tests print why and pass, unless `CI=true` (then they
//! fail: CI installs aiosmtpd).

use crate::support::{account, message};
use herald_channel_robots::EmailChannel;
use herald_domain::{ChannelKind, Outcome};
use herald_ports::{AccountContext, Channel};
use serde_json::{Value, json};
use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};

/// A running `smtp_sink.py`; killed on drop.
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

fn python() -> Option<String> {
    let python = std::env::var("PYTHON").unwrap_or_else(|_| "python3".into());
    let ok = Command::new(&python)
        .args(["-c", "import aiosmtpd"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if ok {
        return Some(python);
    }
    let why = format!("{python} with aiosmtpd is not available (pip install aiosmtpd)");
    assert!(std::env::var("CI").as_deref() != Ok("true"), "{why}");
    println!("skipping the SMTP test: {why}");
    None
}

impl Sink {
    /// Starts the sink with extra arguments, or `None` when it cannot run here.
    fn start(args: &[&str]) -> Option<Self> {
        let python = python()?;
        let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../scripts/smtp_sink.py");
        let out = tempfile::NamedTempFile::new().unwrap();
        let mut child = Command::new(python)
            .arg(script)
            .arg("--out")
            .arg(out.path())
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let port = line
            .strip_prefix("READY ")
            .and_then(|p| p.trim().parse().ok())
            .unwrap_or_else(|| panic!("smtp sink did not start: {line:?}"));
        Some(Self { child, port, out })
    }

    fn account(&self, extra: Value, secret: Option<Value>) -> AccountContext {
        let mut config = json!({
            "host": "127.0.0.1", "port": self.port, "tls": "none",
            "from": "Herald <no-reply@herald.test>", "timeout_ms": 3000
        });
        if let (Some(config), Some(extra)) = (config.as_object_mut(), extra.as_object()) {
            config.extend(extra.clone());
        }
        account(ChannelKind::Email, config, secret)
    }

    /// Messages the server accepted.
    fn accepted(&self) -> Vec<Value> {
        std::fs::read_to_string(self.out.path())
            .unwrap_or_default()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }
}

fn mail(to: &str) -> herald_ports::OutboundMessage {
    message(
        to,
        "Your order shipped",
        "Order 42 is on its way.",
        &[("html", "<p>Order <b>42</b></p>")],
    )
}

#[tokio::test]
async fn delivered_with_auth_subject_html_and_message_id() {
    let Some(sink) = Sink::start(&["--auth", "herald:s3cret"]) else {
        return;
    };
    let account = sink.account(
        json!({}),
        Some(json!({"username": "herald", "password": "s3cret"})),
    );
    let msg = mail("ann@example.org");
    let results = EmailChannel::new()
        .send(&account, std::slice::from_ref(&msg))
        .await;
    let expected_id = format!("<{}@herald.test>", msg.delivery_id);
    assert_eq!(
        results[0].outcome,
        Outcome::Delivered {
            provider_id: Some(expected_id.clone())
        }
    );

    let accepted = sink.accepted();
    assert_eq!(accepted.len(), 1);
    let got = &accepted[0];
    assert_eq!(got["mail_from"], "no-reply@herald.test");
    assert_eq!(got["rcpt_tos"], json!(["ann@example.org"]));
    assert_eq!(got["auth_login"], "herald");
    let data = got["data"].as_str().unwrap();
    assert!(data.contains("Subject: Your order shipped"), "{data}");
    assert!(data.contains(&format!("Message-ID: {expected_id}")));
    assert!(data.contains("multipart/alternative") && data.contains("Order <b>42</b>"));

    let wrong = sink.account(
        json!({}),
        Some(json!({"username": "herald", "password": "nope"})),
    );
    let results = EmailChannel::new()
        .send(&wrong, &[mail("ann@example.org")])
        .await;
    assert_eq!(
        results[0].outcome.code(),
        Some("smtp_535"),
        "{:?}",
        results[0].outcome
    );
    assert_eq!(results[0].outcome.class(), "permanent");
}

#[tokio::test]
async fn rejected_recipients_do_not_spoil_the_batch() {
    let Some(sink) = Sink::start(&[
        "--reject",
        "gone@example.org=550",
        "--reject",
        "grey@example.org=451",
    ]) else {
        return;
    };
    let account = sink.account(json!({}), None);
    let batch = [
        mail("a@example.org"),
        mail("gone@example.org"),
        mail("grey@example.org"),
        mail("b@example.org"),
    ];
    let results = EmailChannel::new().send(&account, &batch).await;
    let classes: Vec<_> = results
        .iter()
        .map(|r| (r.outcome.class(), r.outcome.code()))
        .collect();
    assert_eq!(
        classes,
        [
            ("delivered", None),
            ("permanent", Some("smtp_550")),
            ("retryable", Some("smtp_451")),
            ("delivered", None)
        ]
    );
    assert!(
        results[1]
            .outcome
            .message()
            .unwrap()
            .contains("No such user")
    );
    let accepted: Vec<_> = sink
        .accepted()
        .iter()
        .map(|m| m["rcpt_tos"][0].clone())
        .collect();
    assert_eq!(accepted, [json!("a@example.org"), json!("b@example.org")]);
}

#[tokio::test]
async fn server_down_is_retryable_and_a_silent_data_reply_is_unknown() {
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let down = account(
        ChannelKind::Email,
        json!({"host": "127.0.0.1", "port": closed.port(), "tls": "none", "from": "a@herald.test"}),
        None,
    );
    let results = EmailChannel::new()
        .send(&down, &[mail("a@example.org"), mail("b@example.org")])
        .await;
    for result in &results {
        assert_eq!(
            (result.outcome.class(), result.outcome.code()),
            ("retryable", Some("connect"))
        );
    }

    let Some(sink) = Sink::start(&["--stall", "slow@example.org=3"]) else {
        return;
    };
    let account = sink.account(json!({"timeout_ms": 500}), None);
    let results = EmailChannel::new()
        .send(&account, &[mail("slow@example.org")])
        .await;
    assert_eq!(
        (results[0].outcome.class(), results[0].outcome.code()),
        ("unknown", Some("timeout")),
        "{:?}",
        results[0].outcome
    );
}

#[tokio::test]
async fn starttls_required_but_not_offered_is_permanent() {
    let Some(sink) = Sink::start(&[]) else { return };
    let account = sink.account(json!({"tls": "starttls"}), None);
    let results = EmailChannel::new()
        .send(&account, &[mail("a@example.org")])
        .await;
    assert_eq!(
        results[0].outcome.code(),
        Some("smtp_client"),
        "{:?}",
        results[0].outcome
    );
    assert!(sink.accepted().is_empty());
}

/// A self-signed certificate for `localhost` in a temporary directory (openssl CLI).
fn self_signed() -> Option<tempfile::TempDir> {
    let dir = tempfile::tempdir().unwrap();
    let made = Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=localhost",
        ])
        .arg("-keyout")
        .arg(dir.path().join("key.pem"))
        .arg("-out")
        .arg(dir.path().join("cert.pem"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !made {
        println!("skipping the TLS test: no openssl to make a certificate");
        return None;
    }
    Some(dir)
}

/// The rustls handshake really runs (STARTTLS and implicit), and an untrusted certificate is
/// refused as `tls` before anything is sent.
#[tokio::test]
async fn tls_handshakes_run_and_untrusted_certificates_are_refused() {
    let Some(certs) = self_signed() else { return };
    let (cert, key) = (certs.path().join("cert.pem"), certs.path().join("key.pem"));
    let (cert, key) = (cert.to_str().unwrap(), key.to_str().unwrap());
    for (sink_mode, account_mode) in [("starttls", "starttls"), ("implicit", "tls")] {
        let Some(sink) = Sink::start(&["--tls", sink_mode, "--cert", cert, "--key", key]) else {
            return;
        };
        let account = sink.account(json!({"host": "localhost", "tls": account_mode}), None);
        let results = EmailChannel::new()
            .send(&account, &[mail("a@example.org")])
            .await;
        let outcome = &results[0].outcome;
        assert_eq!(
            (outcome.class(), outcome.code()),
            ("retryable", Some("tls")),
            "{sink_mode}: {outcome:?}"
        );
        assert!(
            outcome.message().unwrap().contains("certificate"),
            "{outcome:?}"
        );
        assert!(sink.accepted().is_empty());
    }
}
