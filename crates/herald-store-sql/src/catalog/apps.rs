//! Apps and API keys. Keys are found by the hash of their secret (unique, indexed): the only
//! catalog lookup not scoped by app, because it is how a request learns its app.

use crate::db::{Row, SqlDb, conflict_or, db_err, params};
use herald_domain::{ApiKey, ApiKeyId, App, AppId};
use herald_ports::StoreError;

pub(super) async fn create_app(db: &SqlDb, app: &App) -> Result<(), StoreError> {
    db.execute(
        "INSERT INTO apps (id, name, created_at) VALUES (?, ?, ?)",
        params![app.id.as_str(), &app.name, app.created_at],
    )
    .await
    .map_err(conflict_or(format!("app {} already exists", app.id)))?;
    Ok(())
}

pub(super) async fn get_app(db: &SqlDb, id: &AppId) -> Result<Option<App>, StoreError> {
    let rows = db
        .fetch_all(
            "SELECT id, name, created_at FROM apps WHERE id = ?",
            params![id.as_str()],
        )
        .await
        .map_err(db_err("reading an app"))?;
    rows.first().map(decode_app).transpose()
}

pub(super) async fn list_apps(db: &SqlDb) -> Result<Vec<App>, StoreError> {
    db.fetch_all(
        "SELECT id, name, created_at FROM apps ORDER BY id",
        params![],
    )
    .await
    .map_err(db_err("listing apps"))?
    .iter()
    .map(decode_app)
    .collect()
}

/// Deletes the app with its keys, template heads and accounts, in one transaction. Template
/// versions stay, as for a single template's deletion: queued tasks may still render them.
pub(super) async fn delete_app(db: &SqlDb, id: &AppId) -> Result<bool, StoreError> {
    let mut tx = db.begin().await?;
    for (sql, context) in [
        (
            "DELETE FROM api_keys WHERE app_id = ?",
            "deleting the app's keys",
        ),
        (
            "DELETE FROM templates WHERE app_id = ?",
            "deleting the app's templates",
        ),
        (
            "DELETE FROM accounts WHERE app_id = ?",
            "deleting the app's accounts",
        ),
    ] {
        tx.execute(sql, params![id.as_str()])
            .await
            .map_err(db_err(context))?;
    }
    let deleted = tx
        .execute("DELETE FROM apps WHERE id = ?", params![id.as_str()])
        .await
        .map_err(db_err("deleting an app"))?;
    tx.commit().await?;
    Ok(deleted > 0)
}

fn decode_app(row: &Row) -> Result<App, StoreError> {
    Ok(App {
        id: AppId::from_trusted(row.text(0)?),
        name: row.text(1)?,
        created_at: row.int(2)?,
    })
}

pub(super) async fn create_api_key(db: &SqlDb, key: &ApiKey) -> Result<(), StoreError> {
    db.execute(
        "INSERT INTO api_keys (id, app_id, name, hash, created_at) VALUES (?, ?, ?, ?, ?)",
        params![
            key.id.as_str(),
            key.app_id.as_str(),
            &key.name,
            &key.hash,
            key.created_at
        ],
    )
    .await
    .map_err(conflict_or(format!(
        "API key {} or its hash already exists",
        key.id
    )))?;
    Ok(())
}

const KEY_COLUMNS: &str = "id, app_id, name, hash, created_at";

pub(super) async fn find_api_key(db: &SqlDb, hash: &str) -> Result<Option<ApiKey>, StoreError> {
    let rows = db
        .fetch_all(
            &format!("SELECT {KEY_COLUMNS} FROM api_keys WHERE hash = ?"),
            params![hash],
        )
        .await
        .map_err(db_err("finding an API key"))?;
    rows.first().map(decode_key).transpose()
}

pub(super) async fn list_api_keys(db: &SqlDb, app: &AppId) -> Result<Vec<ApiKey>, StoreError> {
    db.fetch_all(
        &format!("SELECT {KEY_COLUMNS} FROM api_keys WHERE app_id = ? ORDER BY id"),
        params![app.as_str()],
    )
    .await
    .map_err(db_err("listing API keys"))?
    .iter()
    .map(decode_key)
    .collect()
}

pub(super) async fn delete_api_key(
    db: &SqlDb,
    app: &AppId,
    id: &ApiKeyId,
) -> Result<bool, StoreError> {
    let deleted = db
        .execute(
            "DELETE FROM api_keys WHERE id = ? AND app_id = ?",
            params![id.as_str(), app.as_str()],
        )
        .await
        .map_err(db_err("deleting an API key"))?;
    Ok(deleted > 0)
}

fn decode_key(row: &Row) -> Result<ApiKey, StoreError> {
    Ok(ApiKey {
        id: ApiKeyId::from_trusted(row.text(0)?),
        app_id: AppId::from_trusted(row.text(1)?),
        name: row.text(2)?,
        hash: row.text(3)?,
        created_at: row.int(4)?,
    })
}
