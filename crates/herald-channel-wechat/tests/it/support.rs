//! Test harness: simulators and the callback endpoint on a random port (through
//! [`herald_channels::testing`]), with a recording receipt sink and an in-memory account
//! directory behind the callbacks.

use herald_channel_wechat::{callback_routes, sim_routes};
use herald_channels::CallbackDeps;
use herald_channels::sim::{SimAccountConfig, SimConfig, SimSecret, SimState, router_with};
use herald_channels::testing::{self, MemoryDirectory, RecordingSink, SimServer};
use herald_domain::ChannelKind;
use herald_ports::{AccountContext, OutboundMessage, ProviderReceipt};
use serde_json::Value;
use std::collections::BTreeMap;
use std::ops::Deref;
use std::sync::Arc;
use std::time::Duration;

pub use herald_channels::testing::{send_one, unix_now};

/// Simulators plus Herald's callback endpoint on one random local port, until dropped.
pub struct Harness {
    pub server: SimServer,
    pub sink: Arc<RecordingSink>,
    pub directory: Arc<MemoryDirectory>,
}

impl Deref for Harness {
    type Target = SimServer;

    fn deref(&self) -> &SimServer {
        &self.server
    }
}

/// Sim accounts with secrets: `(name, secret)`.
pub async fn start(accounts: &[(&str, &str)]) -> Harness {
    let config = SimConfig {
        accounts: accounts
            .iter()
            .map(|(name, secret)| {
                let account = SimAccountConfig {
                    secret: Some(SimSecret((*secret).to_owned())),
                    ..SimAccountConfig::default()
                };
                ((*name).to_owned(), account)
            })
            .collect::<BTreeMap<_, _>>(),
    };
    let sink = Arc::new(RecordingSink::default());
    let directory = Arc::new(MemoryDirectory::default());
    let callbacks = callback_routes(CallbackDeps {
        receipts: sink.clone(),
        accounts: directory.clone(),
    });
    let app = router_with(SimState::new(config), [sim_routes()]).merge(callbacks);
    Harness {
        server: SimServer::serve(app).await,
        sink,
        directory,
    }
}

impl Harness {
    /// Makes `account` known to the callback endpoint.
    pub fn register(&self, account: &AccountContext) {
        self.directory.register(account);
    }

    /// `POST path` with a JSON body, asserting 200; the JSON answer.
    pub async fn post_json(&self, path: &str, body: Value) -> Value {
        self.server.post(path, body).await
    }

    /// Waits up to 5 s for `n` receipts.
    pub async fn receipts(&self, n: usize) -> Vec<ProviderReceipt> {
        let receipts = self.sink.wait_for(n, Duration::from_secs(5)).await;
        assert!(
            receipts.len() >= n,
            "expected {n} receipts, got {receipts:?}"
        );
        receipts
    }
}

/// An account of `kind` with the given config and secret.
pub fn account(kind: ChannelKind, config: Value, secret: Value) -> AccountContext {
    testing::account(kind, config, Some(secret))
}

pub fn message(
    to: &str,
    title: Option<&str>,
    body: &str,
    fields: &[(&str, &str)],
) -> OutboundMessage {
    testing::message(to, title, body, fields)
}
