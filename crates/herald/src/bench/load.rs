//! The hot loop: N HTTP/1.1 keep-alive connections made with hyper's low-level client, one task
//! per connection with one request in flight. A pooled client (reqwest) costs too much CPU at tens
//! of thousands of requests per second on two cores. Closed loop sends the next request when the
//! previous answer arrives; open loop (`rate`) gives every request a start slot on a shared
//! schedule and measures latency from that slot, so a stalled server is not hidden (no
//! coordinated omission).

use super::request::{BodyFactory, Target};
use anyhow::Context as _;
use bytes::Bytes;
use hdrhistogram::Histogram;
use http::header::{AUTHORIZATION, CONTENT_TYPE, HOST, HeaderValue};
use http::{Method, Request, StatusCode, Uri};
use http_body_util::{BodyExt as _, Full};
use hyper::client::conn::http1::{self, SendRequest};
use hyper_util::rt::TokioIo;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::net::TcpStream;
use tokio::time::Instant;

/// What to run.
pub struct Plan {
    pub target: Target,
    pub bodies: BodyFactory,
    pub key: Option<String>,
    pub connections: usize,
    pub duration: Duration,
    /// Open-loop requests per second in total; `None` = closed loop.
    pub rate: Option<u64>,
    /// Stop once this many receivers have been sent (a preload), even before `duration`.
    pub max_receivers: Option<u64>,
    /// Sees every accepted answer (for end-to-end latency and ids to read back).
    pub observer: Option<Arc<dyn Observer>>,
}

/// Told about each `202 Accepted` answer as it arrives.
pub trait Observer: Send + Sync {
    /// `first_receiver` numbers the request's first receiver (`bench-<n>`); `intended_unix_us`
    /// is when the request was meant to start (its open-loop slot), in Unix microseconds.
    fn accepted(&self, first_receiver: u64, intended_unix_us: u64, body: &Bytes);
}

/// What happened.
#[derive(Debug)]
pub struct Outcome {
    /// Requests that were written to a connection (answered or failed).
    pub requests: u64,
    /// Requests answered `202 Accepted`.
    pub accepted: u64,
    /// Every answer by status code, plus `io` (request failed on the connection) and `connect`.
    pub outcomes: BTreeMap<String, u64>,
    /// First answer body seen for each non-202 outcome, to explain errors.
    pub error_samples: BTreeMap<String, String>,
    /// Latency of answered requests in microseconds.
    pub latency_us: Histogram<u64>,
    /// From the first request until the last connection finished.
    pub elapsed: Duration,
    pub receivers_per_request: usize,
    /// Wall-clock start of the load in Unix microseconds.
    pub started_unix_us: u64,
}

/// Outcome key for requests that failed on the connection.
pub const IO_ERROR: &str = "io";
/// Outcome key for connection attempts that failed.
pub const CONNECT_ERROR: &str = "connect";

/// Everything the connection tasks share.
struct Shared {
    target: Target,
    uri: Uri,
    host: HeaderValue,
    authorization: Option<HeaderValue>,
    bodies: BodyFactory,
    next_receiver: AtomicU64,
    pacer: Option<Pacer>,
    deadline: Instant,
    latency_us: Mutex<Histogram<u64>>,
    max_receivers: Option<u64>,
    observer: Option<Arc<dyn Observer>>,
    /// The load's start, on the monotonic and on the wall clock.
    start: Instant,
    start_unix_us: u64,
}

/// Open-loop schedule: slot `i` starts at `start + i / rate`.
struct Pacer {
    start: Instant,
    interval_ns: f64,
    next_slot: AtomicU64,
}

impl Pacer {
    fn next(&self) -> Instant {
        let slot = self.next_slot.fetch_add(1, Ordering::Relaxed);
        self.start + Duration::from_nanos((slot as f64 * self.interval_ns) as u64)
    }
}

/// Per-connection counters, merged at the end.
#[derive(Default)]
struct ConnectionStats {
    requests: u64,
    outcomes: BTreeMap<String, u64>,
    error_samples: BTreeMap<String, String>,
}

impl ConnectionStats {
    fn count(&mut self, outcome: String, sample: impl FnOnce() -> String) {
        if outcome != "202" && !self.error_samples.contains_key(&outcome) {
            self.error_samples.insert(outcome.clone(), sample());
        }
        *self.outcomes.entry(outcome).or_default() += 1;
    }
}

