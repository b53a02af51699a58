//! The WeChat Official Account simulator, under `/sim/wechat` with WeChat's real paths.
//!
//! | route | what |
//! |---|---|
//! | `GET /sim/wechat/cgi-bin/token?grant_type=client_credential&appid=&secret=` | a new token per call; the previous one keeps working for `token_overlap_secs` |
//! | `POST /sim/wechat/cgi-bin/stable_token` | `{grant_type, appid, secret, force_refresh}`: the same token until its last 5 minutes; `force_refresh` revokes it at once |
//! | `POST /sim/wechat/cgi-bin/message/template/send?access_token=` | template messages; TEMPLATESENDJOBFINISH pushed to the app's callback |
//! | `POST /sim/wechat/cgi-bin/message/subscribe/bizsend?access_token=` | subscribe messages (no event) |
//! | `GET`/`PUT /sim/wechat/apps/{appid}` | the app's [`AppSettings`] (token lifetime, quota, templates, callback) and counters |
//! | `POST /sim/wechat/apps/{appid}/revoke-tokens` | revokes every token of the app (the next call gets 40001) |
//! | `GET /sim/wechat/apps/{appid}/received?limit=N` | the last accepted messages |
//!
//! Identities: the sim account named after the appid, with its `secret` = the AppSecret
//! (`PUT /sim/accounts/{appid}`); an appid without a configured secret is unknown (40013), a
//! wrong secret 40125, a grant_type other than client_credential 40002. The account's
//! `rate_limit_per_sec` answers 45011 over the limit; its faults answer -1 (busy) or 48001
//! (refused). Tokens: missing 41001, malformed 40014, revoked/unknown 40001, expired 42001.
//!
//! Receivers (openids) steer the outcome: not `[A-Za-z0-9_-]{1,64}` → 40003; starting with
//! `unfollowed` → 43004 (template) / 43101 (subscribe); starting with `block` → accepted,
//! event `failed:user block`; with `sysfail` → event `failed: system failed`; else `success`.
//! Template ids must be `[A-Za-z0-9_-]{1,128}` and, when `templates` is set, listed (40037)
//! with all their data keys (47003); subscribe `thing*` values ≤ 20 characters (47003).
//! A repeated `(touser, client_msg_id)` within 10 minutes is answered with the first
//! `msgid` and counted as a duplicate, not sent again.

mod config;
mod push;
mod send;
mod token;

pub use config::{AppSettings, CallbackMode, CallbackTarget};

use crate::common::sim_tokens::SimTokens;
use crate::common::sim_util::received_listing;
use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Extension, Json, Router};
use herald_channels::sim::{SimState, error_response};
use parking_lot::{Mutex, RwLock};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

/// The simulator's own state (beside the shared [`SimState`] accounts and counters).
#[derive(Debug)]
pub struct WechatSim {
    tokens: SimTokens,
    apps: RwLock<HashMap<String, Arc<AppSim>>>,
    next_msgid: AtomicU64,
    /// Pushes events to callback URLs.
    http: reqwest::Client,
}

/// One simulated app: settings and counters.
#[derive(Debug, Default)]
pub struct AppSim {
    settings: RwLock<Arc<AppSettings>>,
    counters: Mutex<AppCounters>,
}

/// What an app counted (shown by `GET /sim/wechat/apps/{appid}`).
#[derive(Debug, Default, Clone, Serialize)]
pub struct AppCounters {
    /// China day (days since the epoch in UTC+8) of `sent_today`.
    day: i64,
    sent_today: u64,
    receipts_pushed: u64,
    receipts_failed: u64,
    #[serde(skip)]
    dedup: HashMap<(String, String), (u64, i64)>,
}

impl WechatSim {
    fn new() -> Self {
        Self {
            tokens: SimTokens::default(),
            apps: RwLock::default(),
            next_msgid: AtomicU64::new(2_000_000_000 + u64::from(rand::random::<u16>()) * 1000),
            http: reqwest::Client::builder()
                .timeout(std::time::Duration::from_secs(5))
                .build()
                .unwrap_or_default(),
        }
    }

    fn app(&self, appid: &str) -> Arc<AppSim> {
        if let Some(app) = self.apps.read().get(appid) {
            return app.clone();
        }
        self.apps
            .write()
            .entry(appid.to_owned())
            .or_default()
            .clone()
    }

    fn next_msgid(&self) -> u64 {
        self.next_msgid.fetch_add(1, Ordering::Relaxed)
    }
}

impl AppSim {
    fn settings(&self) -> Arc<AppSettings> {
        self.settings.read().clone()
    }
}

/// The simulator's routes (state: [`SimState`]; its own state rides in an extension).
pub fn routes() -> Router<SimState> {
    let sim = Arc::new(WechatSim::new());
    Router::new()
        .route("/sim/wechat/cgi-bin/token", get(token::plain_token))
        .route(
            "/sim/wechat/cgi-bin/stable_token",
            post(token::stable_token),
        )
        .route(
            "/sim/wechat/cgi-bin/message/template/send",
            post(send::template_send),
        )
        .route(
            "/sim/wechat/cgi-bin/message/subscribe/bizsend",
            post(send::subscribe_send),
        )
        .route("/sim/wechat/apps/{appid}", get(get_app).put(put_app))
        .route(
            "/sim/wechat/apps/{appid}/revoke-tokens",
            post(revoke_tokens),
        )
        .route("/sim/wechat/apps/{appid}/received", get(received))
        .layer(Extension(sim))
}

fn app_view(sim: &WechatSim, appid: &str) -> Json<serde_json::Value> {
    let app = sim.app(appid);
    let counters = app.counters.lock().clone();
    Json(serde_json::json!({
        "appid": appid,
        "settings": *app.settings(),
        "tokens_issued": sim.tokens.issued(appid),
        "counters": counters,
    }))
}

async fn get_app(Extension(sim): Extension<Arc<WechatSim>>, Path(appid): Path<String>) -> Response {
    app_view(&sim, &appid).into_response()
}

async fn put_app(
    Extension(sim): Extension<Arc<WechatSim>>,
    Path(appid): Path<String>,
    settings: Result<Json<AppSettings>, JsonRejection>,
) -> Response {
    let settings = match settings {
        Ok(Json(settings)) => settings,
        Err(rejection) => {
            return error_response(
                StatusCode::BAD_REQUEST,
                "invalid_settings",
                Some(rejection.body_text()),
            );
        }
    };
    if let Err(message) = settings.validate() {
        return error_response(StatusCode::BAD_REQUEST, "invalid_settings", Some(message));
    }
    *sim.app(&appid).settings.write() = Arc::new(settings);
    app_view(&sim, &appid).into_response()
}

async fn revoke_tokens(
    Extension(sim): Extension<Arc<WechatSim>>,
    Path(appid): Path<String>,
) -> StatusCode {
    sim.tokens.revoke_all(&appid, herald_domain::time::now_ms());
    StatusCode::NO_CONTENT
}

#[derive(Debug, Deserialize)]
struct ReceivedQuery {
    limit: Option<usize>,
}

async fn received(
    State(state): State<SimState>,
    Path(appid): Path<String>,
    Query(query): Query<ReceivedQuery>,
) -> Response {
    let records = state
        .existing_account(&appid)
        .map(|account| account.last_received(query.limit.unwrap_or(100)))
        .unwrap_or_default();
    received_listing(records).into_response()
}
