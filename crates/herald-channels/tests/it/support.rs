//! Test harness: the webhook simulator on a random port (through [`herald_channels::testing`]),
//! webhook accounts and messages, and raw webhook POSTs.

use herald_channels::WebhookChannel;
use herald_channels::sim::{SimConfig, SimState};
use herald_channels::testing::{self, RawResponse, SimServer};
use herald_domain::ChannelKind;
use herald_ports::{AccountContext, OutboundMessage};
use serde_json::{Value, json};
use std::ops::Deref;

pub use herald_channels::testing::{send_one, unix_now};

/// The webhook simulator serving on a random local port until dropped.
pub struct Sim {
    pub server: SimServer,
    /// The simulator state, to compare the HTTP view with the in-process one.
    pub state: SimState,
}

impl Deref for Sim {
    type Target = SimServer;

    fn deref(&self) -> &SimServer {
        &self.server
    }
}

impl Sim {
    pub async fn start() -> Self {
        Self::start_with(SimConfig::default()).await
    }

    pub async fn start_with(config: SimConfig) -> Self {
        let state = SimState::new(config);
        let server = SimServer::start(state.clone(), []).await;
        Self { server, state }
    }

    /// The channel, resolving relative account URLs against this simulator.
    pub fn channel(&self) -> WebhookChannel {
        WebhookChannel::new(self.http.clone(), Some(self.base.clone()))
    }

    /// A raw webhook POST to sim account `name` with the given headers (JSON content type).
    pub async fn post_raw(
        &self,
        name: &str,
        headers: &[(&str, String)],
        body: &str,
    ) -> RawResponse {
        let mut all = vec![("content-type", "application/json".to_owned())];
        all.extend_from_slice(headers);
        self.server
            .post_raw(&format!("/sim/webhook/{name}"), &all, body.to_owned())
            .await
    }
}

/// A webhook account with the given config and optional `signing_secret`.
pub fn account(config: Value, secret: Option<&str>) -> AccountContext {
    let secret = secret.map(|s| json!({ "signing_secret": s }));
    testing::account(ChannelKind::Webhook, config, secret)
}

/// An account pointing at the simulator account `name` through a relative URL.
pub fn sim_account(name: &str, secret: Option<&str>) -> AccountContext {
    account(json!({ "url": format!("/sim/webhook/{name}") }), secret)
}

/// A message to `to` about order 42.
pub fn message(to: &str) -> OutboundMessage {
    testing::message(
        to,
        Some("Order shipped"),
        "Your order 42 is on its way",
        &[("order", "42")],
    )
}
