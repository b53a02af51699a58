//! Apps and API keys. Keys are found by the hash of their secret (unique, indexed): the only
//! catalog lookup not scoped by app, because it is how a request learns its app.

use super::{column, conflict_or, execute, query_all, sql_err};
use herald_domain::{ApiKey, ApiKeyId, App, AppId};
use herald_ports::StoreError;
use rusqlite::{Connection, Row, params};

pub(super) fn create_app(conn: &Connection, app: &App) -> Result<(), StoreError> {
    conn.prepare_cached("INSERT INTO apps (id, name, created_at) VALUES (?1, ?2, ?3)")
        .map_err(sql_err("preparing the app insert"))?
        .execute(params![app.id.as_str(), app.name, app.created_at])
        .map_err(conflict_or(format!("app {} already exists", app.id)))?;
    Ok(())
}

pub(super) fn get_app(conn: &Connection, id: &AppId) -> Result<Option<App>, StoreError> {
    let mut found = query_all(
        conn,
        "SELECT id, name, created_at FROM apps WHERE id = ?1",
        [id.as_str()],
        decode_app,
    )?;
    Ok(found.pop())
}

pub(super) fn list_apps(conn: &Connection) -> Result<Vec<App>, StoreError> {
    query_all(
        conn,
        "SELECT id, name, created_at FROM apps ORDER BY id",
        [],
        decode_app,
    )
}

/// Deletes the app with its keys, template heads and accounts. Template versions stay, as
/// for a single template's deletion: tasks already queued may still need to render them.
pub(super) fn delete_app(conn: &Connection, id: &AppId) -> Result<bool, StoreError> {
    let id = id.as_str();
    execute(
        conn,
        "DELETE FROM api_keys WHERE app_id = ?1",
        [id],
        "deleting the app's keys",
    )?;
    execute(
        conn,
        "DELETE FROM templates WHERE app_id = ?1",
        [id],
        "deleting the app's templates",
    )?;
    execute(
        conn,
        "DELETE FROM accounts WHERE app_id = ?1",
        [id],
        "deleting the app's accounts",
    )?;
    let deleted = execute(
        conn,
        "DELETE FROM apps WHERE id = ?1",
        [id],
        "deleting an app",
    )?;
    Ok(deleted > 0)
}

fn decode_app(row: &Row<'_>) -> Result<App, StoreError> {
    Ok(App {
        id: AppId::from_trusted(column::<String>(row, 0)?),
        name: column(row, 1)?,
        created_at: column(row, 2)?,
    })
}

pub(super) fn create_api_key(conn: &Connection, key: &ApiKey) -> Result<(), StoreError> {
    conn.prepare_cached(
        "INSERT INTO api_keys (id, app_id, name, hash, created_at) VALUES (?1, ?2, ?3, ?4, ?5)",
    )
    .map_err(sql_err("preparing the key insert"))?
    .execute(params![
        key.id.as_str(),
        key.app_id.as_str(),
        key.name,
        key.hash,
        key.created_at
    ])
    .map_err(conflict_or(format!(
        "API key {} or its hash already exists",
        key.id
    )))?;
    Ok(())
}

pub(super) fn find_api_key(conn: &Connection, hash: &str) -> Result<Option<ApiKey>, StoreError> {
    let mut found = query_all(
        conn,
        "SELECT id, app_id, name, hash, created_at FROM api_keys WHERE hash = ?1",
        [hash],
        decode_key,
    )?;
    Ok(found.pop())
}

pub(super) fn list_api_keys(conn: &Connection, app: &AppId) -> Result<Vec<ApiKey>, StoreError> {
    query_all(
        conn,
        "SELECT id, app_id, name, hash, created_at FROM api_keys WHERE app_id = ?1 ORDER BY id",
        [app.as_str()],
        decode_key,
    )
}

pub(super) fn delete_api_key(
    conn: &Connection,
    app: &AppId,
    id: &ApiKeyId,
) -> Result<bool, StoreError> {
    let deleted = execute(
        conn,
        "DELETE FROM api_keys WHERE id = ?1 AND app_id = ?2",
        [id.as_str(), app.as_str()],
        "deleting an API key",
    )?;
    Ok(deleted > 0)
}

fn decode_key(row: &Row<'_>) -> Result<ApiKey, StoreError> {
    Ok(ApiKey {
        id: ApiKeyId::from_trusted(column::<String>(row, 0)?),
        app_id: AppId::from_trusted(column::<String>(row, 1)?),
        name: column(row, 2)?,
        hash: column(row, 3)?,
        created_at: column(row, 4)?,
    })
}
