//! Apps (tenants) and their API keys. Only the admin key manages apps; an app key may list,
//! create and revoke the keys of its own app. A new key's secret is returned once.

use super::check_name;
use crate::engine::{Engine, Principal, hash_key};
use crate::error::EngineError;
use herald_domain::time::now_ms;
use herald_domain::{ApiKey, ApiKeyId, App, AppId};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AppInput {
    pub name: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeyInput {
    #[serde(default = "default_key_name")]
    pub name: String,
}

fn default_key_name() -> String {
    "default".into()
}

/// A freshly created key: the only time its secret is visible.
#[derive(Debug, Clone, Serialize)]
pub struct NewApiKey {
    pub id: ApiKeyId,
    pub app_id: AppId,
    pub name: String,
    pub key: String,
    #[serde(with = "herald_domain::time::rfc3339_millis")]
    pub created_at: i64,
}

impl Engine {
    pub async fn create_app(&self, who: &Principal, input: AppInput) -> Result<App, EngineError> {
        require_admin(who)?;
        let mut errors = Vec::new();
        check_name(&input.name, &mut errors);
        if !errors.is_empty() {
            return Err(EngineError::Invalid(errors));
        }
        let app = App {
            id: AppId::generate(),
            name: input.name,
            created_at: now_ms(),
        };
        self.deps.catalog.create_app(&app).await?;
        Ok(app)
    }

    pub async fn list_apps(&self, who: &Principal) -> Result<Vec<App>, EngineError> {
        require_admin(who)?;
        Ok(self.deps.catalog.list_apps().await?)
    }

    pub async fn delete_app(&self, who: &Principal, id: &str) -> Result<(), EngineError> {
        require_admin(who)?;
        let id = AppId::parse(id).ok_or(EngineError::NotFound("app"))?;
        for key in self.deps.catalog.list_api_keys(&id).await? {
            self.forget_key(&key.hash);
        }
        if self.deps.catalog.delete_app(&id).await? {
            Ok(())
        } else {
            Err(EngineError::NotFound("app"))
        }
    }

    pub async fn create_api_key(
        &self,
        who: &Principal,
        app: &str,
        input: KeyInput,
    ) -> Result<NewApiKey, EngineError> {
        let app = self.key_scope(who, app).await?;
        let mut errors = Vec::new();
        check_name(&input.name, &mut errors);
        if !errors.is_empty() {
            return Err(EngineError::Invalid(errors));
        }
        let secret = format!("hk_{}", hex::encode(rand::random::<[u8; 24]>()));
        let key = ApiKey {
            id: ApiKeyId::generate(),
            app_id: app.clone(),
            name: input.name,
            hash: hash_key(&secret),
            created_at: now_ms(),
        };
        self.deps.catalog.create_api_key(&key).await?;
        Ok(NewApiKey {
            id: key.id,
            app_id: app,
            name: key.name,
            key: secret,
            created_at: key.created_at,
        })
    }

    pub async fn list_api_keys(
        &self,
        who: &Principal,
        app: &str,
    ) -> Result<Vec<ApiKey>, EngineError> {
        let app = self.key_scope(who, app).await?;
        Ok(self.deps.catalog.list_api_keys(&app).await?)
    }

    pub async fn delete_api_key(
        &self,
        who: &Principal,
        app: &str,
        key: &str,
    ) -> Result<(), EngineError> {
        let app = self.key_scope(who, app).await?;
        let id = ApiKeyId::parse(key).ok_or(EngineError::NotFound("API key"))?;
        let keys = self.deps.catalog.list_api_keys(&app).await?;
        let Some(found) = keys.into_iter().find(|k| k.id == id) else {
            return Err(EngineError::NotFound("API key"));
        };
        self.deps.catalog.delete_api_key(&app, &id).await?;
        self.forget_key(&found.hash);
        Ok(())
    }

    /// The app whose keys `who` may manage: any app for the admin, its own for an app key.
    async fn key_scope(&self, who: &Principal, app: &str) -> Result<AppId, EngineError> {
        let id = AppId::parse(app).ok_or(EngineError::NotFound("app"))?;
        match who {
            Principal::App(own) if *own != id => Err(EngineError::NotFound("app")),
            Principal::App(_) => Ok(id),
            Principal::Admin => self
                .deps
                .catalog
                .get_app(&id)
                .await?
                .map(|a| a.id)
                .ok_or(EngineError::NotFound("app")),
        }
    }
}

fn require_admin(who: &Principal) -> Result<(), EngineError> {
    if *who == Principal::Admin {
        Ok(())
    } else {
        Err(EngineError::Forbidden)
    }
}
