//! The simulator's message endpoints: template send and subscribe bizsend, checked in
//! WeChat's order (token, body, frequency, quota, content, faults) with WeChat's errcodes.

use super::push::{self, Event};
use super::{AppSettings, WechatSim};
use crate::common::sim_tokens::TokenCheck;
use crate::common::sim_util::{FaultAnswer, detached, errcode, injected_fault, ok_with, record};
use crate::wechat_oa::payload::MessageKind;
use axum::Extension;
use axum::extract::{Query, State};
use axum::response::Response;
use bytes::Bytes;
use herald_channels::sim::{SimState, unix_now};
use serde::Deserialize;
use serde_json::{Value, json};
use std::sync::Arc;

/// How long WeChat remembers a `(touser, client_msg_id)` pair.
const DEDUP_WINDOW_MS: i64 = 600_000;
const DAY_MS: i64 = 86_400_000;
const CHINA_OFFSET_MS: i64 = 8 * 3_600_000;

#[derive(Debug, Default, Deserialize)]
pub(super) struct TokenParam {
    access_token: Option<String>,
}

/// A request that passed the content checks.
struct Checked {
    touser: String,
    client_msg_id: Option<String>,
    /// The TEMPLATESENDJOBFINISH status its event will carry.
    status: &'static str,
}

