//! Herald's WeChat callback endpoint: the URL check and TEMPLATESENDJOBFINISH receipts.
//!
//! Register `https://<herald>/callbacks/wechat/{app_id}/{account_id}` as the account's
//! server URL in the WeChat console (Herald's app id and channel-account id: the endpoint
//! looks the account up for its `callback_token`, `appid` and `encoding_aes_key`).
//!
//! - `GET` (the console's URL check): answers `echostr` when `signature` verifies.
//! - `POST` (events): checks `signature` (and, with `encrypt_type=aes`, `msg_signature`,
//!   then decrypts and checks the appid inside), rejects timestamps more than
//!   [`TIMESTAMP_TOLERANCE_SECS`] away, turns TEMPLATESENDJOBFINISH into a
//!   [`ProviderReceipt`] (`provider_id` = `MsgID`, `delivered` = `Status == "success"`,
//!   `code` = `Status`) and answers `success`. Other events are acknowledged and ignored.
//!
//! Errors: unknown account or no `callback_token` 404; bad signature 401; stale timestamp or
//! undecodable body 400; receipt store failure 500 (WeChat then pushes again).

use super::signing::{self, AesKey};
use crate::common::xml::parse_flat;
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use herald_channels::CallbackDeps;
use herald_domain::time::now_ms;
use herald_domain::{AccountId, AppId, ChannelKind};
use herald_ports::ProviderReceipt;
use serde::Deserialize;

/// How far a callback's `timestamp` may be from Herald's clock.
pub const TIMESTAMP_TOLERANCE_SECS: i64 = 300;
/// Account secret field with the 43-character EncodingAESKey (safe mode).
pub const SECRET_ENCODING_AES_KEY: &str = "encoding_aes_key";

pub fn routes(deps: CallbackDeps) -> Router {
    Router::new()
        .route(
            "/callbacks/wechat/{app_id}/{account_id}",
            get(verify_url).post(event),
        )
        .with_state(deps)
}

#[derive(Debug, Default, Deserialize)]
struct CallbackQuery {
    #[serde(default)]
    signature: String,
    #[serde(default)]
    timestamp: String,
    #[serde(default)]
    nonce: String,
    echostr: Option<String>,
    encrypt_type: Option<String>,
    msg_signature: Option<String>,
}

/// What the endpoint needs of the account.
struct CallbackAccount {
    token: String,
    appid: String,
    aes_key: Option<AesKey>,
}

/// A refused callback: status and a short reason.
type Refusal = (StatusCode, String);

fn refuse(status: StatusCode, message: &str) -> Refusal {
    (status, message.to_owned())
}

async fn lookup(
    deps: &CallbackDeps,
    app_id: &str,
    account_id: &str,
) -> Result<CallbackAccount, Refusal> {
    let not_found = || refuse(StatusCode::NOT_FOUND, "unknown callback");
    let (Some(app), Some(id)) = (AppId::parse(app_id), AccountId::parse(account_id)) else {
        return Err(not_found());
    };
    let account = deps
        .accounts
        .account(&app, &id)
        .await
        .ok_or_else(not_found)?;
    if account.account.channel != ChannelKind::WechatOa {
        return Err(not_found());
    }
    let token = account
        .setting("callback_token")
        .filter(|t| !t.is_empty())
        .ok_or_else(not_found)?;
    let aes_key = match account
        .secret
        .as_ref()
        .and_then(|s| s.str(SECRET_ENCODING_AES_KEY))
    {
        Some(key) => Some(AesKey::from_encoding_key(key).map_err(|_| {
            refuse(
                StatusCode::INTERNAL_SERVER_ERROR,
                "the account's encoding_aes_key is invalid",
            )
        })?),
        None => None,
    };
    Ok(CallbackAccount {
        token: token.to_owned(),
        appid: account.setting("appid").unwrap_or_default().to_owned(),
        aes_key,
    })
}

/// Checks `signature` and the timestamp window.
fn authenticate(account: &CallbackAccount, query: &CallbackQuery) -> Result<(), Refusal> {
    if !signing::verify(
        &query.signature,
        &[&account.token, &query.timestamp, &query.nonce],
    ) {
        return Err(refuse(StatusCode::UNAUTHORIZED, "invalid signature"));
    }
    let fresh = query
        .timestamp
        .parse::<i64>()
        .is_ok_and(|ts| (now_ms() / 1000 - ts).abs() <= TIMESTAMP_TOLERANCE_SECS);
    if !fresh {
        return Err(refuse(StatusCode::BAD_REQUEST, "stale timestamp"));
    }
    Ok(())
}

