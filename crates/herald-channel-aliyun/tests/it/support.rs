//! Test harness: the simulator and the receipt endpoint on one random local port (through
//! [`herald_channels::testing`]), accounts, messages, and raw signed RPC calls.

use herald_channel_aliyun::AliyunSmsChannel;
use herald_channel_aliyun::sms::config::{API_VERSION, SignatureVersion};
use herald_channel_aliyun::sms::rpc::{SigningInput, nonce, sign};
use herald_channels::CallbackDeps;
use herald_channels::sim::{SimState, router_with};
use herald_channels::testing::{self, MemoryDirectory, RawResponse, RecordingSink, SimServer};
use herald_domain::ChannelKind;
use herald_ports::{AccountContext, OutboundMessage, ProviderReceipt};
use serde_json::{Value, json};
use std::ops::Deref;
use std::sync::Arc;
use std::time::Duration;

pub use herald_channels::testing::send_one;

pub const AK: &str = "LTAI-test-key";
pub const SECRET: &str = "test-secret-密钥";
pub const SIGN_NAME: &str = "阿里云短信测试";
pub const TEMPLATE: &str = "SMS_154950909";

/// Simulator + receipt endpoint on a random port until dropped.
pub struct Sim {
    pub server: SimServer,
    pub sink: Arc<RecordingSink>,
}

impl Deref for Sim {
    type Target = SimServer;

    fn deref(&self) -> &SimServer {
        &self.server
    }
}

impl Sim {
    /// Starts with the AccessKey [`AK`] / [`SECRET`] configured, receipts pushed back here.
    pub async fn start() -> Self {
        let sink = Arc::new(RecordingSink::default());
        let callbacks = herald_channel_aliyun::callback_routes(CallbackDeps {
            receipts: sink.clone(),
            // the Aliyun receipt endpoint needs no account lookup
            accounts: Arc::new(MemoryDirectory::default()),
        });
        let app = router_with(SimState::default(), [herald_channel_aliyun::sim_routes()])
            .merge(callbacks);
        let sim = Self {
            server: SimServer::serve(app).await,
            sink,
        };
        sim.put_account(AK, json!({ "secret": SECRET })).await;
        sim.settings(json!({ "receipts_url": "/callbacks/aliyun/sms/report", "duplicate_receipt_rate": 0.0, "receipt_delay_ms": 20 }))
            .await;
        sim
    }

    pub fn channel(&self) -> AliyunSmsChannel {
        AliyunSmsChannel::new(self.deps())
    }

    /// Replaces the simulator settings (`PUT /sim/aliyun/settings`).
    pub async fn settings(&self, settings: Value) -> Value {
        self.put("/sim/aliyun/settings", settings).await
    }

    /// Messages the simulator accepted, oldest first.
    pub async fn messages(&self) -> Vec<Value> {
        self.get("/sim/aliyun/messages?limit=1000").await["items"]
            .as_array()
            .unwrap()
            .clone()
    }

    /// Waits until at least `n` receipts arrived (or 3 s passed) and returns them.
    pub async fn wait_receipts(&self, n: usize) -> Vec<ProviderReceipt> {
        self.sink.wait_for(n, Duration::from_secs(3)).await
    }

    /// One signed RPC call built by hand, with a chosen timestamp and nonce.
    #[allow(clippy::too_many_arguments)]
    pub async fn raw_call(
        &self,
        version: SignatureVersion,
        credentials: (&str, &str),
        action: &str,
        query: &[(&str, &str)],
        form: &[(&str, &str)],
        timestamp: &str,
        nonce: &str,
    ) -> RawResponse {
        let owned = |pairs: &[(&str, &str)]| {
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect::<Vec<_>>()
        };
        let (query, form) = (owned(query), owned(form));
        let host = self.base.trim_start_matches("http://").to_owned();
        let signed = sign(&SigningInput {
            signature: version,
            method: "POST",
            host: &host,
            action,
            version: API_VERSION,
            query: &query,
            form: &form,
            timestamp,
            nonce,
            access_key_id: credentials.0,
            access_key_secret: credentials.1,
        });
        self.send_signed(&signed.path_and_query, &signed.headers, signed.body)
            .await
    }

    /// POSTs a prepared request to the simulator's RPC endpoint.
    pub async fn send_signed(
        &self,
        path_and_query: &str,
        headers: &[(String, String)],
        body: Vec<u8>,
    ) -> RawResponse {
        let headers: Vec<(&str, String)> = headers
            .iter()
            .map(|(name, value)| (name.as_str(), value.clone()))
            .collect();
        let path = format!("/sim/aliyun{path_and_query}");
        self.post_raw(&path, &headers, body).await
    }
}

pub fn now_timestamp() -> String {
    herald_channel_aliyun::sms::clock::acs_timestamp(herald_domain::time::now_ms())
}

pub fn fresh_nonce() -> String {
    nonce()
}

/// An account of the simulator AccessKey with extra `config` keys.
pub fn account(extra: Value) -> AccountContext {
    account_with_secret(extra, AK, SECRET)
}

pub fn account_with_secret(extra: Value, access_key_id: &str, secret: &str) -> AccountContext {
    let mut config = json!({ "endpoint": "/sim/aliyun", "sign_name": SIGN_NAME });
    for (k, v) in extra.as_object().cloned().unwrap_or_default() {
        config[k] = v;
    }
    let secret = json!({ "access_key_id": access_key_id, "access_key_secret": secret });
    testing::account(ChannelKind::AliyunSms, config, Some(secret))
}

/// A message to `to` using `template` with a `code` parameter.
pub fn message(to: &str, template: &str, code: &str) -> OutboundMessage {
    testing::message(
        to,
        None,
        &format!("您的验证码是 {code}"),
        &[
            ("template_code", template),
            ("param.code", code),
            ("param.product", "阿里 云*~"),
        ],
    )
}
