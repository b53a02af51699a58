//! Many concurrent clients sending single-receiver messages until a total is reached or the
//! server goes away. Every `202` is recorded with its ids; anything else is recorded as
//! unexpected when it happened before the test signalled the server (a kill or SIGTERM),
//! and merely counted after it.

use super::api::{Api, Route};
use serde_json::{Value, json};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::task::JoinHandle;

/// A delivery Herald promised with a 202.
#[derive(Debug, Clone)]
pub struct Accepted {
    pub message_id: String,
    pub delivery_id: String,
    /// Index of the route (account + template) it was sent through.
    pub route: usize,
}

/// What the clients saw.
#[derive(Debug, Default)]
pub struct LoadReport {
    pub accepted: Vec<Accepted>,
    /// Non-202 answers and transport errors seen before the signal: each one is a bug.
    pub unexpected: Vec<String>,
    /// Non-202 answers and transport errors after the signal (expected: the server is going).
    pub refused_after_signal: usize,
}

struct Shared {
    api: Api,
    routes: Vec<Route>,
    total: usize,
    next: AtomicUsize,
    accepted_count: AtomicUsize,
    signaled: AtomicBool,
    report: Mutex<LoadReport>,
}

/// Load in progress.
pub struct Load {
    shared: Arc<Shared>,
    tasks: Vec<JoinHandle<()>>,
}

/// Starts `clients` tasks that together send `total` messages, message `i` through route
/// `i % routes.len()` to receiver `r{i}`.
pub fn start(api: &Api, routes: &[Route], total: usize, clients: usize) -> Load {
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .pool_max_idle_per_host(clients)
        .build()
        .expect("load HTTP client");
    let shared = Arc::new(Shared {
        api: Api {
            http,
            ..api.clone()
        },
        routes: routes.to_vec(),
        total,
        next: AtomicUsize::new(0),
        accepted_count: AtomicUsize::new(0),
        signaled: AtomicBool::new(false),
        report: Mutex::new(LoadReport::default()),
    });
    let tasks = (0..clients)
        .map(|_| tokio::spawn(client(Arc::clone(&shared))))
        .collect();
    Load { shared, tasks }
}

impl Load {
    /// 202s received so far.
    pub fn accepted_count(&self) -> usize {
        self.shared.accepted_count.load(Ordering::SeqCst)
    }

    /// From now on, failures are the expected consequence of stopping the server.
    pub fn mark_signaled(&self) {
        self.shared.signaled.store(true, Ordering::SeqCst);
    }

    /// Waits for every client to stop and returns what they saw.
    pub async fn finish(self) -> LoadReport {
        for task in self.tasks {
            task.await.expect("load client panicked");
        }
        let mut report = self.shared.report.lock().expect("report lock");
        std::mem::take(&mut *report)
    }
}

/// Sends until the total is claimed or the connection to the server fails.
async fn client(shared: Arc<Shared>) {
    let url = format!("{}/v1/messages", shared.api.base);
    loop {
        let i = shared.next.fetch_add(1, Ordering::SeqCst);
        if i >= shared.total {
            return;
        }
        let route = i % shared.routes.len();
        let body = json!({
            "template": shared.routes[route].template,
            "receivers": [format!("r{i}")],
            "variables": {"n": i},
        });
        let sent = shared
            .api
            .http
            .post(&url)
            .bearer_auth(&shared.api.key)
            .json(&body)
            .send()
            .await;
        let answer = match sent {
            Ok(response) => {
                let status = response.status().as_u16();
                response.text().await.map(|text| (status, text))
            }
            Err(e) => Err(e),
        };
        match answer {
            Ok((202, text)) => match parse_accepted(&text, route) {
                Some(accepted) => {
                    shared
                        .report
                        .lock()
                        .expect("report lock")
                        .accepted
                        .push(accepted);
                    shared.accepted_count.fetch_add(1, Ordering::SeqCst);
                }
                None => shared.unexpected(format!("202 without ids: {text}")),
            },
            Ok((status, text)) => shared.unexpected(format!("{status}: {text}")),
            Err(e) => {
                shared.unexpected(format!("request {i} failed: {e}"));
                return; // the server is gone (or going); stop this client
            }
        }
    }
}

impl Shared {
    fn unexpected(&self, what: String) {
        let mut report = self.report.lock().expect("report lock");
        if self.signaled.load(Ordering::SeqCst) {
            report.refused_after_signal += 1;
        } else {
            report.unexpected.push(what);
        }
    }
}

fn parse_accepted(text: &str, route: usize) -> Option<Accepted> {
    let body: Value = serde_json::from_str(text).ok()?;
    Some(Accepted {
        message_id: body["id"].as_str()?.to_owned(),
        delivery_id: body["deliveries"][0]["id"].as_str()?.to_owned(),
        route,
    })
}