async fn verify_url(
    State(deps): State<CallbackDeps>,
    Path((app_id, account_id)): Path<(String, String)>,
    Query(query): Query<CallbackQuery>,
) -> Response {
    let account = match lookup(&deps, &app_id, &account_id).await {
        Ok(account) => account,
        Err(refusal) => return refusal.into_response(),
    };
    if let Err(refusal) = authenticate(&account, &query) {
        return refusal.into_response();
    }
    query.echostr.unwrap_or_default().into_response()
}

async fn event(
    State(deps): State<CallbackDeps>,
    Path((app_id, account_id)): Path<(String, String)>,
    Query(query): Query<CallbackQuery>,
    body: String,
) -> Response {
    let account = match lookup(&deps, &app_id, &account_id).await {
        Ok(account) => account,
        Err(refusal) => return refusal.into_response(),
    };
    if let Err(refusal) = authenticate(&account, &query) {
        return refusal.into_response();
    }
    let xml = match query.encrypt_type.as_deref() {
        Some("aes") => match open_safe_mode(&account, &query, &body) {
            Ok(xml) => xml,
            Err(refusal) => return refusal.into_response(),
        },
        _ => body,
    };
    let Ok(fields) = parse_flat(&xml) else {
        return refuse(StatusCode::BAD_REQUEST, "body is not WeChat XML").into_response();
    };
    let is_receipt = fields.get("MsgType").map(String::as_str) == Some("event")
        && fields.get("Event").map(String::as_str) == Some("TEMPLATESENDJOBFINISH");
    if !is_receipt {
        return "success".into_response();
    }
    let status = fields.get("Status").cloned().unwrap_or_default();
    let receipt = ProviderReceipt {
        channel: ChannelKind::WechatOa,
        delivery_id: None,
        provider_id: fields.get("MsgID").or_else(|| fields.get("MsgId")).cloned(),
        receiver: fields.get("FromUserName").cloned(),
        delivered: status == "success",
        code: Some(status),
        message: None,
        at: fields
            .get("CreateTime")
            .and_then(|t| t.parse::<i64>().ok())
            .map_or_else(now_ms, |secs| secs * 1000),
    };
    match deps.receipts.receipts(vec![receipt]).await {
        Ok(_) => "success".into_response(),
        Err(e) => {
            tracing::warn!(error = %e, "storing a wechat receipt failed");
            refuse(StatusCode::INTERNAL_SERVER_ERROR, "receipt not stored").into_response()
        }
    }
}

/// Verifies `msg_signature`, decrypts `Encrypt` and checks the appid inside.
fn open_safe_mode(
    account: &CallbackAccount,
    query: &CallbackQuery,
    body: &str,
) -> Result<String, Refusal> {
    let key = account.aes_key.as_ref().ok_or_else(|| {
        refuse(
            StatusCode::BAD_REQUEST,
            "safe mode needs the account's encoding_aes_key",
        )
    })?;
    let outer =
        parse_flat(body).map_err(|_| refuse(StatusCode::BAD_REQUEST, "body is not WeChat XML"))?;
    let encrypted = outer
        .get("Encrypt")
        .ok_or_else(|| refuse(StatusCode::BAD_REQUEST, "safe mode body without Encrypt"))?;
    let msg_signature = query.msg_signature.as_deref().unwrap_or_default();
    if !signing::verify(
        msg_signature,
        &[&account.token, &query.timestamp, &query.nonce, encrypted],
    ) {
        return Err(refuse(StatusCode::UNAUTHORIZED, "invalid msg_signature"));
    }
    let (xml, appid) = key
        .decrypt(encrypted)
        .map_err(|e| refuse(StatusCode::BAD_REQUEST, &e.to_string()))?;
    if !account.appid.is_empty() && appid != account.appid {
        return Err(refuse(
            StatusCode::UNAUTHORIZED,
            "encrypted for another appid",
        ));
    }
    Ok(xml)
}
