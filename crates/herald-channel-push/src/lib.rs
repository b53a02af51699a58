//! Herald's app push channels — FCM, APNs, JPush, Getui — and their simulators.
//!
//! | module | what |
//! |---|---|
//! | [`fcm`] | Firebase Cloud Messaging HTTP v1 (service-account JWT → OAuth token) |
//! | [`apns`] | Apple Push Notification service over HTTP/2 (ES256 provider token) |
//! | [`jpush`] | JPush v3 (Basic auth; up to 1,000 registration ids per call) |
//! | [`getui`] | Getui UniPush v2 (signed auth → token) |
//! | [`dead_tokens`] | [`DeadTokens`]: unregistered device tokens fail fast (per node, in memory) |
//! | [`simkit`] | simulator state and the `/_sim` admin routes shared by the four simulators |
//! | [`common`] | settings, timeouts and outcomes shared by the four clients |
//!
//! [`channels`] builds the four channels (sharing one [`DeadTokens`]); [`sim_routes`] serves
//! the four simulators under `/sim/fcm`, `/sim/apns`, `/sim/jpush`, `/sim/getui`. Push
//! providers send no delivery receipts, so there are no callback routes: success is
//! `Delivered`. Every account config also takes `timeout_ms` (default 10,000): a timed-out
//! request is `Unknown`, never resent blindly. The error tables are in each module's doc.
//!
//! ## FCM (`fcm`)
//! | where | key | meaning |
//! |---|---|---|
//! | config | `endpoint` | base URL, default `https://fcm.googleapis.com`; `/sim/fcm` for the simulator |
//! | config | `project_id` | Firebase project; default the service account's `project_id` |
//! | config | `token_uri` | overrides the service account's `token_uri` (`/sim/fcm/token` for the simulator) |
//! | secret | the service-account JSON itself | `client_email`, `private_key` (PEM PKCS#8 RSA), `private_key_id`?, `token_uri`?, `project_id`? |
//! | template | title, body | `notification.title` / `notification.body` |
//! | template | `fields` | all of them as FCM `data` (string values) |
//!
//! Simulator account: name = project id, secret = the service account's PEM public key.
//!
//! ## APNs (`apns`)
//! | where | key | meaning |
//! |---|---|---|
//! | config | `endpoint` | base URL; default production `https://api.push.apple.com`, `/sim/apns` for the simulator (spoken as h2c) |
//! | config | `sandbox` | `true` → `https://api.sandbox.push.apple.com` when no endpoint is set |
//! | config | `topic` | required: the app's bundle id (`apns-topic`) |
//! | config | `push_type` | `apns-push-type`, default `alert` |
//! | config | `priority` | `apns-priority`, default 10 |
//! | config | `expiration_secs` | `apns-expiration` = now + this; absent → header not sent |
//! | secret | `team_id`, `key_id`, `private_key` | Team ID, Key ID and the `.p8` key (PEM PKCS#8 P-256) |
//! | template | title, body | `aps.alert.title` / `aps.alert.body` |
//! | template | `sound`, `badge`, `category`, `thread_id` | into `aps` (`badge` as a number, `thread_id` as `thread-id`) |
//! | template | `collapse_id` | `apns-collapse-id` header |
//! | template | other `fields` | custom top-level payload keys |
//!
//! Simulator account: name = Team ID, secret = the key's PEM public key.
//!
//! ## JPush (`jpush`)
//! | where | key | meaning |
//! |---|---|---|
//! | config | `endpoint` | base URL, default `https://api.jpush.cn`; `/sim/jpush` for the simulator |
//! | config (or secret) | `app_key` | the appKey |
//! | config | `apns_production` | `options.apns_production`, default `false` |
//! | secret | `master_secret` | the masterSecret |
//! | template | title, body | `notification.alert`, `android.title`, `ios.alert {title, body}` |
//! | template | `fields` | `extras` of android and ios |
//!
//! Simulator account: name = appKey, secret = masterSecret.
//!
//! ## Getui (`getui`)
//! | where | key | meaning |
//! |---|---|---|
//! | config | `endpoint` | base URL, default `https://restapi.getui.com`; `/sim/getui` for the simulator |
//! | config (or secret) | `app_id`, `app_key` | the appId and appKey |
//! | secret | `master_secret` | the masterSecret |
//! | template | title, body | `notification.title` (the body's first 50 characters when absent) / `notification.body` |
//! | template | `click_type` (default `startapp`), `url`, `intent`, `payload` | the click action |
//!
//! Simulator account: name = appId, secret = `"<appkey>:<mastersecret>"`.

pub mod apns;
pub mod common;
pub mod dead_tokens;
pub mod fcm;
pub mod getui;
pub mod jpush;
pub mod simkit;

pub use apns::ApnsChannel;
pub use dead_tokens::DeadTokens;
pub use fcm::FcmChannel;
pub use getui::GetuiChannel;
pub use jpush::JpushChannel;

use axum::{Extension, Router};
use herald_channels::ChannelDeps;
use herald_channels::sim::SimState;
use herald_ports::Channel;
use std::sync::Arc;

/// The push channels, sharing `deps` and one per-node [`DeadTokens`] set.
pub fn channels(deps: &ChannelDeps) -> Vec<Arc<dyn Channel>> {
    channels_with(deps, Arc::new(DeadTokens::default()))
}

/// [`channels`] with a given dead-token set (tests inspect it).
pub fn channels_with(deps: &ChannelDeps, dead: Arc<DeadTokens>) -> Vec<Arc<dyn Channel>> {
    vec![
        Arc::new(FcmChannel::new(deps.clone(), dead.clone())),
        Arc::new(ApnsChannel::new(deps.clone(), dead.clone())),
        Arc::new(JpushChannel::new(deps.clone(), dead.clone())),
        Arc::new(GetuiChannel::new(deps.clone(), dead)),
    ]
}

/// All push simulators, under `/sim/<provider>/...`, sharing one provider-side state
/// (issued access tokens, unregistered device tokens).
pub fn sim_routes() -> Router<SimState> {
    Router::new()
        .merge(fcm::sim::routes())
        .merge(apns::sim::routes())
        .merge(jpush::sim::routes())
        .merge(getui::sim::routes())
        .layer(Extension(Arc::new(simkit::PushSimState::default())))
}
