//! The [`Engine`]: the ports it runs on, its settings, caches and authentication.
//! One `Arc<Engine>` is shared by the API handlers, the dispatcher and the result consumer.

use crate::cache::TtlCache;
use crate::crypto::MasterKeys;
use crate::error::EngineError;
use crate::metrics::EngineMetrics;
use crate::render::CompiledTemplate;
use herald_domain::{AccountId, ApiKey, AppId, ChannelKind, Template, TemplateId};
use herald_ports::{
    AccountContext, Catalog, Channel, Intake, Queue, RateLimiter, Records, SecretValue,
};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

/// The ports and services the engine runs on.
#[derive(Clone)]
pub struct EngineDeps {
    pub catalog: Arc<dyn Catalog>,
    pub records: Arc<dyn Records>,
    pub queue: Arc<dyn Queue>,
    pub intake: Arc<dyn Intake>,
    pub channels: HashMap<ChannelKind, Arc<dyn Channel>>,
    pub limiter: Arc<dyn RateLimiter>,
    pub keys: MasterKeys,
    /// Where the backend can record results and ack in one unit, the dispatcher settles
    /// through it instead of publishing to the result topic.
    pub settle: Option<Arc<dyn herald_ports::Settle>>,
}

/// Tunables, from the `[dispatcher]`, `[idempotency]` and `[security]` config sections.
#[derive(Debug, Clone)]
pub struct EngineSettings {
    /// SHA-256 hex of the admin key; `None` disables admin operations.
    pub admin_key_hash: Option<String>,
    pub idempotency_ttl: Duration,
    /// Concurrent provider calls.
    pub workers: usize,
    /// Tasks fetched per queue read.
    pub receive_batch: usize,
    /// Most receivers of `POST /v1/messages`.
    pub max_receivers: usize,
    /// Most items of `POST /v1/messages/batch`.
    pub max_batch_items: usize,
    /// How long catalog rows are cached (other nodes' edits show up within this).
    pub cache_ttl: Duration,
    /// Longest a leased task may wait for its account's rate permit; beyond it the task goes
    /// back to the queue, due when a permit will be free. Keep it well under the lease.
    pub max_rate_wait: Duration,
}

impl Default for EngineSettings {
    fn default() -> Self {
        Self {
            admin_key_hash: None,
            idempotency_ttl: Duration::from_secs(24 * 3600),
            workers: 64,
            receive_batch: 256,
            max_receivers: 1000,
            max_batch_items: 10_000,
            cache_ttl: Duration::from_secs(2),
            max_rate_wait: Duration::from_secs(15),
        }
    }
}

/// Who is calling.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Principal {
    /// The operator: manages apps and their keys.
    Admin,
    /// An app key: sees only its app's data.
    App(AppId),
}

impl Principal {
    pub fn app(&self) -> Result<&AppId, EngineError> {
        match self {
            Self::App(id) => Ok(id),
            Self::Admin => Err(EngineError::Forbidden),
        }
    }
}

/// SHA-256 hex, the form API keys are stored and compared in.
pub fn hash_key(key: &str) -> String {
    hex::encode(Sha256::digest(key.as_bytes()))
}

pub struct Engine {
    pub(crate) deps: EngineDeps,
    pub(crate) settings: EngineSettings,
    pub(crate) metrics: Arc<EngineMetrics>,
    key_cache: TtlCache<String, Option<ApiKey>>,
    template_cache: TtlCache<(AppId, String), Template>,
    compiled_cache: TtlCache<(TemplateId, u32), Arc<CompiledTemplate>>,
    account_cache: TtlCache<(AppId, AccountId), Arc<AccountContext>>,
}

impl Engine {
    pub fn new(deps: EngineDeps, settings: EngineSettings) -> Arc<Self> {
        let ttl = settings.cache_ttl;
        Arc::new(Self {
            deps,
            metrics: Arc::new(EngineMetrics::default()),
            key_cache: TtlCache::new(ttl, 100_000),
            template_cache: TtlCache::new(ttl, 100_000),
            compiled_cache: TtlCache::new(Duration::MAX, 100_000),
            account_cache: TtlCache::new(ttl, 100_000),
            settings,
        })
    }

