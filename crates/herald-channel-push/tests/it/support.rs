//! Test harness: the push simulators on a random port (HTTP/1.1 and h2c, through
//! [`herald_channels::testing`]), channels wired to them, accounts, messages and test keys
//! generated at run time.

use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::signature::KeyPair;
use base64::Engine;
use herald_channel_push::DeadTokens;
use herald_channels::ChannelDeps;
use herald_channels::sim::SimState;
use herald_channels::testing::{self, SimServer};
use herald_domain::ChannelKind;
use herald_ports::{AccountContext, Channel, OutboundMessage, SendResult};
use serde_json::{Value, json};
use std::ops::Deref;
use std::sync::{Arc, OnceLock};

pub use herald_channels::testing::{post_raw_with, send_one, unix_now};

/// The simulators serving on a random local port until dropped, with channel dependencies
/// (one token cache) and a dead-token set shared by every channel this harness builds.
pub struct Sim {
    pub server: SimServer,
    pub deps: ChannelDeps,
    pub dead: Arc<DeadTokens>,
}

impl Deref for Sim {
    type Target = SimServer;

    fn deref(&self) -> &SimServer {
        &self.server
    }
}

impl Sim {
    pub async fn start() -> Self {
        let server =
            SimServer::start(SimState::default(), [herald_channel_push::sim_routes()]).await;
        Self {
            deps: server.deps(),
            dead: Arc::new(DeadTokens::default()),
            server,
        }
    }

    /// The channel of `kind`, built as `herald serve` builds it, sharing this harness's token
    /// cache and dead-token set.
    pub fn channel(&self, kind: ChannelKind) -> Arc<dyn Channel> {
        herald_channel_push::channels_with(&self.deps, self.dead.clone())
            .into_iter()
            .find(|c| c.kind() == kind)
            .unwrap()
    }

    /// What the simulator of `provider` accepted for `account`, oldest first.
    pub async fn received(&self, provider: &str, account: &str) -> Vec<Value> {
        let items = self
            .get(&format!("/sim/{provider}/_sim/received/{account}"))
            .await;
        items["items"].as_array().unwrap().clone()
    }

    pub async fn set_unregistered(&self, provider: &str, account: &str, tokens: &[&str]) {
        let path = format!("/sim/{provider}/_sim/unregistered/{account}");
        self.put(&path, json!({ "tokens": tokens })).await;
    }

    /// Expires the provider access tokens of `account`; how many were live.
    pub async fn expire_tokens(&self, provider: &str, account: &str) -> u64 {
        let path = format!("/sim/{provider}/_sim/expire-tokens/{account}");
        self.post(&path, Value::Null).await["expired"]
            .as_u64()
            .unwrap()
    }
}

/// An HTTP/2-only (h2c prior knowledge) client, as APNs needs.
pub fn h2c_client() -> reqwest::Client {
    reqwest::Client::builder()
        .http2_prior_knowledge()
        .build()
        .unwrap()
}

fn pem(label: &str, der: &[u8]) -> String {
    let encoded = base64::engine::general_purpose::STANDARD.encode(der);
    let lines: Vec<_> = encoded
        .as_bytes()
        .chunks(64)
        .map(|c| std::str::from_utf8(c).unwrap())
        .collect();
    format!(
        "-----BEGIN {label}-----\n{}\n-----END {label}-----\n",
        lines.join("\n")
    )
}

/// A test-only key pair as PEM: (PKCS#8 private key, SPKI public key).
#[derive(Clone)]
pub struct TestKeys {
    pub private_pem: String,
    pub public_pem: String,
}

/// An RSA-2048 key pair generated once per test run (FCM service accounts).
pub fn rsa_keys() -> &'static TestKeys {
    static KEYS: OnceLock<TestKeys> = OnceLock::new();
    KEYS.get_or_init(rsa_pair)
}

/// A second RSA pair, for "signed with the wrong key".
pub fn other_rsa_keys() -> &'static TestKeys {
    static KEYS: OnceLock<TestKeys> = OnceLock::new();
    KEYS.get_or_init(rsa_pair)
}

fn rsa_pair() -> TestKeys {
    let pair = aws_lc_rs::rsa::KeyPair::generate(aws_lc_rs::rsa::KeySize::Rsa2048).unwrap();
    TestKeys {
        private_pem: pem("PRIVATE KEY", pair.as_der().unwrap().as_ref()),
        public_pem: pem("PUBLIC KEY", pair.public_key().as_der().unwrap().as_ref()),
    }
}

/// A P-256 key pair (APNs `.p8` keys), generated per call (cheap).
pub fn ec_keys() -> TestKeys {
    let alg = &aws_lc_rs::signature::ECDSA_P256_SHA256_FIXED_SIGNING;
    let pair = aws_lc_rs::signature::EcdsaKeyPair::generate(alg).unwrap();
    TestKeys {
        private_pem: pem("PRIVATE KEY", pair.to_pkcs8v1().unwrap().as_ref()),
        public_pem: pem("PUBLIC KEY", pair.public_key().as_der().unwrap().as_ref()),
    }
}

/// An account of `kind` with the given config and secret.
pub fn account(kind: ChannelKind, config: Value, secret: Option<Value>) -> AccountContext {
    testing::account(kind, config, secret)
}

/// A message to `to` about order 42.
pub fn message(to: &str) -> OutboundMessage {
    message_with(to, Some("Order shipped"), "Your order 42 is on its way")
}

pub fn message_with(to: &str, title: Option<&str>, body: &str) -> OutboundMessage {
    testing::message(to, title, body, &[("order", "42")])
}

/// What the dispatcher does with `TokenExpired`: refresh, then resend once.
pub async fn send_like_dispatcher(
    channel: &dyn Channel,
    account: &AccountContext,
    message: &OutboundMessage,
) -> (SendResult, Option<SendResult>) {
    let first = send_one(channel, account, message).await;
    if first.outcome.class() != "token_expired" {
        return (first, None);
    }
    channel.refresh_token(account).await;
    let second = send_one(channel, account, message).await;
    (first, Some(second))
}
