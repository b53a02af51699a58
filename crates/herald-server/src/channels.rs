//! Every provider crate wired the same way: its channels into the engine's registry, its
//! simulators into `/sim`, its callback endpoints (receipts) into `/callbacks`, and the
//! inbox's end-user API into `/v1/inbox`.

use axum::Router;
use herald_channel_inbox::{InboxChannel, InboxHub, UserSecrets, UserTokenVerifier};
use herald_channels::sim::SimState;
use herald_channels::{CallbackDeps, ChannelDeps, Channels};
use herald_domain::{AppId, ChannelKind};
use herald_engine::Engine;
use herald_engine::cache::TtlCache;
use herald_ports::{AccountDirectory, Channel, Inbox};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

/// Every channel Herald can deliver through, by kind.
pub(crate) fn registry(
    deps: &ChannelDeps,
    inbox: Arc<dyn Inbox>,
    hub: InboxHub,
) -> HashMap<ChannelKind, Arc<dyn Channel>> {
    let mut registry = Channels::builtin(deps.http.clone(), deps.local_base.clone());
    let provided = [
        herald_channel_aliyun::channels(deps),
        herald_channel_robots::channels(deps),
        herald_channel_push::channels(deps),
        herald_channel_wechat::channels(deps),
    ];
    for channel in provided.into_iter().flatten() {
        registry.register(channel);
    }
    registry.register(Arc::new(InboxChannel::new(inbox, hub)));
    registry
        .kinds()
        .filter_map(|k| registry.get(k).map(|c| (k, c)))
        .collect()
}

/// All provider simulators under `/sim`, sharing one [`SimState`] (used by `herald serve`'s
/// built-in sandbox and by `herald sim`).
pub fn sim_router(state: SimState) -> Router {
    herald_channels::sim::router_with(
        state,
        [
            herald_channel_aliyun::sim_routes(),
            herald_channel_robots::sim_routes(),
            herald_channel_push::sim_routes(),
            herald_channel_wechat::sim_routes(),
        ],
    )
}

/// Provider callbacks (receipts) under `/callbacks`.
pub(crate) fn callback_router(engine: Arc<Engine>) -> Router {
    let deps = CallbackDeps {
        receipts: engine.clone(),
        accounts: engine,
    };
    Router::new()
        .merge(herald_channel_aliyun::callback_routes(deps.clone()))
        .merge(herald_channel_wechat::callback_routes(deps))
}

/// The inbox end-user API under `/v1/inbox`, authenticated by user tokens signed with the
/// app's inbox account secret `user_token_secret`.
pub(crate) fn inbox_router(engine: Arc<Engine>, inbox: Arc<dyn Inbox>, hub: InboxHub) -> Router {
    let secrets = InboxSecrets {
        engine,
        cache: TtlCache::new(Duration::from_secs(5), 10_000),
    };
    herald_channel_inbox::user_routes(inbox, hub, UserTokenVerifier::new(Arc::new(secrets)))
}

/// Finds an app's user-token secret: the `user_token_secret` of its first enabled inbox
/// account, cached for a few seconds.
struct InboxSecrets {
    engine: Arc<Engine>,
    cache: TtlCache<AppId, Option<Vec<u8>>>,
}

#[async_trait::async_trait]
impl UserSecrets for InboxSecrets {
    async fn user_token_secret(&self, app: &AppId) -> Option<Vec<u8>> {
        if let Some(found) = self.cache.get(app) {
            return found;
        }
        let accounts = self.engine.list_accounts(app).await.ok()?;
        let mut secret = None;
        for a in accounts
            .iter()
            .filter(|a| a.channel == ChannelKind::Inbox && a.enabled)
        {
            let ctx = self.engine.account(app, &a.id).await;
            if let Some(s) = ctx.and_then(|c| {
                c.secret
                    .as_ref()
                    .and_then(|s| s.str("user_token_secret"))
                    .map(|s| s.as_bytes().to_vec())
            }) {
                secret = Some(s);
                break;
            }
        }
        self.cache.insert(app.clone(), secret.clone());
        secret
    }
}
