//! Status reads under load: an observer that keeps the ids of recently accepted messages, and
//! an open-loop reader that fetches `GET /v1/messages/{id}` for them at a fixed rate, timing
//! each from its scheduled start (so a stalled server is not hidden).

use super::super::load::Observer;
use super::super::request::Target;
use anyhow::Context as _;
use bytes::Bytes;
use hdrhistogram::Histogram;
use http::header::{AUTHORIZATION, HOST, HeaderValue};
use http::{Request, StatusCode};
use http_body_util::{BodyExt as _, Empty};
use hyper::client::conn::http1;
use hyper_util::rt::TokioIo;
use std::collections::{BTreeMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;
use tokio::net::TcpStream;
use tokio::time::Instant;

/// Ids kept for reading back.
const KEPT_IDS: usize = 4096;
/// Only every n-th answer is parsed, to keep the load generator cheap.
const SAMPLE_EVERY: u64 = 4;

/// Remembers the message ids of recent `202` answers.
#[derive(Default)]
pub struct RecentIds {
    seen: AtomicU64,
    ids: Mutex<VecDeque<String>>,
}

#[derive(serde::Deserialize)]
struct Accepted {
    id: String,
}

impl RecentIds {
    /// A recently accepted id, picked by `n` (any number).
    pub fn pick(&self, n: u64) -> Option<String> {
        let ids = self.ids.lock().unwrap_or_else(PoisonError::into_inner);
        if ids.is_empty() {
            return None;
        }
        ids.get(n as usize % ids.len()).cloned()
    }
}

impl Observer for RecentIds {
    fn accepted(&self, _first_receiver: u64, _intended_unix_us: u64, body: &Bytes) {
        if !self
            .seen
            .fetch_add(1, Ordering::Relaxed)
            .is_multiple_of(SAMPLE_EVERY)
        {
            return;
        }
        if let Ok(answer) = serde_json::from_slice::<Accepted>(body) {
            let mut ids = self.ids.lock().unwrap_or_else(PoisonError::into_inner);
            if ids.len() >= KEPT_IDS {
                ids.pop_front();
            }
            ids.push_back(answer.id);
        }
    }
}

/// What the reader measured.
pub struct Reads {
    /// Answers by status code, plus `io`/`connect` failures and `no-id` (nothing to read yet).
    pub outcomes: BTreeMap<String, u64>,
    /// Latency of 200 answers in microseconds.
    pub latency_us: Histogram<u64>,
}

/// Reads ids from `ids` at `rate`/s on `connections` for `duration`.
pub async fn read_back(
    target: &Target,
    key: &str,
    ids: Arc<RecentIds>,
    rate: u64,
    connections: usize,
    duration: Duration,
) -> anyhow::Result<Reads> {
    let authorization = HeaderValue::from_str(&format!("Bearer {key}")).context("bad API key")?;
    let host = HeaderValue::from_str(&target.authority).context("bad Host header")?;
    let start = Instant::now();
    let interval = Duration::from_secs_f64(1.0 / rate.max(1) as f64);
    let slots = Arc::new(AtomicU64::new(0));
    let tasks: Vec<_> = (0..connections.max(1))
        .map(|_| {
            let (ids, slots) = (Arc::clone(&ids), Arc::clone(&slots));
            let (address, base) = (target.address.clone(), target.base_path.clone());
            let (authorization, host) = (authorization.clone(), host.clone());
            tokio::spawn(async move {
                let mut outcomes: BTreeMap<String, u64> = BTreeMap::new();
                let mut latency = Histogram::<u64>::new_with_bounds(1, 3_600_000_000, 3)?;
                'connect: loop {
                    let stream = match TcpStream::connect(&address).await {
                        Ok(stream) => stream,
                        Err(_) => {
                            *outcomes.entry("connect".into()).or_default() += 1;
                            if start.elapsed() >= duration {
                                break;
                            }
                            tokio::time::sleep(Duration::from_millis(50)).await;
                            continue;
                        }
                    };
                    let _ = stream.set_nodelay(true);
                    let (mut sender, connection) = http1::handshake(TokioIo::new(stream)).await?;
                    tokio::spawn(connection);
                    loop {
                        let slot = slots.fetch_add(1, Ordering::Relaxed);
                        let due = start + interval.mul_f64(slot as f64);
                        if due.duration_since(start) >= duration {
                            break 'connect;
                        }
                        tokio::time::sleep_until(due).await;
                        let Some(id) = ids.pick(slot) else {
                            *outcomes.entry("no-id".into()).or_default() += 1;
                            continue;
                        };
                        let mut request = Request::new(Empty::<Bytes>::new());
                        *request.uri_mut() = format!("{base}/v1/messages/{id}").parse()?;
                        request.headers_mut().insert(HOST, host.clone());
                        request
                            .headers_mut()
                            .insert(AUTHORIZATION, authorization.clone());
                        if sender.ready().await.is_err() {
                            continue 'connect;
                        }
                        let answer = match sender.send_request(request).await {
                            Ok(answer) => answer,
                            Err(_) => {
                                *outcomes.entry("io".into()).or_default() += 1;
                                continue 'connect;
                            }
                        };
                        let status = answer.status();
                        let body = answer.into_body().collect().await;
                        let micros = u64::try_from(due.elapsed().as_micros()).unwrap_or(u64::MAX);
                        if body.is_err() {
                            *outcomes.entry("io".into()).or_default() += 1;
                            continue 'connect;
                        }
                        if status == StatusCode::OK {
                            latency.saturating_record(micros.max(1));
                        }
                        *outcomes.entry(status.as_str().to_string()).or_default() += 1;
                    }
                }
                anyhow::Ok((outcomes, latency))
            })
        })
        .collect();
    let mut reads = Reads {
        outcomes: BTreeMap::new(),
        latency_us: Histogram::new_with_bounds(1, 3_600_000_000, 3)?,
    };
    for task in tasks {
        let (outcomes, latency) = task.await.context("reader task panicked")??;
        for (k, n) in outcomes {
            *reads.outcomes.entry(k).or_default() += n;
        }
        reads
            .latency_us
            .add(latency)
            .context("merging read latencies")?;
    }
    Ok(reads)
}
