//! What the four push simulators share: the state a provider keeps beyond the generic
//! [`SimState`] (access tokens it issued, device tokens it knows are unregistered), the
//! latency/fault stage, and the small sandbox-only admin routes.
//!
//! Admin routes (not provider APIs; `{provider}` is `fcm`, `apns`, `jpush` or `getui`):
//!
//! | route | what |
//! |---|---|
//! | `PUT /sim/{provider}/_sim/unregistered/{account}` `{"tokens": [..]}` | these device tokens answer "unregistered" from now on (replaces the list) |
//! | `POST /sim/{provider}/_sim/expire-tokens/{account}` | every access token issued to the account expires now (FCM, Getui): the next push gets the provider's "token invalid" answer |
//! | `GET /sim/{provider}/_sim/received/{account}?limit=N` | the last N accepted push requests (`{"items": [{"id", "received_at_ms", "duplicate", "body"}]}`) |

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::{Extension, Json, Router};
use herald_channels::sim::SimState;
use herald_channels::sim::account::{AccountSim, Fault};
use herald_channels::sim::stats::ReceivedRecord;
use herald_channels::sim::{SimAccountConfig, unix_now};
use parking_lot::Mutex;
use serde::Deserialize;
use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

/// Most access tokens one simulator keeps; past it, expired ones are dropped first and then
/// the whole table (clients simply re-authenticate).
const MAX_ISSUED_TOKENS: usize = 100_000;

/// Provider-side state of the push simulators, shared through an [`Extension`].
#[derive(Debug, Default)]
pub struct PushSimState {
    /// Access tokens issued: token → (provider, account, expires at unix ms).
    issued: Mutex<HashMap<String, Issued>>,
    /// Unregistered device tokens per (provider, account).
    unregistered: Mutex<HashMap<(String, String), HashSet<String>>>,
}

#[derive(Debug, Clone)]
struct Issued {
    provider: &'static str,
    account: String,
    expires_at_ms: i64,
}

/// What an access token presented to a simulator turned out to be.
#[derive(Debug, PartialEq, Eq)]
pub enum TokenCheck {
    /// Valid, issued to this account.
    Valid(String),
    /// Issued once, but expired (or expired by the admin route).
    Expired,
    /// Never issued by this simulator (or for another provider).
    Unknown,
}

impl PushSimState {
    /// Issues a random token for `account`, valid `ttl`.
    pub fn issue(
        &self,
        provider: &'static str,
        account: &str,
        prefix: &str,
        ttl: Duration,
    ) -> (String, i64) {
        let token = format!("{prefix}{}", hex::encode(rand::random::<[u8; 24]>()));
        let (_, now_ms) = unix_now();
        let expires_at_ms = now_ms + ttl.as_millis() as i64;
        let mut issued = self.issued.lock();
        if issued.len() >= MAX_ISSUED_TOKENS {
            issued.retain(|_, t| t.expires_at_ms > now_ms);
            if issued.len() >= MAX_ISSUED_TOKENS {
                issued.clear();
            }
        }
        issued.insert(
            token.clone(),
            Issued {
                provider,
                account: account.to_owned(),
                expires_at_ms,
            },
        );
        (token, expires_at_ms)
    }

    pub fn check(&self, provider: &'static str, token: &str) -> TokenCheck {
        let (_, now_ms) = unix_now();
        match self.issued.lock().get(token) {
            Some(t) if t.provider != provider => TokenCheck::Unknown,
            Some(t) if t.expires_at_ms <= now_ms => TokenCheck::Expired,
            Some(t) => TokenCheck::Valid(t.account.clone()),
            None => TokenCheck::Unknown,
        }
    }

    /// Expires every token issued to `account`; returns how many.
    pub fn expire_account(&self, provider: &'static str, account: &str) -> usize {
        let mut n = 0;
        for t in self.issued.lock().values_mut() {
            if t.provider == provider && t.account == account {
                t.expires_at_ms = 0;
                n += 1;
            }
        }
        n
    }

    pub fn is_unregistered(&self, provider: &str, account: &str, device: &str) -> bool {
        self.unregistered
            .lock()
            .get(&(provider.to_owned(), account.to_owned()))
            .is_some_and(|set| set.contains(device))
    }

    pub fn set_unregistered(&self, provider: &str, account: &str, tokens: HashSet<String>) {
        self.unregistered
            .lock()
            .insert((provider.to_owned(), account.to_owned()), tokens);
    }
}

/// What the latency and fault stage decided for a request that passed authentication,
/// validation and the rate limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Injected {
    /// Answer normally.
    None,
    /// Answer the provider's transient error with this HTTP status (429/5xx), counted as faulted.
    Fail {
        status: u16,
        retry_after_secs: Option<u64>,
    },
    /// Answer the provider's "bad request" error, counted as faulted.
    Permanent,
}

