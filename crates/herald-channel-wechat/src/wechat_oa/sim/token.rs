//! The simulator's token endpoints: `/cgi-bin/token` (a new token per call) and
//! `/cgi-bin/stable_token` (the same token until near expiry, unless forced).

use super::WechatSim;
use crate::common::sim_tokens::{IssueRule, Slot};
use crate::common::sim_util::errcode;
use axum::Extension;
use axum::extract::{Query, State};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use herald_channels::sim::SimState;
use herald_domain::time::now_ms;
use serde::Deserialize;
use std::sync::Arc;

#[derive(Debug, Default, Deserialize)]
pub(super) struct TokenRequest {
    #[serde(default)]
    grant_type: String,
    #[serde(default)]
    appid: String,
    #[serde(default)]
    secret: String,
    #[serde(default)]
    force_refresh: bool,
}

/// 40002 bad grant, 40013 unknown appid (no secret configured), 40125 wrong secret.
fn authenticate(state: &SimState, request: &TokenRequest) -> Result<(), (i64, &'static str)> {
    if request.grant_type != "client_credential" {
        return Err((40002, "invalid grant_type"));
    }
    let known = state
        .existing_account(&request.appid)
        .and_then(|account| account.config().secret.clone());
    match known {
        None => Err((40013, "invalid appid")),
        Some(secret) if secret.0 != request.secret => Err((40125, "invalid appsecret")),
        Some(_) => Ok(()),
    }
}

fn issue(sim: &WechatSim, request: &TokenRequest, slot: Slot) -> Response {
    let settings = sim.app(&request.appid).settings();
    let ttl_ms = settings.token_ttl_secs as i64 * 1000;
    let rule = match slot {
        Slot::Stable => IssueRule {
            ttl_ms,
            renew_before_ms: settings.renew_before_ms(),
            force: request.force_refresh,
            overlap_ms: 0,
        },
        Slot::Latest => IssueRule {
            ttl_ms,
            renew_before_ms: 0,
            force: true,
            overlap_ms: settings.token_overlap_secs as i64 * 1000,
        },
    };
    let (token, expires_in) = sim.tokens.issue(&request.appid, slot, now_ms(), rule);
    axum::Json(serde_json::json!({ "access_token": token, "expires_in": expires_in }))
        .into_response()
}

pub(super) async fn plain_token(
    State(state): State<SimState>,
    Extension(sim): Extension<Arc<WechatSim>>,
    Query(request): Query<TokenRequest>,
) -> Response {
    match authenticate(&state, &request) {
        Ok(()) => issue(&sim, &request, Slot::Latest),
        Err((code, message)) => errcode(code, message),
    }
}

pub(super) async fn stable_token(
    State(state): State<SimState>,
    Extension(sim): Extension<Arc<WechatSim>>,
    body: Bytes,
) -> Response {
    let Ok(request) = serde_json::from_slice::<TokenRequest>(&body) else {
        return errcode(47001, "data format error");
    };
    match authenticate(&state, &request) {
        Ok(()) => issue(&sim, &request, Slot::Stable),
        Err((code, message)) => errcode(code, message),
    }
}
