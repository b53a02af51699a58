//! Provider simulators: a sandbox for integrators and Herald's own test bed.
//!
//! Everything is served under `/sim/...` by [`router`], so Herald merges it into its API
//! server (the embedded default) and `herald sim` serves it alone with [`serve`].
//!
//! | route | what |
//! |---|---|
//! | `POST /sim/webhook/{name}` | the webhook receiver (see [`crate::webhook::sim`]) |
//! | `GET /sim/webhook/{name}/received?limit=N` | the last N accepted webhook requests |
//! | `GET /sim/accounts`, `GET /sim/accounts/{name}` | account configurations (secrets omitted) |
//! | `PUT /sim/accounts/{name}` | replace an account's [`SimAccountConfig`]; restarts its faults |
//! | `GET /sim/stats`, `DELETE /sim/stats` | counters per account and per second; reset |
//!
//! Unknown account names work out of the box with the default configuration (no secret, no
//! limit, no faults). State is per process and in memory: [`SimState`] is a cheap clone.

pub mod account;
mod admin;
pub mod config;
pub mod stats;

pub use config::{SimAccountConfig, SimConfig, SimSecret};
pub use stats::{AccountSnapshot, Counts, StatsSnapshot};

use account::AccountSim;
use axum::Router;
use parking_lot::RwLock;
use std::collections::{BTreeMap, HashMap};
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

/// Most distinct account names one simulator keeps (names are created by the first request,
/// so this bounds what a stray client can make it allocate).
pub const MAX_ACCOUNTS: usize = 10_000;
/// Longest account name accepted.
pub const MAX_NAME_LEN: usize = 128;

/// The simulators' shared state: accounts, their counters and configuration.
#[derive(Debug, Clone)]
pub struct SimState {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    /// Accounts by name; read-locked on every request, write-locked only to add a name.
    accounts: RwLock<HashMap<String, Arc<AccountSim>>>,
    /// Source of `x-request-id` values.
    next_request: AtomicU64,
    /// Distinguishes request ids of different simulator processes.
    instance: u32,
}

impl Default for SimState {
    fn default() -> Self {
        Self::new(SimConfig::default())
    }
}

impl SimState {
    pub fn new(config: SimConfig) -> Self {
        let accounts = config
            .accounts
            .into_iter()
            .map(|(name, c)| (name, Arc::new(AccountSim::new(c))))
            .collect();
        Self {
            inner: Arc::new(Inner {
                accounts: RwLock::new(accounts),
                next_request: AtomicU64::new(0),
                instance: rand::random(),
            }),
        }
    }

    /// Replaces (or creates) an account's configuration and restarts its fault phases.
    pub fn configure(&self, name: &str, config: SimAccountConfig) -> Result<(), String> {
        config.validate()?;
        match self.account(name) {
            Some(account) => {
                account.reconfigure(config);
                Ok(())
            }
            None => Err(format!(
                "name: must be 1 to {MAX_NAME_LEN} characters, at most {MAX_ACCOUNTS} accounts"
            )),
        }
    }

    /// The configuration requests to `name` get now (the default for unknown names).
    pub fn account_config(&self, name: &str) -> SimAccountConfig {
        self.existing_account(name)
            .map_or_else(SimAccountConfig::default, |a| (*a.config()).clone())
    }

    /// Counters of every account.
    pub fn stats(&self) -> StatsSnapshot {
        let accounts: Vec<_> = self
            .inner
            .accounts
            .read()
            .iter()
            .map(|(name, account)| (name.clone(), account.clone()))
            .collect();
        let snapshots: BTreeMap<_, _> = accounts
            .into_iter()
            .map(|(name, account)| (name, account.snapshot()))
            .collect();
        StatsSnapshot::new(snapshots)
    }

    /// Zeroes every counter, forgets seen ids and kept bodies; configurations stay.
    pub fn reset_stats(&self) {
        for account in self.inner.accounts.read().values() {
            account.reset_stats();
        }
    }

    pub fn existing_account(&self, name: &str) -> Option<Arc<AccountSim>> {
        self.inner.accounts.read().get(name).cloned()
    }

    /// The account `name`, created with the default configuration on first use; `None` when
    /// the name is invalid or the account table is full.
    pub fn account(&self, name: &str) -> Option<Arc<AccountSim>> {
        if let Some(account) = self.existing_account(name) {
            return Some(account);
        }
        if name.is_empty() || name.chars().count() > MAX_NAME_LEN {
            return None;
        }
        let mut accounts = self.inner.accounts.write();
        if !accounts.contains_key(name) && accounts.len() >= MAX_ACCOUNTS {
            return None;
        }
        let account = accounts
            .entry(name.to_owned())
            .or_insert_with(|| Arc::new(AccountSim::new(SimAccountConfig::default())));
        Some(account.clone())
    }

    pub fn account_names(&self) -> Vec<String> {
        let mut names: Vec<_> = self.inner.accounts.read().keys().cloned().collect();
        names.sort();
        names
    }

    /// A fresh `x-request-id` for an accepted request.
    pub fn next_request_id(&self) -> String {
        let seq = self.inner.next_request.fetch_add(1, Ordering::Relaxed);
        format!("sim-{:08x}-{seq:010}", self.inner.instance)
    }
}

/// Every simulator route of this crate, under `/sim/...`, with its state applied.
pub fn router(state: SimState) -> Router {
    router_with(state, [])
}

/// This crate's simulator routes plus other crates' provider simulators (each a
/// `Router<SimState>` under `/sim/<provider>/...`), sharing accounts, faults and counters.
pub fn router_with(
    state: SimState,
    providers: impl IntoIterator<Item = Router<SimState>>,
) -> Router {
    let mut routes = Router::new()
        .merge(admin::routes())
        .merge(crate::webhook::sim::routes());
    for p in providers {
        routes = routes.merge(p);
    }
    routes.with_state(state)
}

/// Serves the simulators alone on `listener` until `shutdown` completes (`herald sim`, tests).
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: SimState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, router(state))
        .with_graceful_shutdown(shutdown)
        .await
}

/// Current unix time in whole seconds (the simulators' counting unit).
pub fn unix_now() -> (i64, i64) {
    let since = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    (since.as_secs() as i64, since.as_millis() as i64)
}

/// A JSON error answer: `{"error": code}` plus a message when one helps.
pub fn error_response(
    status: axum::http::StatusCode,
    code: &str,
    message: Option<String>,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    let body = match message {
        Some(message) => serde_json::json!({ "error": code, "message": message }),
        None => serde_json::json!({ "error": code }),
    };
    (status, axum::Json(body)).into_response()
}
