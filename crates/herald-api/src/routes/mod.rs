//! Route table: `/v1/...` resources (authenticated) and operational endpoints.

mod accounts;
mod apps;
mod messages;
mod ops;
mod templates;

use crate::ApiState;
use axum::Router;
use axum::routing::{get, post};

pub fn router(state: ApiState) -> Router {
    Router::new()
        .route("/v1/messages", post(messages::send).get(messages::search))
        .route("/v1/messages/batch", post(messages::send_batch))
        .route(
            "/v1/messages/{id}",
            get(messages::get).delete(messages::cancel),
        )
        .route("/v1/dead-letters", get(messages::list_dead))
        .route("/v1/dead-letters/replay", post(messages::replay_dead))
        .route(
            "/v1/templates",
            post(templates::create).get(templates::list),
        )
        .route(
            "/v1/templates/{id}",
            get(templates::get)
                .patch(templates::update)
                .delete(templates::delete),
        )
        .route("/v1/templates/{id}/versions", get(templates::versions))
        .route("/v1/accounts", post(accounts::create).get(accounts::list))
        .route(
            "/v1/accounts/{id}",
            get(accounts::get)
                .patch(accounts::update)
                .delete(accounts::delete),
        )
        .route("/v1/apps", post(apps::create).get(apps::list))
        .route("/v1/apps/{id}", axum::routing::delete(apps::delete))
        .route(
            "/v1/apps/{id}/keys",
            post(apps::create_key).get(apps::list_keys),
        )
        .route(
            "/v1/apps/{id}/keys/{key}",
            axum::routing::delete(apps::delete_key),
        )
        .route("/healthz", get(ops::healthz))
        .route("/readyz", get(ops::readyz))
        .route("/metrics", get(ops::metrics))
        .route("/openapi.json", get(ops::openapi))
        .route("/docs", get(ops::docs))
        .fallback(ops::not_found)
        .method_not_allowed_fallback(ops::method_not_allowed)
        .with_state(state)
}

/// Only the operational endpoints (for `--role worker`).
pub fn ops_router(state: ApiState) -> Router {
    Router::new()
        .route("/healthz", get(ops::healthz))
        .route("/readyz", get(ops::readyz))
        .route("/metrics", get(ops::metrics))
        .fallback(ops::not_found)
        .with_state(state)
}
