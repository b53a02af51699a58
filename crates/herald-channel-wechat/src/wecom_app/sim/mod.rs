//! The WeCom simulator for application messages, under `/sim/wecom` with WeCom's real paths.
//!
//! | route | what |
//! |---|---|
//! | `GET /sim/wecom/cgi-bin/gettoken?corpid=&corpsecret=` | the corp's token (the same one until it expires) |
//! | `POST /sim/wecom/cgi-bin/message/send?access_token=` | application messages (text, textcard, markdown) |
//! | `GET`/`PUT /sim/wecom/corps/{corpid}` | the corp's [`CorpSettings`] and counters (`delivered`, `dropped`, `duplicates`, `invalid`, `dropped_by_member`) |
//! | `POST /sim/wecom/corps/{corpid}/revoke-tokens` | revokes every token of the corp (the next send gets 40014) |
//! | `GET /sim/wecom/corps/{corpid}/received?limit=N` | the last accepted calls |
//!
//! Identities: the sim account named after the corpid with `secret` = the application
//! secret; unknown corpid 40013, wrong secret 40001. Tokens: missing 41001, malformed,
//! unknown or revoked 40014, expired 42001. The account's `rate_limit_per_sec` answers 45009
//! over the limit; its faults answer -1 (busy) or 60020 (IP not trusted).
//!
//! Sends are checked in order: agentid (40056 unless it equals the corp's `agentid`),
//! msgtype (40008), content (44004 when empty), more than 1,000 users (40031). Members
//! not `[A-Za-z0-9._@-]{1,64}` or starting with `invalid` are reported in `invaliduser`,
//! starting with `unlicensed` in `unlicenseduser`; when no member is left: 81013. With
//! `enable_duplicate_check: 1`, the same content to the same member within
//! `duplicate_check_interval` (default 1,800 s) is skipped (counted in `duplicates`).
//! **Per-member limits** (30/min, 1,000/h per application by default): the excess is
//! answered `ok` like the rest and silently dropped — counted only in `dropped`, as WeCom
//! gives no sign of it.

mod send;

use crate::common::sim_tokens::{IssueRule, SimTokens, Slot, TokenCheck};
use crate::common::sim_util::{errcode, received_listing};
use crate::common::window::{Limits, Windows};
use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Extension, Json, Router};
use herald_channels::sim::{SimState, error_response};
use herald_domain::time::now_ms;
use parking_lot::{Mutex, RwLock};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

/// How one simulated corp (and its application) behaves.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CorpSettings {
    /// Lifetime of issued tokens (7,200 s like WeCom).
    pub token_ttl_secs: u64,
    /// The AgentId the secret belongs to.
    pub agentid: i64,
    pub per_member_per_minute: u32,
    pub per_member_per_hour: u32,
}

impl Default for CorpSettings {
    fn default() -> Self {
        Self {
            token_ttl_secs: 7200,
            agentid: 1_000_002,
            per_member_per_minute: 30,
            per_member_per_hour: 1000,
        }
    }
}

impl CorpSettings {
    fn limits(&self) -> Limits {
        Limits {
            short_limit: self.per_member_per_minute,
            short_ms: 60_000,
            long_limit: self.per_member_per_hour,
            long_ms: 3_600_000,
        }
    }
}

/// What a corp counted, per member copy.
#[derive(Debug, Default, Clone, Serialize)]
pub struct CorpCounters {
    delivered: u64,
    /// Copies over the per-member limits, answered ok and never delivered.
    dropped: u64,
    duplicates: u64,
    invalid: u64,
    dropped_by_member: BTreeMap<String, u64>,
}

/// One simulated corp.
#[derive(Debug)]
pub struct CorpSim {
    settings: RwLock<Arc<CorpSettings>>,
    windows: RwLock<Arc<Windows>>,
    counters: Mutex<CorpCounters>,
    /// Duplicate-check keys (hashes) and when they expire.
    recent: Mutex<HashMap<u64, i64>>,
}

impl Default for CorpSim {
    fn default() -> Self {
        let settings = CorpSettings::default();
        Self {
            windows: RwLock::new(Arc::new(Windows::new(settings.limits()))),
            settings: RwLock::new(Arc::new(settings)),
            counters: Mutex::default(),
            recent: Mutex::default(),
        }
    }
}

/// The simulator's own state.
#[derive(Debug, Default)]
pub struct WecomSim {
    tokens: SimTokens,
    corps: RwLock<HashMap<String, Arc<CorpSim>>>,
}

impl WecomSim {
    fn corp(&self, corpid: &str) -> Arc<CorpSim> {
        if let Some(corp) = self.corps.read().get(corpid) {
            return corp.clone();
        }
        self.corps
            .write()
            .entry(corpid.to_owned())
            .or_default()
            .clone()
    }

