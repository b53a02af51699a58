//! Test harness: the robot simulators on a random port (through [`herald_channels::testing`]),
//! accounts and messages.

use herald_channel_robots::sim_routes;
use herald_channels::sim::SimState;
use herald_channels::testing::{self, SimServer};
use herald_domain::ChannelKind;
use herald_ports::{AccountContext, OutboundMessage};
use serde_json::Value;
use std::ops::Deref;

pub use herald_channels::testing::{send_one, unix_millis};

/// The robot simulators serving on a random local port until dropped.
pub struct Sim {
    pub server: SimServer,
}

impl Deref for Sim {
    type Target = SimServer;

    fn deref(&self) -> &SimServer {
        &self.server
    }
}

impl Sim {
    pub async fn start() -> Self {
        let server = SimServer::start(SimState::default(), [sim_routes()]).await;
        Self { server }
    }

    /// A raw JSON POST, whatever the status; returns the HTTP status and the JSON answer.
    pub async fn post_body(&self, path_and_query: &str, body: &str) -> (u16, Value) {
        let headers = [("content-type", "application/json".to_owned())];
        let (status, _, answer) = self
            .server
            .post_raw(path_and_query, &headers, body.to_owned())
            .await;
        (status, answer)
    }
}

/// An account of `channel` with the given config and secret.
pub fn account(channel: ChannelKind, config: Value, secret: Option<Value>) -> AccountContext {
    testing::account(channel, config, secret)
}

/// A message with a title, as robots and email always render one.
pub fn message(to: &str, title: &str, body: &str, fields: &[(&str, &str)]) -> OutboundMessage {
    testing::message(to, Some(title), body, fields)
}