/// Runs the plan to its end and returns merged results.
pub async fn run(plan: Plan) -> anyhow::Result<Outcome> {
    // Fail fast with a clear message instead of reporting N×thousands of connect errors.
    TcpStream::connect(&plan.target.address)
        .await
        .with_context(|| format!("cannot connect to {}", plan.target.address))?;

    let path = format!("{}{}", plan.target.base_path, plan.bodies.path);
    let uri: Uri = path
        .parse()
        .with_context(|| format!("bad request path {path:?}"))?;
    let host = HeaderValue::from_str(&plan.target.authority).context("bad Host header")?;
    let authorization = match &plan.key {
        Some(key) => Some(HeaderValue::from_str(&format!("Bearer {key}")).context("bad API key")?),
        None => None,
    };
    let start = Instant::now();
    let receivers_per_request = plan.bodies.receivers_per_request;
    let shared = Arc::new(Shared {
        target: plan.target,
        uri,
        host,
        authorization,
        bodies: plan.bodies,
        next_receiver: AtomicU64::new(0),
        pacer: plan.rate.map(|rate| Pacer {
            start,
            interval_ns: 1e9 / rate as f64,
            next_slot: AtomicU64::new(0),
        }),
        deadline: start + plan.duration,
        latency_us: Mutex::new(Histogram::new_with_bounds(1, 3_600_000_000, 3)?),
        max_receivers: plan.max_receivers,
        observer: plan.observer,
        start,
        start_unix_us: unix_micros(),
    });

    let tasks: Vec<_> = (0..plan.connections)
        .map(|_| tokio::spawn(drive_connection(Arc::clone(&shared))))
        .collect();
    let mut outcome = Outcome {
        requests: 0,
        accepted: 0,
        outcomes: BTreeMap::new(),
        error_samples: BTreeMap::new(),
        latency_us: Histogram::new(3)?,
        elapsed: Duration::ZERO,
        receivers_per_request,
        started_unix_us: shared.start_unix_us,
    };
    for task in tasks {
        let stats = task.await.context("connection task panicked")?;
        outcome.requests += stats.requests;
        for (key, count) in stats.outcomes {
            *outcome.outcomes.entry(key).or_default() += count;
        }
        for (key, sample) in stats.error_samples {
            outcome.error_samples.entry(key).or_insert(sample);
        }
    }
    outcome.elapsed = start.elapsed();
    outcome.accepted = outcome.outcomes.get("202").copied().unwrap_or(0);
    outcome.latency_us = match shared.latency_us.lock() {
        Ok(histogram) => histogram.clone(),
        Err(poisoned) => poisoned.into_inner().clone(),
    };
    Ok(outcome)
}

async fn connect(address: &str) -> Result<SendRequest<Full<Bytes>>, String> {
    let stream = TcpStream::connect(address)
        .await
        .map_err(|e| e.to_string())?;
    stream.set_nodelay(true).map_err(|e| e.to_string())?;
    let (sender, connection) = http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|e| e.to_string())?;
    tokio::spawn(async move {
        if let Err(err) = connection.await {
            tracing::debug!(%err, "bench connection ended");
        }
    });
    Ok(sender)
}

async fn drive_connection(shared: Arc<Shared>) -> ConnectionStats {
    let mut stats = ConnectionStats::default();
    'connect: while Instant::now() < shared.deadline {
        let mut sender = match connect(&shared.target.address).await {
            Ok(sender) => sender,
            Err(err) => {
                stats.count(CONNECT_ERROR.into(), || err);
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        loop {
            let intended_start = match &shared.pacer {
                Some(pacer) => {
                    let slot = pacer.next();
                    if slot >= shared.deadline {
                        break 'connect;
                    }
                    tokio::time::sleep_until(slot).await;
                    slot
                }
                None => {
                    let now = Instant::now();
                    if now >= shared.deadline {
                        break 'connect;
                    }
                    now
                }
            };
            if sender.ready().await.is_err() {
                continue 'connect;
            }
            let Some((first_receiver, request)) = shared.request() else {
                break 'connect;
            };
            stats.requests += 1;
            let response = match sender.send_request(request).await {
                Ok(response) => response,
                Err(err) => {
                    stats.count(IO_ERROR.into(), || err.to_string());
                    continue 'connect;
                }
            };
            let status = response.status();
            let body = response.into_body().collect().await;
            let latency = intended_start.elapsed();
            match body {
                Ok(body) => {
                    shared.record_latency(latency);
                    let body = body.to_bytes();
                    if status == StatusCode::ACCEPTED
                        && let Some(observer) = &shared.observer
                    {
                        let offset = intended_start.saturating_duration_since(shared.start);
                        let micros = u64::try_from(offset.as_micros()).unwrap_or(u64::MAX);
                        observer.accepted(
                            first_receiver,
                            shared.start_unix_us.saturating_add(micros),
                            &body,
                        );
                    }
                    stats.count(status.as_str().to_string(), || sample(status, &body));
                }
                Err(err) => {
                    stats.count(IO_ERROR.into(), || err.to_string());
                    continue 'connect;
                }
            }
        }
    }
    stats
}

impl Shared {
    /// The next request and its first receiver number; `None` once `max_receivers` are sent.
    fn request(&self) -> Option<(u64, Request<Full<Bytes>>)> {
        let per_request = self.bodies.receivers_per_request as u64;
        let first = self.next_receiver.fetch_add(per_request, Ordering::Relaxed);
        if self.max_receivers.is_some_and(|max| first >= max) {
            return None;
        }
        let mut request = Request::new(Full::new(self.bodies.body(first)));
        *request.method_mut() = Method::POST;
        *request.uri_mut() = self.uri.clone();
        let headers = request.headers_mut();
        headers.insert(HOST, self.host.clone());
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        if let Some(authorization) = &self.authorization {
            headers.insert(AUTHORIZATION, authorization.clone());
        }
        Some((first, request))
    }

    fn record_latency(&self, latency: Duration) {
        let micros = u64::try_from(latency.as_micros())
            .unwrap_or(u64::MAX)
            .max(1);
        if let Ok(mut histogram) = self.latency_us.lock() {
            histogram.saturating_record(micros);
        }
    }
}

/// The wall clock in Unix microseconds (0 if the clock is before 1970).
pub fn unix_micros() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_micros()).unwrap_or(u64::MAX))
}

fn sample(status: StatusCode, body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let text: String = text.trim().chars().take(300).collect();
    if text.is_empty() {
        status.to_string()
    } else {
        format!("{status}: {text}")
    }
}
