//! The simulator's `message/send`: checks in WeCom's order, reports invalid members per
//! member, skips duplicates, and silently drops copies over the per-member limits.

use super::{CorpSim, WecomSim};
use crate::common::sim_util::{FaultAnswer, detached, errcode, injected_fault, ok_with, record};
use axum::Extension;
use axum::extract::{Query, State};
use axum::response::Response;
use bytes::Bytes;
use herald_channels::sim::{SimState, unix_now};
use serde::Deserialize;
use serde_json::{Value, json};
use std::hash::{DefaultHasher, Hash, Hasher};
use std::sync::Arc;

/// Most members per call.
const MAX_USERS: usize = 1000;
/// Longest duplicate-check interval WeCom accepts (4 hours).
const MAX_DUPLICATE_CHECK_SECS: i64 = 14_400;

#[derive(Debug, Default, Deserialize)]
pub(super) struct TokenParam {
    access_token: Option<String>,
}

/// Whether WeCom knows `user` as a member: `Ok(true)` licensed, `Ok(false)` unlicensed.
fn member(user: &str) -> Result<bool, ()> {
    let well_formed = (1..=64).contains(&user.len())
        && user
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._@-".contains(&b));
    if !well_formed || user.starts_with("invalid") {
        Err(())
    } else {
        Ok(!user.starts_with("unlicensed"))
    }
}

/// The content object of `msgtype`, refused with 40008/44004 as WeCom does.
fn content(body: &Value) -> Result<&Value, (i64, &'static str)> {
    let msgtype = body
        .get("msgtype")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let required: &[&str] = match msgtype {
        "text" | "markdown" => &["content"],
        "textcard" => &["title", "description", "url"],
        _ => return Err((40008, "invalid message type")),
    };
    let inner = body.get(msgtype).unwrap_or(&Value::Null);
    let present = |key: &str| {
        inner
            .get(key)
            .and_then(Value::as_str)
            .is_some_and(|v| !v.trim().is_empty())
    };
    if required.iter().all(|key| present(key)) {
        Ok(inner)
    } else {
        Err((44004, "empty content"))
    }
}

pub(super) async fn message_send(
    State(state): State<SimState>,
    Extension(sim): Extension<Arc<WecomSim>>,
    Query(token): Query<TokenParam>,
    body: Bytes,
) -> Response {
    let (arrival, arrival_ms) = unix_now();
    let corpid = match sim.authenticate(token.access_token.as_deref(), arrival_ms) {
        Ok(corpid) => corpid,
        Err((code, message)) => return errcode(code, message),
    };
    let Some(account) = state.account(&corpid) else {
        return errcode(40013, "invalid corpid");
    };
    let config = account.config();
    let Ok(request) = serde_json::from_slice::<Value>(&body) else {
        account.reject(arrival);
        return errcode(47001, "data format error");
    };
    if !account.admit(arrival, config.rate_limit_per_sec) {
        return errcode(45009, "api freq out of limit");
    }
    let corp = sim.corp(&corpid);
    let settings = corp.settings.read().clone();
    let refuse = |response: Response| {
        account.reject(arrival);
        response
    };
    if request.get("agentid").and_then(Value::as_i64) != Some(settings.agentid) {
        return refuse(errcode(40056, "invalid agentid"));
    }
    let inner = match content(&request) {
        Ok(inner) => inner.to_string(),
        Err((code, message)) => return refuse(errcode(code, message)),
    };
    let touser = request
        .get("touser")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let users: Vec<&str> = touser.split('|').filter(|u| !u.is_empty()).collect();
    if users.len() > MAX_USERS {
        return refuse(errcode(40031, "invalid user list: more than 1000 users"));
    }
    let (mut licensed, mut invalid, mut unlicensed) = (Vec::new(), Vec::new(), Vec::new());
    for user in users {
        match member(user) {
            Ok(true) => licensed.push(user.to_owned()),
            Ok(false) => unlicensed.push(user),
            Err(()) => invalid.push(user),
        }
    }
    corp.counters.lock().invalid += (invalid.len() + unlicensed.len()) as u64;
    if licensed.is_empty() {
        return refuse(errcode(81013, "user & party & tag all invalid"));
    }
    let duplicate_check = (request
        .get("enable_duplicate_check")
        .and_then(Value::as_i64)
        == Some(1))
    .then(|| {
        request
            .get("duplicate_check_interval")
            .and_then(Value::as_i64)
            .unwrap_or(1800)
            .clamp(1, MAX_DUPLICATE_CHECK_SECS)
    });
    let msgtype = request
        .get("msgtype")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    let reply = json!({
        "invaliduser": invalid.join("|"),
        "invalidparty": "",
        "invalidtag": "",
        "unlicenseduser": unlicensed.join("|"),
    });
    detached(async move {
        match injected_fault(&account, &config, arrival).await {
            FaultAnswer::Proceed => {}
            FaultAnswer::Busy => return errcode(-1, "system busy"),
            FaultAnswer::Refuse => return errcode(60020, "not allow to access from your ip"),
        }
        let content_key = format!("{}|{msgtype}|{inner}", settings.agentid);
        for user in &licensed {
            deliver(&corp, &content_key, user, duplicate_check, arrival_ms);
        }
        let msgid = format!("sim_{:016x}", rand::random::<u64>());
        account.accept(arrival, record(msgid.clone(), arrival_ms, body));
        let mut reply = reply;
        reply["msgid"] = Value::String(msgid);
        ok_with(reply)
    })
    .await
}

/// One member's copy: skipped as a duplicate, dropped over the limits, or delivered.
fn deliver(corp: &CorpSim, content_key: &str, user: &str, duplicate_check: Option<i64>, now: i64) {
    if let Some(interval) = duplicate_check {
        let mut hasher = DefaultHasher::new();
        (content_key, user).hash(&mut hasher);
        let key = hasher.finish();
        let mut recent = corp.recent.lock();
        if recent.get(&key).is_some_and(|&until| until > now) {
            drop(recent);
            corp.counters.lock().duplicates += 1;
            return;
        }
        if recent.len() > 100_000 {
            recent.retain(|_, until| *until > now);
        }
        recent.insert(key, now + interval * 1000);
    }
    let windows = corp.windows.read().clone();
    let mut counters = corp.counters.lock();
    if windows.try_take(user, now).is_ok() {
        counters.delivered += 1;
    } else {
        counters.dropped += 1;
        *counters
            .dropped_by_member
            .entry(user.to_owned())
            .or_default() += 1;
    }
}