    /// The corp a presented token belongs to, or WeCom's token error.
    fn authenticate(&self, token: Option<&str>, now: i64) -> Result<String, (i64, &'static str)> {
        match self.tokens.check(token, now) {
            TokenCheck::Valid(corpid) => Ok(corpid),
            TokenCheck::Missing => Err((41001, "access_token missing")),
            TokenCheck::Malformed | TokenCheck::Invalid => Err((40014, "invalid access_token")),
            TokenCheck::Expired => Err((42001, "access_token expired")),
        }
    }
}

pub fn routes() -> Router<SimState> {
    Router::new()
        .route("/sim/wecom/cgi-bin/gettoken", get(gettoken))
        .route("/sim/wecom/cgi-bin/message/send", post(send::message_send))
        .route("/sim/wecom/corps/{corpid}", get(get_corp).put(put_corp))
        .route(
            "/sim/wecom/corps/{corpid}/revoke-tokens",
            post(revoke_tokens),
        )
        .route("/sim/wecom/corps/{corpid}/received", get(received))
        .layer(Extension(Arc::new(WecomSim::default())))
}

#[derive(Debug, Default, Deserialize)]
struct TokenQuery {
    #[serde(default)]
    corpid: String,
    #[serde(default)]
    corpsecret: String,
}

async fn gettoken(
    State(state): State<SimState>,
    Extension(sim): Extension<Arc<WecomSim>>,
    Query(query): Query<TokenQuery>,
) -> Response {
    let known = state
        .existing_account(&query.corpid)
        .and_then(|account| account.config().secret.clone());
    match known {
        None => return errcode(40013, "invalid corpid"),
        Some(secret) if secret.0 != query.corpsecret => {
            return errcode(40001, "invalid credential");
        }
        Some(_) => {}
    }
    let settings = sim.corp(&query.corpid).settings.read().clone();
    let rule = IssueRule {
        ttl_ms: settings.token_ttl_secs as i64 * 1000,
        renew_before_ms: 0,
        force: false,
        overlap_ms: 0,
    };
    let (token, expires_in) = sim
        .tokens
        .issue(&query.corpid, Slot::Stable, now_ms(), rule);
    Json(serde_json::json!({
        "errcode": 0, "errmsg": "ok", "access_token": token, "expires_in": expires_in,
    }))
    .into_response()
}

fn corp_view(sim: &WecomSim, corpid: &str) -> Json<serde_json::Value> {
    let corp = sim.corp(corpid);
    let settings = corp.settings.read().clone();
    let counters = corp.counters.lock().clone();
    Json(serde_json::json!({
        "corpid": corpid,
        "settings": *settings,
        "tokens_issued": sim.tokens.issued(corpid),
        "counters": counters,
    }))
}

async fn get_corp(
    Extension(sim): Extension<Arc<WecomSim>>,
    Path(corpid): Path<String>,
) -> Response {
    corp_view(&sim, &corpid).into_response()
}

async fn put_corp(
    Extension(sim): Extension<Arc<WecomSim>>,
    Path(corpid): Path<String>,
    settings: Result<Json<CorpSettings>, JsonRejection>,
) -> Response {
    let settings = match settings {
        Ok(Json(settings))
            if settings.token_ttl_secs > 0
                && settings.per_member_per_minute > 0
                && settings.per_member_per_hour > 0 =>
        {
            settings
        }
        Ok(_) => {
            let message = "token_ttl_secs and the per-member limits must be at least 1".to_owned();
            return error_response(StatusCode::BAD_REQUEST, "invalid_settings", Some(message));
        }
        Err(rejection) => {
            return error_response(
                StatusCode::BAD_REQUEST,
                "invalid_settings",
                Some(rejection.body_text()),
            );
        }
    };
    let corp = sim.corp(&corpid);
    *corp.windows.write() = Arc::new(Windows::new(settings.limits()));
    *corp.settings.write() = Arc::new(settings);
    corp_view(&sim, &corpid).into_response()
}

async fn revoke_tokens(
    Extension(sim): Extension<Arc<WecomSim>>,
    Path(corpid): Path<String>,
) -> StatusCode {
    sim.tokens.revoke_all(&corpid, now_ms());
    StatusCode::NO_CONTENT
}

#[derive(Debug, Deserialize)]
struct ReceivedQuery {
    limit: Option<usize>,
}

async fn received(
    State(state): State<SimState>,
    Path(corpid): Path<String>,
    Query(query): Query<ReceivedQuery>,
) -> Response {
    let records = state
        .existing_account(&corpid)
        .map(|account| account.last_received(query.limit.unwrap_or(100)))
        .unwrap_or_default();
    received_listing(records).into_response()
}
