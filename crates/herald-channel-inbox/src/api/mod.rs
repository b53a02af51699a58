//! The end-user HTTP API: what an end-user app (web, mobile) calls with a user token.
//!
//! | route | what |
//! |---|---|
//! | `GET /v1/inbox/messages?state=&cursor=&limit=` | newest first; `state` = `active` (default: unread + read), `unread`, `read`, `archived`, `all`; `limit` 1–100 (default 20) |
//! | `GET /v1/inbox/messages/{id}` | one message |
//! | `GET /v1/inbox/unread-count` | `{"unread": n}` |
//! | `POST /v1/inbox/messages/{id}/read` · `/unread` · `/archive` | `{"message", "unread"}` |
//! | `POST /v1/inbox/read-all` | `{"updated", "unread"}` |
//! | `DELETE /v1/inbox/messages/{id}` | 204 (content erased; see [`herald_ports::Inbox::delete`]) |
//! | `GET /v1/inbox/stream` | SSE: `unread_count` at once and on change, `message` per new item |
//!
//! Every route takes `Authorization: Bearer <hkusr.v1 token>` and touches only that user's
//! messages: another user's id is a 404, exactly like an id that does not exist.
//!
//! Browsers call these routes from the business's own web origins, so they answer CORS for
//! any origin: a request carries its user token in a header (never a cookie), so a foreign
//! page gains nothing a token would not already give it, and the operator need not list
//! every front-end origin.

mod auth;
mod error;
mod stream;
mod views;

pub use auth::User;
pub use error::UserApiError;
pub use views::{Marked, MessagePage, MessageView, ReadAll, UnreadCount};

use crate::hub::{InboxEvent, InboxHub};
use crate::token::{EndUser, UserTokenVerifier};
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use herald_domain::DeliveryId;
use herald_domain::time::now_ms;
use herald_ports::{Inbox, InboxFilter, InboxState};
use serde::Deserialize;
use std::sync::Arc;

/// Default and largest page sizes of the listing.
const DEFAULT_LIMIT: usize = 20;
const MAX_LIMIT: usize = 100;

/// Shared state of the user routes.
#[derive(Clone)]
pub struct UserApi {
    /// The inbox storage.
    inbox: Arc<dyn Inbox>,
    /// Live streams (shared with the inbox channel).
    hub: InboxHub,
    /// Checks user tokens.
    verifier: UserTokenVerifier,
}

impl UserApi {
    /// The user's unread count, also pushed to their open streams after a change.
    async fn unread_changed(&self, user: &EndUser) -> Result<u64, UserApiError> {
        let unread = self.inbox.unread_count(&user.app, &user.user).await?;
        self.hub
            .publish(&user.app, &user.user, InboxEvent::UnreadCount(unread));
        Ok(unread)
    }
}

/// The end-user routes under `/v1/inbox`, ready to merge into the server's router.
pub fn user_routes(inbox: Arc<dyn Inbox>, hub: InboxHub, verifier: UserTokenVerifier) -> Router {
    let api = UserApi {
        inbox,
        hub,
        verifier,
    };
    Router::new()
        .route("/v1/inbox/messages", get(list))
        .route("/v1/inbox/messages/{id}", get(get_one).delete(delete))
        .route("/v1/inbox/messages/{id}/read", post(mark_read))
        .route("/v1/inbox/messages/{id}/unread", post(mark_unread))
        .route("/v1/inbox/messages/{id}/archive", post(archive))
        .route("/v1/inbox/read-all", post(read_all))
        .route("/v1/inbox/unread-count", get(unread_count))
        .route("/v1/inbox/stream", get(stream::stream))
        .with_state(api)
        .layer(cors())
}

/// Any origin, the methods and headers the routes use, preflights cached for an hour.
fn cors() -> tower_http::cors::CorsLayer {
    use axum::http::{Method, header};
    tower_http::cors::CorsLayer::new()
        .allow_origin(tower_http::cors::Any)
        .allow_methods([Method::GET, Method::POST, Method::DELETE])
        .allow_headers([
            header::AUTHORIZATION,
            header::CONTENT_TYPE,
            header::HeaderName::from_static("last-event-id"),
        ])
        .max_age(std::time::Duration::from_secs(3600))
}

