//! Messages: send, batch send, get, search, cancel; dead letters and replay.

use crate::ApiState;
use crate::auth::Auth;
use crate::error::{ApiError, ApiResult};
use crate::json::StrictJson;
use crate::views;
use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use herald_domain::time::parse_rfc3339;
use herald_domain::{AccountId, ChannelKind, DeliveryState, MessageId, TemplateId};
use herald_engine::accept::{AcceptOutcome, BatchRequest, IdempotencyInput, SendRequest};
use herald_ports::SearchFilter;
use serde::Deserialize;
use serde_json::json;

fn idempotency(
    headers: &HeaderMap,
    hash: impl FnOnce() -> String,
    route: &str,
) -> ApiResult<Option<IdempotencyInput>> {
    let Some(raw) = headers.get("idempotency-key") else {
        return Ok(None);
    };
    let key = raw.to_str().ok().map(str::trim).filter(|k| {
        !k.is_empty() && k.len() <= 255 && k.bytes().all(|b| (0x21..0x7f).contains(&b))
    });
    let key = key.ok_or_else(|| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid_header",
            "Idempotency-Key must be 1 to 255 printable ASCII characters",
        )
        .with_field("Idempotency-Key")
    })?;
    // The route is part of the hash: the same body sent to /batch is a different request.
    Ok(Some(IdempotencyInput {
        key: key.to_owned(),
        request_hash: format!("{route}:{}", hash()),
    }))
}

fn accepted(o: AcceptOutcome) -> Response {
    let status = StatusCode::from_u16(o.status).unwrap_or(StatusCode::ACCEPTED);
    let mut resp = (
        status,
        [(
            axum::http::header::CONTENT_TYPE,
            axum::http::HeaderValue::from_static("application/json"),
        )],
        o.body,
    )
        .into_response();
    if o.replayed {
        resp.headers_mut().insert(
            "idempotent-replayed",
            axum::http::HeaderValue::from_static("true"),
        );
    }
    resp
}

pub async fn send(
    State(s): State<ApiState>,
    auth: Auth,
    headers: HeaderMap,
    body: StrictJson<SendRequest>,
) -> ApiResult<Response> {
    let app = auth.app()?;
    let idem = idempotency(&headers, || body.canonical_hash(), "send")?;
    Ok(accepted(s.engine.send(app, body.value, idem).await?))
}

pub async fn send_batch(
    State(s): State<ApiState>,
    auth: Auth,
    headers: HeaderMap,
    body: StrictJson<BatchRequest>,
) -> ApiResult<Response> {
    let app = auth.app()?;
    let idem = idempotency(&headers, || body.canonical_hash(), "batch")?;
    Ok(accepted(s.engine.send_batch(app, body.value, idem).await?))
}

pub async fn get(
    State(s): State<ApiState>,
    auth: Auth,
    Path(id): Path<String>,
) -> ApiResult<Json<serde_json::Value>> {
    let view = s.engine.get_message(auth.app()?, &id).await?;
    Ok(Json(views::message(&view)))
}

pub async fn cancel(
    State(s): State<ApiState>,
    auth: Auth,
    Path(id): Path<String>,
) -> ApiResult<Json<serde_json::Value>> {
    let canceled = s.engine.cancel_message(auth.app()?, &id).await?;
    Ok(Json(json!({"id": id, "canceled": canceled})))
}

/// Query string of `GET /v1/messages`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SearchQuery {
    /// Comma-separated delivery states.
    status: Option<String>,
    template: Option<String>,
    channel: Option<String>,
    account: Option<String>,
    message: Option<String>,
    receiver: Option<String>,
    from: Option<String>,
    to: Option<String>,
    q: Option<String>,
    cursor: Option<String>,
    limit: Option<usize>,
}

fn bad(field: &str, message: impl Into<String>) -> ApiError {
    ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid_query", message).with_field(field)
}

