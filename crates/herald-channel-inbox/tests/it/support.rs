//! A test bed: the SQLite inbox in a temp dir, the channel, and the user routes served on
//! 127.0.0.1:0.

use herald_channel_inbox::{
    InboxChannel, InboxHub, StaticUserSecrets, UserTokenVerifier, mint_user_token, user_routes,
};
use herald_domain::{
    Account, AccountId, AppId, ChannelKind, DeliveryId, MessageId, Outcome, RateLimit, Receiver,
    RetrySchedule,
};
use herald_embedded::inbox::{self, SqliteInbox};
use herald_embedded::{Db, DbOptions};
use herald_ports::{AccountContext, Channel, OutboundMessage, RenderedContent};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

pub const SECRET: &[u8] = b"user-token-secret-for-tests";

pub struct Bed {
    pub base: String,
    pub app: AppId,
    pub channel: InboxChannel,
    pub inbox: Arc<SqliteInbox>,
    pub hub: InboxHub,
    pub http: reqwest::Client,
    _dir: tempfile::TempDir,
}

impl Bed {
    pub async fn start() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let options = DbOptions {
            durable: false,
            ..Default::default()
        };
        let db = Db::open(&dir.path().join("herald.db"), &[inbox::SCHEMA], options).unwrap();
        let store = Arc::new(SqliteInbox::new(db));
        let hub = InboxHub::new();
        let app = AppId::generate();
        let secrets = StaticUserSecrets::new().with(app.clone(), SECRET);
        let router = user_routes(
            store.clone(),
            hub.clone(),
            UserTokenVerifier::new(Arc::new(secrets)),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, router).await });
        Self {
            base,
            channel: InboxChannel::new(store.clone(), hub.clone()),
            app,
            inbox: store,
            hub,
            http: reqwest::Client::new(),
            _dir: dir,
        }
    }

    pub fn token(&self, user: &str) -> String {
        mint_user_token(SECRET, &self.app, user, Duration::from_secs(600)).unwrap()
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// A delivery for `user` of this bed's app.
    pub fn message(&self, user: &str, body: &str) -> OutboundMessage {
        OutboundMessage {
            app_id: self.app.clone(),
            message_id: MessageId::generate(),
            delivery_id: DeliveryId::generate(),
            receiver: Receiver::to(user),
            content: RenderedContent {
                title: Some(format!("about {body}")),
                body: body.into(),
                fields: BTreeMap::from([("link".to_owned(), "/orders/7".to_owned())]),
            },
            attempt: 1,
        }
    }

    /// Sends through the channel and asserts every message was delivered.
    pub async fn deliver(&self, batch: &[OutboundMessage]) {
        let results = self.channel.send(&account(), batch).await;
        assert_eq!(results.len(), batch.len());
        for result in results {
            assert_eq!(result.outcome, Outcome::Delivered { provider_id: None });
        }
    }

    /// GET `path` as `user`, returning status and JSON body.
    pub async fn get(&self, user: &str, path: &str) -> (u16, serde_json::Value) {
        let response = self
            .http
            .get(self.url(path))
            .bearer_auth(self.token(user))
            .send()
            .await
            .unwrap();
        json_of(response).await
    }

    /// POST `path` as `user`.
    pub async fn post(&self, user: &str, path: &str) -> (u16, serde_json::Value) {
        let response = self
            .http
            .post(self.url(path))
            .bearer_auth(self.token(user))
            .send()
            .await
            .unwrap();
        json_of(response).await
    }
}

pub async fn json_of(response: reqwest::Response) -> (u16, serde_json::Value) {
    let status = response.status().as_u16();
    let text = response.text().await.unwrap();
    let body = if text.is_empty() {
        serde_json::Value::Null
    } else {
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("JSON body ({e}): {text}"))
    };
    (status, body)
}

/// An inbox account (it has no settings).
pub fn account() -> AccountContext {
    AccountContext {
        account: Account {
            id: AccountId::generate(),
            app_id: AppId::generate(),
            name: "inbox".into(),
            channel: ChannelKind::Inbox,
            config: serde_json::json!({}),
            rate_limit: RateLimit::default(),
            retry: RetrySchedule::default(),
            enabled: true,
            has_secret: false,
            created_at: 0,
            updated_at: 0,
        },
        secret: None,
    }
}