#[derive(Debug, Deserialize)]
struct ListParams {
    state: Option<String>,
    cursor: Option<String>,
    limit: Option<String>,
}

async fn list(
    State(api): State<UserApi>,
    User(user): User,
    params: Result<Query<ListParams>, QueryRejection>,
) -> Result<Json<MessagePage>, UserApiError> {
    let Query(params) = params.map_err(|e| UserApiError::invalid("query", e.body_text()))?;
    let filter = match params.state.as_deref() {
        None | Some("") => InboxFilter::default(),
        Some(s) => InboxFilter::parse(s).ok_or_else(|| {
            UserApiError::invalid(
                "state",
                format!("state {s:?} is not one of active, unread, read, archived, all"),
            )
        })?,
    };
    let limit = match params.limit.as_deref() {
        None | Some("") => DEFAULT_LIMIT,
        Some(s) => s
            .parse::<usize>()
            .ok()
            .filter(|n| (1..=MAX_LIMIT).contains(n))
            .ok_or_else(|| {
                UserApiError::invalid("limit", format!("limit must be 1 to {MAX_LIMIT}"))
            })?,
    };
    let cursor = params.cursor.as_deref().filter(|c| !c.is_empty());
    let page = api
        .inbox
        .list(&user.app, &user.user, filter, cursor, limit)
        .await?;
    Ok(Json(MessagePage {
        messages: page.items.iter().map(MessageView::from).collect(),
        next_cursor: page.next_cursor,
    }))
}

/// An id that is not a delivery id cannot name a message: the same 404 as a missing one.
fn item_id(raw: &str) -> Result<DeliveryId, UserApiError> {
    DeliveryId::parse(raw).ok_or_else(UserApiError::message_not_found)
}

async fn get_one(
    State(api): State<UserApi>,
    User(user): User,
    Path(id): Path<String>,
) -> Result<Json<MessageView>, UserApiError> {
    let id = item_id(&id)?;
    let item = api.inbox.get(&user.app, &user.user, &id).await?;
    item.as_ref()
        .map(|item| Json(MessageView::from(item)))
        .ok_or_else(UserApiError::message_not_found)
}

async fn unread_count(
    State(api): State<UserApi>,
    User(user): User,
) -> Result<Json<UnreadCount>, UserApiError> {
    let unread = api.inbox.unread_count(&user.app, &user.user).await?;
    Ok(Json(UnreadCount { unread }))
}

async fn mark(
    api: UserApi,
    user: EndUser,
    id: &str,
    state: InboxState,
) -> Result<Json<Marked>, UserApiError> {
    let id = item_id(id)?;
    let item = api
        .inbox
        .set_state(&user.app, &user.user, &id, state, now_ms())
        .await?
        .ok_or_else(UserApiError::message_not_found)?;
    let unread = api.unread_changed(&user).await?;
    Ok(Json(Marked {
        message: MessageView::from(&item),
        unread,
    }))
}

async fn mark_read(
    State(api): State<UserApi>,
    User(user): User,
    Path(id): Path<String>,
) -> Result<Json<Marked>, UserApiError> {
    mark(api, user, &id, InboxState::Read).await
}

async fn mark_unread(
    State(api): State<UserApi>,
    User(user): User,
    Path(id): Path<String>,
) -> Result<Json<Marked>, UserApiError> {
    mark(api, user, &id, InboxState::Unread).await
}

async fn archive(
    State(api): State<UserApi>,
    User(user): User,
    Path(id): Path<String>,
) -> Result<Json<Marked>, UserApiError> {
    mark(api, user, &id, InboxState::Archived).await
}

async fn read_all(
    State(api): State<UserApi>,
    User(user): User,
) -> Result<Json<ReadAll>, UserApiError> {
    let updated = api
        .inbox
        .mark_all_read(&user.app, &user.user, now_ms())
        .await?;
    let unread = api.unread_changed(&user).await?;
    Ok(Json(ReadAll { updated, unread }))
}

async fn delete(
    State(api): State<UserApi>,
    User(user): User,
    Path(id): Path<String>,
) -> Result<StatusCode, UserApiError> {
    let id = item_id(&id)?;
    if !api.inbox.delete(&user.app, &user.user, &id).await? {
        return Err(UserApiError::message_not_found());
    }
    api.unread_changed(&user).await?;
    Ok(StatusCode::NO_CONTENT)
}
