//! Templates: CRUD and version history.

use crate::ApiState;
use crate::auth::Auth;
use crate::error::ApiResult;
use crate::json::StrictJson;
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use herald_domain::{Template, TemplateVersion};
use herald_engine::manage::{TemplateInput, TemplatePatch, TemplateView};
use serde_json::json;

pub async fn create(
    State(s): State<ApiState>,
    auth: Auth,
    body: StrictJson<TemplateInput>,
) -> ApiResult<(StatusCode, Json<TemplateView>)> {
    Ok((
        StatusCode::CREATED,
        Json(s.engine.create_template(auth.app()?, body.value).await?),
    ))
}

pub async fn list(State(s): State<ApiState>, auth: Auth) -> ApiResult<Json<serde_json::Value>> {
    let items: Vec<Template> = s.engine.list_templates(auth.app()?).await?;
    Ok(Json(json!({ "items": items })))
}

pub async fn get(
    State(s): State<ApiState>,
    auth: Auth,
    Path(id): Path<String>,
) -> ApiResult<Json<TemplateView>> {
    Ok(Json(s.engine.get_template(auth.app()?, &id).await?))
}

pub async fn update(
    State(s): State<ApiState>,
    auth: Auth,
    Path(id): Path<String>,
    body: StrictJson<TemplatePatch>,
) -> ApiResult<Json<TemplateView>> {
    Ok(Json(
        s.engine
            .update_template(auth.app()?, &id, body.value)
            .await?,
    ))
}

pub async fn delete(
    State(s): State<ApiState>,
    auth: Auth,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    s.engine.delete_template(auth.app()?, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

pub async fn versions(
    State(s): State<ApiState>,
    auth: Auth,
    Path(id): Path<String>,
) -> ApiResult<Json<serde_json::Value>> {
    let items: Vec<TemplateVersion> = s.engine.list_template_versions(auth.app()?, &id).await?;
    Ok(Json(json!({ "items": items })))
}
