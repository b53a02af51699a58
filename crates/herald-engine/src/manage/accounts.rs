//! Channel accounts: provider settings (public), secrets (write-only, sealed with the master
//! key), rate limit and retry schedule.

use super::check_name;
use super::templates::conflict_on_name;
use crate::engine::Engine;
use crate::error::EngineError;
use herald_domain::time::now_ms;
use herald_domain::{Account, AccountId, AppId, ChannelKind, FieldError, RateLimit, RetrySchedule};
use serde::Deserialize;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AccountInput {
    pub name: String,
    pub channel: String,
    #[serde(default = "empty_object")]
    pub config: serde_json::Value,
    /// Write-only credentials (JSON object); never returned.
    #[serde(default)]
    pub secret: Option<serde_json::Value>,
    #[serde(default)]
    pub rate_limit_per_second: u32,
    #[serde(default)]
    pub retry: Option<RetrySchedule>,
    #[serde(default = "yes")]
    pub enabled: bool,
}

fn empty_object() -> serde_json::Value {
    serde_json::json!({})
}

fn yes() -> bool {
    true
}

/// A partial update; absent fields keep their value, `secret` replaces the stored one.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AccountPatch {
    pub name: Option<String>,
    pub config: Option<serde_json::Value>,
    pub secret: Option<serde_json::Value>,
    pub rate_limit_per_second: Option<u32>,
    pub retry: Option<RetrySchedule>,
    pub enabled: Option<bool>,
}

fn check_config(
    channel: ChannelKind,
    config: &serde_json::Value,
    secret: Option<&serde_json::Value>,
    errors: &mut Vec<FieldError>,
) {
    if !config.is_object() {
        errors.push(FieldError::new("config", "must be a JSON object"));
        return;
    }
    if secret.is_some_and(|s| !s.is_object()) {
        errors.push(FieldError::new("secret", "must be a JSON object"));
    }
    if channel == ChannelKind::Webhook {
        match config.get("url").and_then(|u| u.as_str()) {
            Some(u)
                if u.starts_with("http://") || u.starts_with("https://") || u.starts_with('/') => {}
            _ => errors.push(FieldError::new(
                "config.url",
                "must be an http(s) URL, or a path on this node (e.g. /sim/webhook/sandbox)",
            )),
        }
    }
}

impl Engine {
    pub async fn create_account(
        &self,
        app: &AppId,
        input: AccountInput,
    ) -> Result<Account, EngineError> {
        let mut errors = Vec::new();
        check_name(&input.name, &mut errors);
        let channel = ChannelKind::parse(&input.channel);
        match channel {
            Some(c) => check_config(c, &input.config, input.secret.as_ref(), &mut errors),
            None => errors.push(FieldError::new("channel", "is not a known channel")),
        }
        let retry = input.retry.unwrap_or_default();
        if let Err(e) = retry.validate("retry") {
            errors.push(e);
        }
        let (Some(channel), true) = (channel, errors.is_empty()) else {
            return Err(EngineError::Invalid(errors));
        };
        let now = now_ms();
        let sealed = input
            .secret
            .as_ref()
            .map(|s| self.deps.keys.seal(s.to_string().as_bytes()));
        let account = Account {
            id: AccountId::generate(),
            app_id: app.clone(),
            name: input.name,
            channel,
            config: input.config,
            rate_limit: RateLimit {
                per_second: input.rate_limit_per_second,
            },
            retry,
            enabled: input.enabled,
            has_secret: sealed.is_some(),
            created_at: now,
            updated_at: now,
        };
        self.deps
            .catalog
            .create_account(&account, sealed.as_ref())
            .await
            .map_err(conflict_on_name)?;
        Ok(account)
    }

    pub async fn update_account(
        &self,
        app: &AppId,
        id: &str,
        patch: AccountPatch,
    ) -> Result<Account, EngineError> {
        let mut account = self.get_account(app, id).await?;
        let mut errors = Vec::new();
        if let Some(name) = patch.name {
            check_name(&name, &mut errors);
            account.name = name;
        }
        if let Some(config) = patch.config {
            account.config = config;
        }
        check_config(
            account.channel,
            &account.config,
            patch.secret.as_ref(),
            &mut errors,
        );
        if let Some(r) = patch.retry {
            if let Err(e) = r.validate("retry") {
                errors.push(e);
            }
            account.retry = r;
        }
        if let Some(rate) = patch.rate_limit_per_second {
            account.rate_limit = RateLimit { per_second: rate };
        }
        if let Some(enabled) = patch.enabled {
            account.enabled = enabled;
        }
        if !errors.is_empty() {
            return Err(EngineError::Invalid(errors));
        }
        let sealed = patch
            .secret
            .as_ref()
            .map(|s| self.deps.keys.seal(s.to_string().as_bytes()));
        account.has_secret |= sealed.is_some();
        account.updated_at = now_ms();
        self.deps
            .catalog
            .update_account(&account, sealed.as_ref())
            .await
            .map_err(conflict_on_name)?;
        self.forget_account(app, &account.id);
        Ok(account)
    }

    pub async fn get_account(&self, app: &AppId, id: &str) -> Result<Account, EngineError> {
        let id = AccountId::parse(id).ok_or(EngineError::NotFound("account"))?;
        self.deps
            .catalog
            .get_account(app, &id)
            .await?
            .ok_or(EngineError::NotFound("account"))
    }

    pub async fn list_accounts(&self, app: &AppId) -> Result<Vec<Account>, EngineError> {
        Ok(self.deps.catalog.list_accounts(app).await?)
    }

    pub async fn delete_account(&self, app: &AppId, id: &str) -> Result<(), EngineError> {
        let id = AccountId::parse(id).ok_or(EngineError::NotFound("account"))?;
        if !self.deps.catalog.delete_account(app, &id).await? {
            return Err(EngineError::NotFound("account"));
        }
        self.forget_account(app, &id);
        Ok(())
    }
}
