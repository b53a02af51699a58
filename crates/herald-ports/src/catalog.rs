//! The catalog port: management data (apps, API keys, templates, channel accounts).
//!
//! Every lookup except key authentication is scoped by app id, so one app can never read
//! another's rows through a forgotten filter. Templates are versioned: an update that changes
//! content or variables appends a version and moves `current_version`.

use crate::error::StoreError;
use async_trait::async_trait;
use herald_domain::account::SealedSecret;
use herald_domain::{
    Account, AccountId, ApiKey, ApiKeyId, App, AppId, Template, TemplateId, TemplateVersion,
};

#[async_trait]
pub trait Catalog: Send + Sync + 'static {
    // --- apps and keys ---------------------------------------------------------------
    async fn create_app(&self, app: &App) -> Result<(), StoreError>;
    async fn get_app(&self, id: &AppId) -> Result<Option<App>, StoreError>;
    async fn list_apps(&self) -> Result<Vec<App>, StoreError>;
    /// Deletes the app and everything it owns in the catalog; false if it did not exist.
    async fn delete_app(&self, id: &AppId) -> Result<bool, StoreError>;

    async fn create_api_key(&self, key: &ApiKey) -> Result<(), StoreError>;
    /// Authentication: the key whose secret hashes to `hash`.
    async fn find_api_key(&self, hash: &str) -> Result<Option<ApiKey>, StoreError>;
    async fn list_api_keys(&self, app: &AppId) -> Result<Vec<ApiKey>, StoreError>;
    async fn delete_api_key(&self, app: &AppId, id: &ApiKeyId) -> Result<bool, StoreError>;

    // --- templates ------------------------------------------------------------------
    /// Creates the template with its first version; `Conflict` if the name is taken in the app.
    async fn create_template(
        &self,
        template: &Template,
        first: &TemplateVersion,
    ) -> Result<(), StoreError>;
    /// Replaces the head; appends `new_version` first when given (its number must be
    /// `template.current_version`). `NotFound` if the template does not exist.
    async fn update_template(
        &self,
        template: &Template,
        new_version: Option<&TemplateVersion>,
    ) -> Result<(), StoreError>;
    async fn get_template(
        &self,
        app: &AppId,
        id: &TemplateId,
    ) -> Result<Option<Template>, StoreError>;
    async fn get_template_by_name(
        &self,
        app: &AppId,
        name: &str,
    ) -> Result<Option<Template>, StoreError>;
    async fn list_templates(&self, app: &AppId) -> Result<Vec<Template>, StoreError>;
    async fn get_template_version(
        &self,
        app: &AppId,
        id: &TemplateId,
        version: u32,
    ) -> Result<Option<TemplateVersion>, StoreError>;
    async fn list_template_versions(
        &self,
        app: &AppId,
        id: &TemplateId,
    ) -> Result<Vec<TemplateVersion>, StoreError>;
    /// Deletes the head; versions stay so that queued messages can still render.
    async fn delete_template(&self, app: &AppId, id: &TemplateId) -> Result<bool, StoreError>;

    // --- channel accounts -----------------------------------------------------------
    /// `Conflict` if the name is taken in the app.
    async fn create_account(
        &self,
        account: &Account,
        secret: Option<&SealedSecret>,
    ) -> Result<(), StoreError>;
    /// Replaces the account; `secret: None` keeps the stored secret. `NotFound` if absent.
    async fn update_account(
        &self,
        account: &Account,
        secret: Option<&SealedSecret>,
    ) -> Result<(), StoreError>;
    async fn get_account(&self, app: &AppId, id: &AccountId)
    -> Result<Option<Account>, StoreError>;
    async fn get_account_secret(
        &self,
        app: &AppId,
        id: &AccountId,
    ) -> Result<Option<SealedSecret>, StoreError>;
    async fn list_accounts(&self, app: &AppId) -> Result<Vec<Account>, StoreError>;
    async fn delete_account(&self, app: &AppId, id: &AccountId) -> Result<bool, StoreError>;
}
