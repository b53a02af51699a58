//! [`SqlCatalog`]: apps, API keys, templates (versioned) and channel accounts in SQL.
//!
//! Every query except key authentication has `app_id` in its `WHERE`, so one app cannot
//! reach another's rows even by guessing ids. Uniqueness (key hash, template and account
//! names per app, template version numbers) is enforced by the schema and reported as
//! `StoreError::Conflict`; updating a missing row is `NotFound`. Writes that touch two
//! tables (a template head and its version, an app and what it owns) run in one
//! transaction, so a failed step leaves nothing behind.
//!
//! Module map: `apps` (apps and keys), `templates` (heads and versions), `accounts`
//! (accounts and sealed secrets). The SQL is the same on both databases.

mod accounts;
mod apps;
mod templates;

use crate::db::SqlDb;
use async_trait::async_trait;
use herald_domain::account::SealedSecret;
use herald_domain::{
    Account, AccountId, ApiKey, ApiKeyId, App, AppId, Template, TemplateId, TemplateVersion,
};
use herald_ports::{Catalog, StoreError};

/// [`Catalog`] over PostgreSQL or MySQL/MariaDB.
#[derive(Clone, Debug)]
pub struct SqlCatalog {
    /// The shared pool.
    db: SqlDb,
}

impl SqlCatalog {
    /// A catalog over a migrated database (see [`crate::migrate`]).
    pub fn new(db: SqlDb) -> Self {
        Self { db }
    }
}

#[async_trait]
impl Catalog for SqlCatalog {
    async fn create_app(&self, app: &App) -> Result<(), StoreError> {
        apps::create_app(&self.db, app).await
    }

    async fn get_app(&self, id: &AppId) -> Result<Option<App>, StoreError> {
        apps::get_app(&self.db, id).await
    }

    async fn list_apps(&self) -> Result<Vec<App>, StoreError> {
        apps::list_apps(&self.db).await
    }

    async fn delete_app(&self, id: &AppId) -> Result<bool, StoreError> {
        apps::delete_app(&self.db, id).await
    }

    async fn create_api_key(&self, key: &ApiKey) -> Result<(), StoreError> {
        apps::create_api_key(&self.db, key).await
    }

    async fn find_api_key(&self, hash: &str) -> Result<Option<ApiKey>, StoreError> {
        apps::find_api_key(&self.db, hash).await
    }

    async fn list_api_keys(&self, app: &AppId) -> Result<Vec<ApiKey>, StoreError> {
        apps::list_api_keys(&self.db, app).await
    }

    async fn delete_api_key(&self, app: &AppId, id: &ApiKeyId) -> Result<bool, StoreError> {
        apps::delete_api_key(&self.db, app, id).await
    }

    async fn create_template(
        &self,
        template: &Template,
        first: &TemplateVersion,
    ) -> Result<(), StoreError> {
        templates::create(&self.db, template, first).await
    }

    async fn update_template(
        &self,
        template: &Template,
        new_version: Option<&TemplateVersion>,
    ) -> Result<(), StoreError> {
        templates::update(&self.db, template, new_version).await
    }

    async fn get_template(
        &self,
        app: &AppId,
        id: &TemplateId,
    ) -> Result<Option<Template>, StoreError> {
        templates::get(&self.db, app, templates::Key::Id(id)).await
    }

    async fn get_template_by_name(
        &self,
        app: &AppId,
        name: &str,
    ) -> Result<Option<Template>, StoreError> {
        templates::get(&self.db, app, templates::Key::Name(name)).await
    }

    async fn list_templates(&self, app: &AppId) -> Result<Vec<Template>, StoreError> {
        templates::list(&self.db, app).await
    }

    async fn get_template_version(
        &self,
        app: &AppId,
        id: &TemplateId,
        version: u32,
    ) -> Result<Option<TemplateVersion>, StoreError> {
        Ok(templates::versions(&self.db, app, id, Some(version))
            .await?
            .pop())
    }

    async fn list_template_versions(
        &self,
        app: &AppId,
        id: &TemplateId,
    ) -> Result<Vec<TemplateVersion>, StoreError> {
        templates::versions(&self.db, app, id, None).await
    }

    async fn delete_template(&self, app: &AppId, id: &TemplateId) -> Result<bool, StoreError> {
        templates::delete(&self.db, app, id).await
    }

    async fn create_account(
        &self,
        account: &Account,
        secret: Option<&SealedSecret>,
    ) -> Result<(), StoreError> {
        accounts::create(&self.db, account, secret).await
    }

    async fn update_account(
        &self,
        account: &Account,
        secret: Option<&SealedSecret>,
    ) -> Result<(), StoreError> {
        accounts::update(&self.db, account, secret).await
    }

    async fn get_account(
        &self,
        app: &AppId,
        id: &AccountId,
    ) -> Result<Option<Account>, StoreError> {
        accounts::get(&self.db, app, id).await
    }

    async fn get_account_secret(
        &self,
        app: &AppId,
        id: &AccountId,
    ) -> Result<Option<SealedSecret>, StoreError> {
        accounts::secret(&self.db, app, id).await
    }

    async fn list_accounts(&self, app: &AppId) -> Result<Vec<Account>, StoreError> {
        accounts::list(&self.db, app).await
    }

    async fn delete_account(&self, app: &AppId, id: &AccountId) -> Result<bool, StoreError> {
        accounts::delete(&self.db, app, id).await
    }
}

fn to_json<T: serde::Serialize>(value: &T) -> Result<String, StoreError> {
    serde_json::to_string(value).map_err(|e| StoreError::backend("encoding JSON", e))
}

fn from_json<T: serde::de::DeserializeOwned>(column: &str, text: &str) -> Result<T, StoreError> {
    serde_json::from_str(text).map_err(|e| StoreError::Corrupt(format!("{column}: {e}")))
}
