//! Channel accounts: CRUD. Secrets are accepted on create/update and never returned
//! (`has_secret` says whether one is stored).

use crate::ApiState;
use crate::auth::Auth;
use crate::error::ApiResult;
use crate::json::StrictJson;
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use herald_domain::Account;
use herald_engine::manage::{AccountInput, AccountPatch};
use serde_json::json;

pub async fn create(
    State(s): State<ApiState>,
    auth: Auth,
    body: StrictJson<AccountInput>,
) -> ApiResult<(StatusCode, Json<Account>)> {
    Ok((
        StatusCode::CREATED,
        Json(s.engine.create_account(auth.app()?, body.value).await?),
    ))
}

pub async fn list(State(s): State<ApiState>, auth: Auth) -> ApiResult<Json<serde_json::Value>> {
    let items = s.engine.list_accounts(auth.app()?).await?;
    Ok(Json(json!({ "items": items })))
}

pub async fn get(
    State(s): State<ApiState>,
    auth: Auth,
    Path(id): Path<String>,
) -> ApiResult<Json<Account>> {
    Ok(Json(s.engine.get_account(auth.app()?, &id).await?))
}

pub async fn update(
    State(s): State<ApiState>,
    auth: Auth,
    Path(id): Path<String>,
    body: StrictJson<AccountPatch>,
) -> ApiResult<Json<Account>> {
    Ok(Json(
        s.engine
            .update_account(auth.app()?, &id, body.value)
            .await?,
    ))
}

pub async fn delete(
    State(s): State<ApiState>,
    auth: Auth,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    s.engine.delete_account(auth.app()?, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}