    pub fn metrics(&self) -> &Arc<EngineMetrics> {
        &self.metrics
    }

    pub fn settings(&self) -> &EngineSettings {
        &self.settings
    }

    pub fn deps(&self) -> &EngineDeps {
        &self.deps
    }

    /// Resolves a bearer key to a principal; `Unauthenticated` for unknown keys.
    pub async fn authenticate(&self, bearer: &str) -> Result<Principal, EngineError> {
        let hash = hash_key(bearer);
        if self.settings.admin_key_hash.as_deref() == Some(hash.as_str()) {
            return Ok(Principal::Admin);
        }
        let key = match self.key_cache.get(&hash) {
            Some(k) => k,
            None => {
                let k = self.deps.catalog.find_api_key(&hash).await?;
                self.key_cache.insert(hash, k.clone());
                k
            }
        };
        key.map(|k| Principal::App(k.app_id))
            .ok_or(EngineError::Unauthenticated)
    }

    pub(crate) fn forget_key(&self, hash: &str) {
        self.key_cache.invalidate(&hash.to_owned());
    }

    /// A template by id (`tpl_…`) or by name.
    pub(crate) async fn resolve_template(
        &self,
        app: &AppId,
        reference: &str,
    ) -> Result<Option<Template>, EngineError> {
        let key = (app.clone(), reference.to_owned());
        if let Some(t) = self.template_cache.get(&key) {
            return Ok(Some(t));
        }
        let found = match TemplateId::parse(reference) {
            Some(id) => self.deps.catalog.get_template(app, &id).await?,
            None => {
                self.deps
                    .catalog
                    .get_template_by_name(app, reference)
                    .await?
            }
        };
        if let Some(t) = &found {
            self.template_cache.insert(key, t.clone());
        }
        Ok(found)
    }

    pub(crate) fn forget_template(&self, t: &Template) {
        self.template_cache
            .invalidate(&(t.app_id.clone(), t.id.to_string()));
        self.template_cache
            .invalidate(&(t.app_id.clone(), t.name.clone()));
    }

    /// A compiled template version (immutable, cached for good).
    pub(crate) async fn compiled(
        &self,
        app: &AppId,
        id: &TemplateId,
        version: u32,
    ) -> Result<Arc<CompiledTemplate>, EngineError> {
        let key = (id.clone(), version);
        if let Some(c) = self.compiled_cache.get(&key) {
            return Ok(c);
        }
        let v = self
            .deps
            .catalog
            .get_template_version(app, id, version)
            .await?
            .ok_or(EngineError::NotFound("template version"))?;
        let compiled = CompiledTemplate::compile(v).map_err(|errs| {
            EngineError::Internal(format!(
                "stored template {id} v{version} does not compile: {errs:?}"
            ))
        })?;
        let compiled = Arc::new(compiled);
        self.compiled_cache.insert(key, compiled.clone());
        Ok(compiled)
    }

    /// An account with its secret opened, for channels.
    pub(crate) async fn account_context(
        &self,
        app: &AppId,
        id: &AccountId,
    ) -> Result<Option<Arc<AccountContext>>, EngineError> {
        let key = (app.clone(), id.clone());
        if let Some(c) = self.account_cache.get(&key) {
            return Ok(Some(c));
        }
        let Some(account) = self.deps.catalog.get_account(app, id).await? else {
            return Ok(None);
        };
        let secret = match self.deps.catalog.get_account_secret(app, id).await? {
            Some(sealed) => {
                let plain = self
                    .deps
                    .keys
                    .open(&sealed)
                    .map_err(|e| EngineError::Internal(format!("account {id}: {e}")))?;
                let value = serde_json::from_slice(&plain)
                    .map_err(|e| EngineError::Internal(format!("account {id} secret: {e}")))?;
                Some(SecretValue(value))
            }
            None => None,
        };
        let ctx = Arc::new(AccountContext { account, secret });
        self.account_cache.insert(key, ctx.clone());
        Ok(Some(ctx))
    }

    pub(crate) fn forget_account(&self, app: &AppId, id: &AccountId) {
        self.account_cache.invalidate(&(app.clone(), id.clone()));
    }
}
