//! Apps (admin key) and API keys (admin, or an app key for its own app).

use crate::ApiState;
use crate::auth::Auth;
use crate::error::ApiResult;
use crate::json::StrictJson;
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use herald_domain::App;
use herald_engine::manage::{AppInput, KeyInput, NewApiKey};
use serde_json::json;

pub async fn create(
    State(s): State<ApiState>,
    auth: Auth,
    body: StrictJson<AppInput>,
) -> ApiResult<(StatusCode, Json<App>)> {
    Ok((
        StatusCode::CREATED,
        Json(s.engine.create_app(&auth.0, body.value).await?),
    ))
}

pub async fn list(State(s): State<ApiState>, auth: Auth) -> ApiResult<Json<serde_json::Value>> {
    Ok(Json(json!({ "items": s.engine.list_apps(&auth.0).await? })))
}

pub async fn delete(
    State(s): State<ApiState>,
    auth: Auth,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    s.engine.delete_app(&auth.0, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

pub async fn create_key(
    State(s): State<ApiState>,
    auth: Auth,
    Path(id): Path<String>,
    body: StrictJson<KeyInput>,
) -> ApiResult<(StatusCode, Json<NewApiKey>)> {
    Ok((
        StatusCode::CREATED,
        Json(s.engine.create_api_key(&auth.0, &id, body.value).await?),
    ))
}

pub async fn list_keys(
    State(s): State<ApiState>,
    auth: Auth,
    Path(id): Path<String>,
) -> ApiResult<Json<serde_json::Value>> {
    let keys = s.engine.list_api_keys(&auth.0, &id).await?;
    let items: Vec<_> = keys
        .iter()
        .map(
            |k| json!({"id": k.id, "app_id": k.app_id, "name": k.name, "created_at": herald_domain::time::to_rfc3339(k.created_at)}),
        )
        .collect();
    Ok(Json(json!({ "items": items })))
}

pub async fn delete_key(
    State(s): State<ApiState>,
    auth: Auth,
    Path((id, key)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    s.engine.delete_api_key(&auth.0, &id, &key).await?;
    Ok(StatusCode::NO_CONTENT)
}
