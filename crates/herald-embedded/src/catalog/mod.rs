//! The embedded catalog: apps, API keys, templates (versioned) and channel accounts in the
//! shared SQLite database.
//!
//! Every query except key authentication has `app_id` in its `WHERE`, so one app cannot
//! reach another's rows even by guessing ids. Uniqueness (key hash, template and account
//! names per app, template version numbers) is enforced by the schema and reported as
//! `StoreError::Conflict` naming what clashed; updating a missing row is `NotFound`.
//!
//! Module map: `schema` (DDL), `apps` (apps and keys), `templates` (heads and versions),
//! `accounts` (accounts and sealed secrets). Each holds the synchronous SQL; this module
//! routes the async port onto `Db::read` / `Db::write`.

mod accounts;
mod apps;
mod schema;
mod templates;

pub use schema::SCHEMA;

use crate::db::Db;
use async_trait::async_trait;
use herald_domain::account::SealedSecret;
use herald_domain::{
    Account, AccountId, ApiKey, ApiKeyId, App, AppId, Template, TemplateId, TemplateVersion,
};
use herald_ports::{Catalog, StoreError};
use rusqlite::Connection;

/// [`Catalog`] over the shared SQLite database.
#[derive(Clone)]
pub struct SqliteCatalog {
    /// The shared database: writes join its group commit, reads use its pool.
    db: Db,
}

impl SqliteCatalog {
    pub fn new(db: Db) -> Self {
        Self { db }
    }

    async fn read<R, F>(&self, f: F) -> Result<R, StoreError>
    where
        R: Send + 'static,
        F: FnOnce(&Connection) -> Result<R, StoreError> + Send + 'static,
    {
        self.db.read(f).await
    }

    async fn write<R, F>(&self, f: F) -> Result<R, StoreError>
    where
        R: Send + 'static,
        F: FnOnce(&Connection) -> Result<R, StoreError> + Send + 'static,
    {
        self.db.write(1, f).await
    }
}

#[async_trait]
impl Catalog for SqliteCatalog {
    async fn create_app(&self, app: &App) -> Result<(), StoreError> {
        let app = app.clone();
        self.write(move |c| apps::create_app(c, &app)).await
    }

    async fn get_app(&self, id: &AppId) -> Result<Option<App>, StoreError> {
        let id = id.clone();
        self.read(move |c| apps::get_app(c, &id)).await
    }

    async fn list_apps(&self) -> Result<Vec<App>, StoreError> {
        self.read(apps::list_apps).await
    }

    async fn delete_app(&self, id: &AppId) -> Result<bool, StoreError> {
        let id = id.clone();
        self.write(move |c| apps::delete_app(c, &id)).await
    }

    async fn create_api_key(&self, key: &ApiKey) -> Result<(), StoreError> {
        let key = key.clone();
        self.write(move |c| apps::create_api_key(c, &key)).await
    }

    async fn find_api_key(&self, hash: &str) -> Result<Option<ApiKey>, StoreError> {
        let hash = hash.to_owned();
        self.read(move |c| apps::find_api_key(c, &hash)).await
    }

    async fn list_api_keys(&self, app: &AppId) -> Result<Vec<ApiKey>, StoreError> {
        let app = app.clone();
        self.read(move |c| apps::list_api_keys(c, &app)).await
    }

    async fn delete_api_key(&self, app: &AppId, id: &ApiKeyId) -> Result<bool, StoreError> {
        let (app, id) = (app.clone(), id.clone());
        self.write(move |c| apps::delete_api_key(c, &app, &id))
            .await
    }

    async fn create_template(
        &self,
        template: &Template,
        first: &TemplateVersion,
    ) -> Result<(), StoreError> {
        let (template, first) = (template.clone(), first.clone());
        self.write(move |c| templates::create(c, &template, &first))
            .await
    }

    async fn update_template(
        &self,
        template: &Template,
        new_version: Option<&TemplateVersion>,
    ) -> Result<(), StoreError> {
        let (template, new_version) = (template.clone(), new_version.cloned());
        self.write(move |c| templates::update(c, &template, new_version.as_ref()))
            .await
    }

    async fn get_template(
        &self,
        app: &AppId,
        id: &TemplateId,
    ) -> Result<Option<Template>, StoreError> {
        let (app, id) = (app.clone(), id.clone());
        self.read(move |c| templates::get(c, &app, templates::Key::Id(&id)))
            .await
    }

    async fn get_template_by_name(
        &self,
        app: &AppId,
        name: &str,
    ) -> Result<Option<Template>, StoreError> {
        let (app, name) = (app.clone(), name.to_owned());
        self.read(move |c| templates::get(c, &app, templates::Key::Name(&name)))
            .await
    }

    async fn list_templates(&self, app: &AppId) -> Result<Vec<Template>, StoreError> {
        let app = app.clone();
        self.read(move |c| templates::list(c, &app)).await
    }

