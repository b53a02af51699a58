//! Provider-independent simulator routes: account configuration and counters.

use super::config::SimAccountConfig;
use super::{SimState, error_response};
use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde::Serialize;

pub(super) fn routes() -> Router<SimState> {
    Router::new()
        .route("/sim/accounts", get(list_accounts))
        .route("/sim/accounts/{name}", get(get_account).put(put_account))
        .route("/sim/stats", get(get_stats).delete(reset_stats))
}

/// An account as the API shows it: the secret is only ever reported as present or not.
#[derive(Serialize)]
struct AccountView {
    name: String,
    has_secret: bool,
    #[serde(flatten)]
    config: SimAccountConfig,
}

impl AccountView {
    fn new(name: String, config: SimAccountConfig) -> Self {
        Self {
            name,
            has_secret: config.secret.is_some(),
            config,
        }
    }
}

async fn list_accounts(State(state): State<SimState>) -> Json<serde_json::Value> {
    let accounts: Vec<_> = state
        .account_names()
        .into_iter()
        .map(|name| {
            let config = state.account_config(&name);
            AccountView::new(name, config)
        })
        .collect();
    Json(serde_json::json!({ "accounts": accounts }))
}

async fn get_account(State(state): State<SimState>, Path(name): Path<String>) -> Response {
    let config = state.account_config(&name);
    Json(AccountView::new(name, config)).into_response()
}

async fn put_account(
    State(state): State<SimState>,
    Path(name): Path<String>,
    config: Result<Json<SimAccountConfig>, JsonRejection>,
) -> Response {
    let config = match config {
        Ok(Json(config)) => config,
        Err(rejection) => {
            return error_response(
                StatusCode::BAD_REQUEST,
                "invalid_config",
                Some(rejection.body_text()),
            );
        }
    };
    match state.configure(&name, config.clone()) {
        Ok(()) => Json(AccountView::new(name, config)).into_response(),
        Err(message) => error_response(StatusCode::BAD_REQUEST, "invalid_config", Some(message)),
    }
}

async fn get_stats(State(state): State<SimState>) -> Response {
    Json(state.stats()).into_response()
}

async fn reset_stats(State(state): State<SimState>) -> StatusCode {
    state.reset_stats();
    StatusCode::NO_CONTENT
}