impl SearchQuery {
    fn filter(&self) -> ApiResult<SearchFilter> {
        let mut f = SearchFilter::default();
        if let Some(list) = &self.status {
            for s in list.split(',').map(str::trim).filter(|s| !s.is_empty()) {
                f.states.push(
                    DeliveryState::parse(s)
                        .ok_or_else(|| bad("status", format!("{s:?} is not a delivery state")))?,
                );
            }
        }
        if let Some(t) = &self.template {
            f.template_id = Some(
                TemplateId::parse(t)
                    .ok_or_else(|| bad("template", "must be a template id (tpl_…)"))?,
            );
        }
        if let Some(c) = &self.channel {
            f.channel = Some(
                ChannelKind::parse(c).ok_or_else(|| bad("channel", "is not a known channel"))?,
            );
        }
        if let Some(a) = &self.account {
            f.account_id = Some(
                AccountId::parse(a)
                    .ok_or_else(|| bad("account", "must be an account id (acc_…)"))?,
            );
        }
        if let Some(m) = &self.message {
            f.message_id = Some(
                MessageId::parse(m)
                    .ok_or_else(|| bad("message", "must be a message id (msg_…)"))?,
            );
        }
        f.receiver = self.receiver.clone().filter(|r| !r.is_empty());
        let time = |field: &str, v: &Option<String>| -> ApiResult<Option<i64>> {
            v.as_deref()
                .map(|s| {
                    parse_rfc3339(s).ok_or_else(|| bad(field, "must be RFC 3339 with an offset"))
                })
                .transpose()
        };
        f.from = time("from", &self.from)?;
        f.to = time("to", &self.to)?;
        f.text = self
            .q
            .clone()
            .map(|q| q.trim().to_owned())
            .filter(|q| !q.is_empty());
        if self.limit.is_some_and(|l| l == 0 || l > 1000) {
            return Err(bad("limit", "must be between 1 and 1000"));
        }
        Ok(f)
    }
}

pub async fn search(
    State(s): State<ApiState>,
    auth: Auth,
    query: Result<Query<SearchQuery>, axum::extract::rejection::QueryRejection>,
) -> ApiResult<Json<serde_json::Value>> {
    let Query(query) = query.map_err(|e| {
        ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_query",
            e.body_text(),
        )
    })?;
    let filter = query.filter()?;
    let page = s
        .engine
        .search(
            auth.app()?,
            &filter,
            query.cursor.as_deref(),
            query.limit.unwrap_or(50),
        )
        .await?;
    Ok(Json(views::search_page(&page)))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeadQuery {
    after: Option<String>,
    limit: Option<usize>,
}

pub async fn list_dead(
    State(s): State<ApiState>,
    auth: Auth,
    query: Result<Query<DeadQuery>, axum::extract::rejection::QueryRejection>,
) -> ApiResult<Json<serde_json::Value>> {
    let Query(q) = query.map_err(|e| {
        ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_query",
            e.body_text(),
        )
    })?;
    let limit = q.limit.unwrap_or(100);
    if limit == 0 || limit > 1000 {
        return Err(bad("limit", "must be between 1 and 1000"));
    }
    let items = s
        .engine
        .list_dead_letters(auth.app()?, q.after.as_deref(), limit)
        .await?;
    // A short page is the last one.
    let next = if items.len() < limit {
        None
    } else {
        items.last().map(|d| d.id.to_string())
    };
    Ok(Json(
        json!({"items": items.iter().map(views::dead_letter).collect::<Vec<_>>(), "next_cursor": next}),
    ))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReplayRequest {
    ids: Vec<String>,
}

pub async fn replay_dead(
    State(s): State<ApiState>,
    auth: Auth,
    body: StrictJson<ReplayRequest>,
) -> ApiResult<Json<serde_json::Value>> {
    if body.value.ids.is_empty() || body.value.ids.len() > 10_000 {
        return Err(bad("ids", "give 1 to 10,000 dead letter ids"));
    }
    let n = s
        .engine
        .replay_dead_letters(auth.app()?, &body.value.ids)
        .await?;
    Ok(Json(json!({"replayed": n})))
}
