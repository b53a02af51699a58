//! The whole benchmark against a stub Herald + simulator served by axum on port 0: requests are
//! well-formed, receivers unique, outcomes counted, and the report ties server and simulator
//! numbers together.

use super::*;
use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{get, post};
use clap::Parser;
use serde_json::{Value, json};
use std::collections::HashSet;
use std::sync::{Arc, Mutex};

/// What the stub saw.
#[derive(Default)]
struct Seen {
    requests: u64,
    receivers: Vec<String>,
    /// Receivers of accepted requests: the stub "delivers" them at once.
    delivered: u64,
    bad_requests: Vec<String>,
}

type Shared = Arc<Mutex<Seen>>;

async fn accept(
    State(seen): State<Shared>,
    headers: HeaderMap,
    body: String,
    batch: bool,
) -> StatusCode {
    let mut seen = seen.lock().unwrap();
    seen.requests += 1;
    let body: Value = match serde_json::from_str(&body) {
        Ok(body) => body,
        Err(err) => {
            seen.bad_requests.push(err.to_string());
            return StatusCode::BAD_REQUEST;
        }
    };
    if headers.get("authorization").and_then(|v| v.to_str().ok()) != Some("Bearer k") {
        seen.bad_requests.push("auth".into());
        return StatusCode::UNAUTHORIZED;
    }
    let receivers: Vec<String> = if batch {
        body["items"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|item| {
                item["receiver"]["to"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string()
            })
            .collect()
    } else {
        body["receivers"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|r| r["to"].as_str().unwrap_or_default().to_string())
            .collect()
    };
    if body["template"] != "demo" {
        seen.bad_requests
            .push(format!("template {}", body["template"]));
    }
    let count = receivers.len() as u64;
    seen.receivers.extend(receivers);
    if seen.requests % 10 == 0 {
        return StatusCode::TOO_MANY_REQUESTS;
    }
    seen.delivered += count;
    StatusCode::ACCEPTED
}

async fn stub() -> (String, Shared) {
    let seen = Shared::default();
    let app = Router::new()
        .route("/v1/messages", post(|s: State<Shared>, h: HeaderMap, b: String| accept(s, h, b, false)))
        .route("/v1/messages/batch", post(|s: State<Shared>, h: HeaderMap, b: String| accept(s, h, b, true)))
        .route(
            "/metrics",
            get(|State(seen): State<Shared>| async move {
                let seen = seen.lock().unwrap();
                format!(
                    "# TYPE herald_fsync_total counter\nherald_fsync_total {}\nherald_commit_items_total {}\n",
                    seen.requests / 2,
                    seen.receivers.len()
                )
            }),
        )
        .route(
            "/sim/stats",
            get(|State(seen): State<Shared>| async move {
                let delivered = seen.lock().unwrap().delivered;
                axum::Json(json!({
                    "accounts": {"sandbox": {"received": delivered, "unique": delivered, "duplicates": 0, "throttled": 0, "per_second": {}}},
                    "total_received": delivered,
                    "total_unique": delivered
                }))
            }),
        )
        .with_state(Arc::clone(&seen));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    (format!("http://{addr}"), seen)
}

#[derive(Parser)]
struct Wrapper {
    #[command(flatten)]
    args: LoadArgs,
}

fn args(url: &str, extra: &[&str]) -> LoadArgs {
    let mut argv = vec![
        "bench",
        "--url",
        url,
        "--key",
        "k",
        "--sim-url",
        url,
        "--sim-account",
        "sandbox",
    ];
    argv.extend_from_slice(extra);
    Wrapper::try_parse_from(argv).expect("valid args").args
}

#[tokio::test]
async fn closed_loop_run_counts_every_request_and_matches_the_simulator() {
    let (url, seen) = stub().await;
    let report = measure(&args(
        &url,
        &["--connections", "4", "--duration", "300ms", "--drain", "5s"],
    ))
    .await
    .expect("bench runs");

    let seen = seen.lock().unwrap();
    assert!(seen.bad_requests.is_empty(), "{:?}", seen.bad_requests);
    assert!(report.requests > 20, "{report:?}");
    assert_eq!(report.requests, seen.requests);
    let throttled = report.errors.get("429").copied().unwrap_or(0);
    assert_eq!(report.accepted + throttled, report.requests);
    assert_eq!(throttled, seen.requests / 10);
    assert_eq!(report.errors.len(), 1, "{:?}", report.errors);

    let unique: HashSet<&String> = seen.receivers.iter().collect();
    assert_eq!(unique.len(), seen.receivers.len(), "receivers are unique");
    assert!(seen.receivers.iter().all(|r| r.starts_with("bench-")));

    let latency = report.latency_ms.as_ref().expect("answers recorded");
    assert_eq!(latency.count, report.requests);
    let delivery = report.delivery.as_ref().expect("simulator read");
    assert_eq!(delivery.after_drain.unique, report.receivers_accepted);
    assert_eq!(delivery.undelivered, 0);
    assert!(delivery.drain_settled);
    assert!(report.server.fsyncs_per_sec.is_some_and(|f| f > 0.0));
    assert!(
        report
            .server
            .mean_commit_batch
            .is_some_and(|b| (b - 2.0).abs() < 0.2),
        "{:?}",
        report.server
    );
}

#[tokio::test]
async fn open_loop_batch_run_paces_requests_and_sends_batches() {
    let (url, seen) = stub().await;
    let report = measure(&args(
        &url,
        &[
            "--connections",
            "8",
            "--duration",
            "500ms",
            "--rate",
            "100",
            "--batch-size",
            "3",
            "--drain",
            "0s",
        ],
    ))
    .await
    .expect("bench runs");

    let seen = seen.lock().unwrap();
    assert!(seen.bad_requests.is_empty(), "{:?}", seen.bad_requests);
    assert!(
        (45..=51).contains(&report.requests),
        "paced to ~50: {}",
        report.requests
    );
    assert_eq!(seen.receivers.len() as u64, report.requests * 3);
    assert_eq!(report.receivers_accepted, report.accepted * 3);
    assert_eq!(report.receivers_per_request, 3);
    assert_eq!(report.mode, "open loop at 100 req/s");
}

#[tokio::test]
async fn unreachable_server_fails_fast_with_the_address() {
    let closed = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);
    let mut args = args(&url, &["--duration", "10s"]);
    args.sim_url = None;
    let err = measure(&args).await.expect_err("nothing listens");
    assert!(format!("{err:#}").contains("cannot connect"), "{err:#}");
}