/// Runs the account's configured latency and fault plan (stalls sleep, then proceed).
pub async fn fault_stage(
    account: &AccountSim,
    config: &SimAccountConfig,
    arrival: i64,
) -> Injected {
    if config.latency_ms > 0 {
        tokio::time::sleep(Duration::from_millis(config.latency_ms)).await;
    }
    match account.next_fault(config) {
        Fault::None => Injected::None,
        Fault::Stall(pause) => {
            tokio::time::sleep(pause).await;
            Injected::None
        }
        Fault::Permanent => {
            account.count_fault(arrival);
            Injected::Permanent
        }
        Fault::Fail {
            status,
            retry_after_secs,
        } => {
            account.count_fault(arrival);
            Injected::Fail {
                status,
                retry_after_secs,
            }
        }
    }
}

/// Runs the rest of a request on its own task when it may be slow, so a client that gives
/// up and disconnects does not cancel it: the simulated provider still finishes (and counts)
/// the work, which is what makes a timed-out send `unknown` rather than lost.
pub async fn detached(
    config: &SimAccountConfig,
    finish: impl Future<Output = Response> + Send + 'static,
) -> Response {
    let may_be_slow = config.latency_ms > 0 || config.timeout_first > 0;
    if !may_be_slow {
        return finish.await;
    }
    match tokio::spawn(finish).await {
        Ok(response) => response,
        Err(_) => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    }
}

/// An accepted request as kept for `/_sim/received`: `id` is the provider's dedup key when
/// it has one (apns-id, Getui request_id) so resends count as duplicates, else the id the
/// provider assigned to this request (FCM message name, JPush msg_id).
pub fn record(id: &str, body: bytes::Bytes, received_at_ms: i64) -> ReceivedRecord {
    ReceivedRecord {
        id: id.to_owned(),
        timestamp: received_at_ms / 1000,
        signature: None,
        received_at_ms,
        duplicate: false,
        body,
    }
}

#[derive(Debug, Deserialize)]
struct TokensBody {
    tokens: Vec<String>,
}

#[derive(Debug, Deserialize)]
struct LimitQuery {
    limit: Option<usize>,
}

/// The admin routes of one provider (see the module doc).
pub fn admin_routes(provider: &'static str) -> Router<SimState> {
    let unregistered = move |Extension(push): Extension<Arc<PushSimState>>,
                             Path(account): Path<String>,
                             Json(body): Json<TokensBody>| async move {
        let count = body.tokens.len();
        push.set_unregistered(provider, &account, body.tokens.into_iter().collect());
        Json(serde_json::json!({ "account": account, "unregistered": count }))
    };
    let expire = move |Extension(push): Extension<Arc<PushSimState>>,
                       Path(account): Path<String>| async move {
        let expired = push.expire_account(provider, &account);
        Json(serde_json::json!({ "account": account, "expired": expired }))
    };
    Router::new()
        .route(
            &format!("/sim/{provider}/_sim/unregistered/{{account}}"),
            put(unregistered),
        )
        .route(
            &format!("/sim/{provider}/_sim/expire-tokens/{{account}}"),
            post(expire),
        )
        .route(
            &format!("/sim/{provider}/_sim/received/{{account}}"),
            get(received),
        )
}

async fn received(
    State(state): State<SimState>,
    Path(account): Path<String>,
    Query(query): Query<LimitQuery>,
) -> Json<serde_json::Value> {
    let records = state
        .existing_account(&account)
        .map(|a| a.last_received(query.limit.unwrap_or(100)))
        .unwrap_or_default();
    let items: Vec<_> = records
        .into_iter()
        .map(|r| {
            let body = serde_json::from_slice::<serde_json::Value>(&r.body)
                .unwrap_or_else(|_| String::from_utf8_lossy(&r.body).into_owned().into());
            serde_json::json!({
                "id": r.id,
                "received_at_ms": r.received_at_ms,
                "duplicate": r.duplicate,
                "body": body,
            })
        })
        .collect();
    Json(serde_json::json!({ "items": items }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn issued_tokens_are_per_provider_and_expire_on_demand() {
        let state = PushSimState::default();
        let (token, _) = state.issue("fcm", "p1", "ya29.", Duration::from_secs(60));
        assert_eq!(state.check("fcm", &token), TokenCheck::Valid("p1".into()));
        assert_eq!(state.check("getui", &token), TokenCheck::Unknown);
        assert_eq!(state.check("fcm", "nope"), TokenCheck::Unknown);
        assert_eq!(state.expire_account("fcm", "p2"), 0);
        assert_eq!(state.expire_account("fcm", "p1"), 1);
        assert_eq!(state.check("fcm", &token), TokenCheck::Expired);
        state.set_unregistered("apns", "team", HashSet::from(["ab".to_owned()]));
        assert!(state.is_unregistered("apns", "team", "ab"));
        assert!(!state.is_unregistered("apns", "other", "ab"));
    }
}
