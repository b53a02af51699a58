//! Templates: a mutable head per template and immutable numbered versions under it.
//!
//! Versions outlive their head (deleting a template or its app removes only the head), so a
//! message accepted against version 3 can still render after the template is edited or gone.

use super::{from_json, to_json};
use crate::db::{Param, Row, SqlDb, Tx, conflict_or, db_err, params};
use herald_domain::{AccountId, AppId, ChannelKind, Template, TemplateId, TemplateVersion};
use herald_ports::StoreError;

/// How a head is looked up.
pub(super) enum Key<'a> {
    Id(&'a TemplateId),
    Name(&'a str),
}

const HEAD_COLUMNS: &str = "id, app_id, name, channel, default_account_id, enabled, \
                            current_version, created_at, updated_at";

/// Inserts the head and its first version in one transaction.
pub(super) async fn create(
    db: &SqlDb,
    template: &Template,
    first: &TemplateVersion,
) -> Result<(), StoreError> {
    let mut tx = db.begin().await?;
    tx.execute(
        "INSERT INTO templates (id, app_id, name, channel, default_account_id, enabled,
             current_version, created_at, updated_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        params![
            template.id.as_str(),
            template.app_id.as_str(),
            &template.name,
            template.channel.as_str(),
            template.default_account_id.as_ref().map(AccountId::as_str),
            template.enabled,
            template.current_version,
            template.created_at,
            template.updated_at,
        ],
    )
    .await
    .map_err(conflict_or(format!(
        "template name {:?} is already used in app {} (or id {} exists)",
        template.name, template.app_id, template.id
    )))?;
    insert_version(&mut tx, template, first).await?;
    tx.commit().await
}

/// Appends `new_version` (when given), then replaces the head, in one transaction;
/// `created_at` stays as stored.
pub(super) async fn update(
    db: &SqlDb,
    template: &Template,
    new_version: Option<&TemplateVersion>,
) -> Result<(), StoreError> {
    let mut tx = db.begin().await?;
    let exists = tx
        .fetch_all(
            "SELECT 1 FROM templates WHERE id = ? AND app_id = ? FOR UPDATE",
            params![template.id.as_str(), template.app_id.as_str()],
        )
        .await
        .map_err(db_err("locking a template"))?;
    if exists.is_empty() {
        return Err(StoreError::NotFound(format!("template {}", template.id)));
    }
    if let Some(version) = new_version {
        insert_version(&mut tx, template, version).await?;
    }
    tx.execute(
        "UPDATE templates SET name = ?, channel = ?, default_account_id = ?, enabled = ?,
                current_version = ?, updated_at = ?
          WHERE id = ? AND app_id = ?",
        params![
            &template.name,
            template.channel.as_str(),
            template.default_account_id.as_ref().map(AccountId::as_str),
            template.enabled,
            template.current_version,
            template.updated_at,
            template.id.as_str(),
            template.app_id.as_str(),
        ],
    )
    .await
    .map_err(conflict_or(format!(
        "template name {:?} is already used in app {}",
        template.name, template.app_id
    )))?;
    tx.commit().await
}

async fn insert_version(
    tx: &mut Tx,
    template: &Template,
    version: &TemplateVersion,
) -> Result<(), StoreError> {
    if version.template_id != template.id || version.version != template.current_version {
        return Err(StoreError::Conflict(format!(
            "version {} of {} must be the template's current_version {} of {}",
            version.version, version.template_id, template.current_version, template.id
        )));
    }
    tx.execute(
        "INSERT INTO template_versions (template_id, version, app_id, variables, content,
             created_at)
         VALUES (?, ?, ?, ?, ?, ?)",
        params![
            version.template_id.as_str(),
            version.version,
            template.app_id.as_str(),
            to_json(&version.variables)?,
            to_json(&version.content)?,
            version.created_at,
        ],
    )
    .await
    .map_err(conflict_or(format!(
        "version {} of template {} already exists",
        version.version, version.template_id
    )))?;
    Ok(())
}

pub(super) async fn get(
    db: &SqlDb,
    app: &AppId,
    key: Key<'_>,
) -> Result<Option<Template>, StoreError> {
    let (column, value) = match key {
        Key::Id(id) => ("id", id.as_str()),
        Key::Name(name) => ("name", name),
    };
    let sql = format!("SELECT {HEAD_COLUMNS} FROM templates WHERE app_id = ? AND {column} = ?");
    let rows = db
        .fetch_all(&sql, params![app.as_str(), value])
        .await
        .map_err(db_err("reading a template"))?;
    rows.first().map(decode_head).transpose()
}

pub(super) async fn list(db: &SqlDb, app: &AppId) -> Result<Vec<Template>, StoreError> {
    let sql = format!("SELECT {HEAD_COLUMNS} FROM templates WHERE app_id = ? ORDER BY name");
    db.fetch_all(&sql, params![app.as_str()])
        .await
        .map_err(db_err("listing templates"))?
        .iter()
        .map(decode_head)
        .collect()
}

/// One version (`Some(n)`) or all of them, oldest first.
pub(super) async fn versions(
    db: &SqlDb,
    app: &AppId,
    id: &TemplateId,
    only: Option<u32>,
) -> Result<Vec<TemplateVersion>, StoreError> {
    let mut sql = String::from(
        "SELECT template_id, version, variables, content, created_at FROM template_versions
          WHERE app_id = ? AND template_id = ?",
    );
    let mut params: Vec<Param> = params![app.as_str(), id.as_str()];
    if let Some(version) = only {
        sql.push_str(" AND version = ?");
        params.push(version.into());
    }
    sql.push_str(" ORDER BY version");
    db.fetch_all(&sql, params)
        .await
        .map_err(db_err("reading template versions"))?
        .iter()
        .map(|row| {
            Ok(TemplateVersion {
                template_id: TemplateId::from_trusted(row.text(0)?),
                version: u32_column(row, 1)?,
                variables: from_json("template_versions.variables", &row.text(2)?)?,
                content: from_json("template_versions.content", &row.text(3)?)?,
                created_at: row.int(4)?,
            })
        })
        .collect()
}

pub(super) async fn delete(db: &SqlDb, app: &AppId, id: &TemplateId) -> Result<bool, StoreError> {
    let deleted = db
        .execute(
            "DELETE FROM templates WHERE id = ? AND app_id = ?",
            params![id.as_str(), app.as_str()],
        )
        .await
        .map_err(db_err("deleting a template"))?;
    Ok(deleted > 0)
}

fn u32_column(row: &Row, index: usize) -> Result<u32, StoreError> {
    let value = row.int(index)?;
    u32::try_from(value).map_err(|_| StoreError::Corrupt(format!("version {value}")))
}

fn decode_head(row: &Row) -> Result<Template, StoreError> {
    let channel = row.text(3)?;
    Ok(Template {
        id: TemplateId::from_trusted(row.text(0)?),
        app_id: AppId::from_trusted(row.text(1)?),
        name: row.text(2)?,
        channel: ChannelKind::parse(&channel)
            .ok_or_else(|| StoreError::Corrupt(format!("template channel {channel:?}")))?,
        default_account_id: row.opt_text(4)?.map(AccountId::from_trusted),
        enabled: row.bool(5)?,
        current_version: u32_column(row, 6)?,
        created_at: row.int(7)?,
        updated_at: row.int(8)?,
    })
}
