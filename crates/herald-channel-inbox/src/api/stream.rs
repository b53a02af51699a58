//! `GET /v1/inbox/stream`: the user's live updates as server-sent events.
//!
//! Events (each `data` is JSON):
//! - `unread_count` `{"unread": n}` — once on connect, then after every change;
//! - `message` — a new item, shaped like the listing's messages;
//! - `resync` `{}` — this stream fell behind and dropped events: refetch the list and count.
//!
//! A comment line (`: keep-alive`) every 15 s keeps proxies from closing an idle stream. The
//! stream ends when the token expires; the app reconnects with a fresh token (EventSource
//! does so by itself when the token comes from a URL it can refresh).

use super::UserApi;
use super::auth::{authenticate, bearer};
use super::error::UserApiError;
use super::views::{MessageView, UnreadCount};
use crate::hub::{InboxEvent, Subscription};
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::response::sse::{Event, KeepAlive, Sse};
use futures::stream::{self, Stream, StreamExt};
use serde::Deserialize;
use std::convert::Infallible;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tokio::sync::broadcast::error::RecvError;

/// Interval of keep-alive comments on an idle stream.
const KEEP_ALIVE: Duration = Duration::from_secs(15);

#[derive(Debug, Deserialize)]
pub(super) struct StreamParams {
    /// For `EventSource`, which cannot send an `Authorization` header.
    access_token: Option<String>,
}

pub(super) async fn stream(
    State(api): State<UserApi>,
    headers: HeaderMap,
    params: Result<Query<StreamParams>, QueryRejection>,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, UserApiError> {
    let Query(params) = params.map_err(|e| UserApiError::invalid("query", e.body_text()))?;
    let token = bearer(&headers).or(params.access_token.as_deref());
    let user = authenticate(&api, token).await?;
    // Subscribe before counting, so no change between the two is missed.
    let subscription = api.hub.subscribe(&user.app, &user.user);
    let unread = api.inbox.unread_count(&user.app, &user.user).await?;
    let first = stream::once(async move { unread_event(unread) });
    let live = stream::unfold(subscription, next_event);
    let until_expiry = tokio::time::sleep(until(user.expires_at));
    let events = first.chain(live).take_until(until_expiry).map(Ok);
    Ok(Sse::new(events).keep_alive(KeepAlive::new().interval(KEEP_ALIVE)))
}

async fn next_event(mut subscription: Subscription) -> Option<(Event, Subscription)> {
    let event = match subscription.recv().await {
        Ok(InboxEvent::Message(item)) => json_event("message", &MessageView::from(item.as_ref())),
        Ok(InboxEvent::UnreadCount(unread)) => unread_event(unread),
        Err(RecvError::Lagged(_)) => Event::default().event("resync").data("{}"),
        Err(RecvError::Closed) => return None,
    };
    Some((event, subscription))
}

fn unread_event(unread: u64) -> Event {
    json_event("unread_count", &UnreadCount { unread })
}

fn json_event(name: &'static str, data: &impl serde::Serialize) -> Event {
    let data = serde_json::to_string(data).unwrap_or_else(|_| "{}".to_owned());
    Event::default().event(name).data(data)
}

/// Time left until Unix second `expires_at`.
fn until(expires_at: i64) -> Duration {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    Duration::from_secs(expires_at.max(0) as u64).saturating_sub(now)
}