type Refusal = (i64, &'static str);

fn is_id(value: &str, max: usize) -> bool {
    (1..=max).contains(&value.len())
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

fn check(kind: MessageKind, body: &Value, settings: &AppSettings) -> Result<Checked, Refusal> {
    let text = |key: &str| body.get(key).and_then(Value::as_str).unwrap_or_default();
    let touser = text("touser");
    if !is_id(touser, 64) {
        return Err((40003, "invalid openid"));
    }
    if touser.starts_with("unfollowed") {
        return Err(match kind {
            MessageKind::Template => (43004, "require subscribe"),
            MessageKind::Subscribe => (43101, "user refuse to accept the msg"),
        });
    }
    let template_id = text("template_id");
    if !is_id(template_id, 128) {
        return Err((40037, "invalid template_id"));
    }
    let Some(data) = body.get("data").and_then(Value::as_object) else {
        return Err((47003, "argument invalid! data is empty"));
    };
    for (key, entry) in data {
        let Some(value) = entry.get("value").and_then(Value::as_str) else {
            return Err((47003, "argument invalid! data.value is not a string"));
        };
        if kind == MessageKind::Subscribe && key.starts_with("thing") && value.chars().count() > 20
        {
            return Err((
                47003,
                "argument invalid! data.thing.value exceeds 20 characters",
            ));
        }
    }
    if !settings.templates.is_empty() {
        let keys = settings
            .templates
            .get(template_id)
            .ok_or((40037, "invalid template_id"))?;
        if keys.iter().any(|k| !data.contains_key(k)) {
            return Err((47003, "argument invalid! data does not match the template"));
        }
    }
    let status = if touser.starts_with("block") {
        "failed:user block"
    } else if touser.starts_with("sysfail") {
        "failed: system failed"
    } else {
        "success"
    };
    Ok(Checked {
        touser: touser.to_owned(),
        client_msg_id: (kind == MessageKind::Template)
            .then(|| text("client_msg_id").to_owned())
            .filter(|id| !id.is_empty()),
        status,
    })
}

pub(super) async fn template_send(
    State(state): State<SimState>,
    Extension(sim): Extension<Arc<WechatSim>>,
    Query(token): Query<TokenParam>,
    body: Bytes,
) -> Response {
    handle(state, sim, token, body, MessageKind::Template).await
}

pub(super) async fn subscribe_send(
    State(state): State<SimState>,
    Extension(sim): Extension<Arc<WechatSim>>,
    Query(token): Query<TokenParam>,
    body: Bytes,
) -> Response {
    handle(state, sim, token, body, MessageKind::Subscribe).await
}

async fn handle(
    state: SimState,
    sim: Arc<WechatSim>,
    token: TokenParam,
    body: Bytes,
    kind: MessageKind,
) -> Response {
    let (arrival, arrival_ms) = unix_now();
    let appid = match sim.tokens.check(token.access_token.as_deref(), arrival_ms) {
        TokenCheck::Valid(appid) => appid,
        TokenCheck::Missing => return errcode(41001, "access_token missing"),
        TokenCheck::Malformed => return errcode(40014, "invalid access_token"),
        TokenCheck::Invalid => {
            return errcode(
                40001,
                "invalid credential, access_token is invalid or not latest",
            );
        }
        TokenCheck::Expired => return errcode(42001, "access_token expired"),
    };
    let Some(account) = state.account(&appid) else {
        return errcode(40013, "invalid appid");
    };
    let config = account.config();
    let Ok(request) = serde_json::from_slice::<Value>(&body) else {
        account.reject(arrival);
        return errcode(47001, "data format error");
    };
    if !account.admit(arrival, config.rate_limit_per_sec) {
        return errcode(
            45011,
            "api minute-quota reach limit mustslower retry next minute",
        );
    }
    let app = sim.app(&appid);
    let settings = app.settings();
    let day = (arrival_ms + CHINA_OFFSET_MS).div_euclid(DAY_MS);
    {
        let mut counters = app.counters.lock();
        if counters.day != day {
            counters.day = day;
            counters.sent_today = 0;
        }
        if settings.daily_quota > 0 && counters.sent_today >= settings.daily_quota {
            drop(counters);
            account.reject(arrival);
            return errcode(45009, "reach max api daily quota limit");
        }
    }
    let checked = match check(kind, &request, &settings) {
        Ok(checked) => checked,
        Err((code, message)) => {
            account.reject(arrival);
            return errcode(code, message);
        }
    };
    detached(async move {
        match injected_fault(&account, &config, arrival).await {
            FaultAnswer::Proceed => {}
            FaultAnswer::Busy => return errcode(-1, "system error"),
            FaultAnswer::Refuse => return errcode(48001, "api unauthorized"),
        }
        let msgid = {
            let mut counters = app.counters.lock();
            let key = (
                checked.touser.clone(),
                checked.client_msg_id.clone().unwrap_or_default(),
            );
            let earlier = checked
                .client_msg_id
                .as_ref()
                .and_then(|_| counters.dedup.get(&key))
                .filter(|(_, at)| arrival_ms - at < DEDUP_WINDOW_MS)
                .map(|(msgid, _)| *msgid);
            match earlier {
                Some(msgid) => Err(msgid),
                None => {
                    let msgid = sim.next_msgid();
                    counters.sent_today += 1;
                    if checked.client_msg_id.is_some() {
                        counters
                            .dedup
                            .retain(|_, (_, at)| arrival_ms - *at < DEDUP_WINDOW_MS);
                        counters.dedup.insert(key, (msgid, arrival_ms));
                    }
                    Ok(msgid)
                }
            }
        };
        let (msgid, first) = match msgid {
            Ok(msgid) => (msgid, true),
            Err(msgid) => (msgid, false),
        };
        let id = match &checked.client_msg_id {
            Some(client_msg_id) => format!("{}:{client_msg_id}", checked.touser),
            None => msgid.to_string(),
        };
        account.accept(arrival, record(id, arrival_ms, body));
        if kind == MessageKind::Subscribe {
            return ok_with(json!({}));
        }
        if first && let Some(target) = settings.callback.clone() {
            let event = Event {
                original_id: settings.original_id.clone(),
                openid: checked.touser,
                msgid,
                status: checked.status.to_owned(),
            };
            tokio::spawn(push::deliver(
                sim.clone(),
                app,
                appid,
                target,
                event,
                settings.receipt_delay_ms,
            ));
        }
        ok_with(json!({ "msgid": msgid }))
    })
    .await
}