    async fn get_template_version(
        &self,
        app: &AppId,
        id: &TemplateId,
        version: u32,
    ) -> Result<Option<TemplateVersion>, StoreError> {
        let (app, id) = (app.clone(), id.clone());
        self.read(move |c| templates::versions(c, &app, &id, Some(version)).map(|mut v| v.pop()))
            .await
    }

    async fn list_template_versions(
        &self,
        app: &AppId,
        id: &TemplateId,
    ) -> Result<Vec<TemplateVersion>, StoreError> {
        let (app, id) = (app.clone(), id.clone());
        self.read(move |c| templates::versions(c, &app, &id, None))
            .await
    }

    async fn delete_template(&self, app: &AppId, id: &TemplateId) -> Result<bool, StoreError> {
        let (app, id) = (app.clone(), id.clone());
        self.write(move |c| templates::delete(c, &app, &id)).await
    }

    async fn create_account(
        &self,
        account: &Account,
        secret: Option<&SealedSecret>,
    ) -> Result<(), StoreError> {
        let (account, secret) = (account.clone(), secret.cloned());
        self.write(move |c| accounts::create(c, &account, secret.as_ref()))
            .await
    }

    async fn update_account(
        &self,
        account: &Account,
        secret: Option<&SealedSecret>,
    ) -> Result<(), StoreError> {
        let (account, secret) = (account.clone(), secret.cloned());
        self.write(move |c| accounts::update(c, &account, secret.as_ref()))
            .await
    }

    async fn get_account(
        &self,
        app: &AppId,
        id: &AccountId,
    ) -> Result<Option<Account>, StoreError> {
        let (app, id) = (app.clone(), id.clone());
        self.read(move |c| accounts::get(c, &app, &id)).await
    }

    async fn get_account_secret(
        &self,
        app: &AppId,
        id: &AccountId,
    ) -> Result<Option<SealedSecret>, StoreError> {
        let (app, id) = (app.clone(), id.clone());
        self.read(move |c| accounts::secret(c, &app, &id)).await
    }

    async fn list_accounts(&self, app: &AppId) -> Result<Vec<Account>, StoreError> {
        let app = app.clone();
        self.read(move |c| accounts::list(c, &app)).await
    }

    async fn delete_account(&self, app: &AppId, id: &AccountId) -> Result<bool, StoreError> {
        let (app, id) = (app.clone(), id.clone());
        self.write(move |c| accounts::delete(c, &app, &id)).await
    }
}

/// Wraps a SQLite error with what was being done.
fn sql_err(context: &'static str) -> impl Fn(rusqlite::Error) -> StoreError {
    move |e| StoreError::backend(context, e)
}

/// Maps a uniqueness violation to `Conflict(what)`, anything else to `Backend`.
fn conflict_or(what: String) -> impl FnOnce(rusqlite::Error) -> StoreError {
    move |e| match e.sqlite_error_code() {
        Some(rusqlite::ErrorCode::ConstraintViolation) => StoreError::Conflict(what),
        _ => StoreError::backend(what, e),
    }
}

fn to_json<T: serde::Serialize>(value: &T) -> Result<String, StoreError> {
    serde_json::to_string(value).map_err(|e| StoreError::backend("encoding JSON", e))
}

fn from_json<T: serde::de::DeserializeOwned>(column: &str, text: &str) -> Result<T, StoreError> {
    serde_json::from_str(text).map_err(|e| StoreError::Corrupt(format!("{column}: {e}")))
}

fn column<T: rusqlite::types::FromSql>(
    row: &rusqlite::Row<'_>,
    index: usize,
) -> Result<T, StoreError> {
    row.get(index).map_err(sql_err("decoding a catalog row"))
}

/// Runs a cached query and decodes every row.
fn query_all<T>(
    conn: &Connection,
    sql: &str,
    params: impl rusqlite::Params,
    decode: impl Fn(&rusqlite::Row<'_>) -> Result<T, StoreError>,
) -> Result<Vec<T>, StoreError> {
    let mut stmt = conn
        .prepare_cached(sql)
        .map_err(sql_err("preparing a catalog query"))?;
    let mut rows = stmt
        .query(params)
        .map_err(sql_err("querying the catalog"))?;
    let mut out = Vec::new();
    while let Some(row) = rows.next().map_err(sql_err("querying the catalog"))? {
        out.push(decode(row)?);
    }
    Ok(out)
}

/// Runs a cached statement; returns the number of rows it changed.
fn execute(
    conn: &Connection,
    sql: &str,
    params: impl rusqlite::Params,
    context: &'static str,
) -> Result<usize, StoreError> {
    conn.prepare_cached(sql)
        .and_then(|mut stmt| stmt.execute(params))
        .map_err(sql_err(context))
}
