//! Templates: a mutable head per template and immutable numbered versions under it.
//!
//! Versions outlive their head (deleting a template or its app removes only the head), so a
//! message accepted against version 3 can still render after the template is edited or gone.

use super::{column, conflict_or, execute, from_json, query_all, to_json};
use herald_domain::{AccountId, AppId, ChannelKind, Template, TemplateId, TemplateVersion};
use herald_ports::StoreError;
use rusqlite::{Connection, Row, params};

/// How a head is looked up.
pub(super) enum Key<'a> {
    Id(&'a TemplateId),
    Name(&'a str),
}

const HEAD_COLUMNS: &str = "id, app_id, name, channel, default_account_id, enabled, \
                            current_version, created_at, updated_at";

pub(super) fn create(
    conn: &Connection,
    template: &Template,
    first: &TemplateVersion,
) -> Result<(), StoreError> {
    conn.prepare_cached(
        "INSERT INTO templates (id, app_id, name, channel, default_account_id, enabled,
             current_version, created_at, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
    )
    .and_then(|mut stmt| {
        stmt.execute(params![
            template.id.as_str(),
            template.app_id.as_str(),
            template.name,
            template.channel.as_str(),
            template.default_account_id.as_ref().map(AccountId::as_str),
            template.enabled,
            template.current_version,
            template.created_at,
            template.updated_at,
        ])
    })
    .map_err(conflict_or(format!(
        "template name {:?} is already used in app {} (or id {} exists)",
        template.name, template.app_id, template.id
    )))?;
    insert_version(conn, template, first)
}

/// Appends `new_version` (when given), then replaces the head; `created_at` stays as stored.
pub(super) fn update(
    conn: &Connection,
    template: &Template,
    new_version: Option<&TemplateVersion>,
) -> Result<(), StoreError> {
    if get(conn, &template.app_id, Key::Id(&template.id))?.is_none() {
        return Err(StoreError::NotFound(format!("template {}", template.id)));
    }
    if let Some(version) = new_version {
        insert_version(conn, template, version)?;
    }
    conn.prepare_cached(
        "UPDATE templates SET name = ?3, channel = ?4, default_account_id = ?5, enabled = ?6,
                current_version = ?7, updated_at = ?8
          WHERE id = ?1 AND app_id = ?2",
    )
    .and_then(|mut stmt| {
        stmt.execute(params![
            template.id.as_str(),
            template.app_id.as_str(),
            template.name,
            template.channel.as_str(),
            template.default_account_id.as_ref().map(AccountId::as_str),
            template.enabled,
            template.current_version,
            template.updated_at,
        ])
    })
    .map_err(conflict_or(format!(
        "template name {:?} is already used in app {}",
        template.name, template.app_id
    )))?;
    Ok(())
}

fn insert_version(
    conn: &Connection,
    template: &Template,
    version: &TemplateVersion,
) -> Result<(), StoreError> {
    if version.template_id != template.id || version.version != template.current_version {
        return Err(StoreError::Conflict(format!(
            "version {} of {} must be the template's current_version {} of {}",
            version.version, version.template_id, template.current_version, template.id
        )));
    }
    let variables = to_json(&version.variables)?;
    let content = to_json(&version.content)?;
    conn.prepare_cached(
        "INSERT INTO template_versions (template_id, version, app_id, variables, content,
             created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )
    .and_then(|mut stmt| {
        stmt.execute(params![
            version.template_id.as_str(),
            version.version,
            template.app_id.as_str(),
            variables,
            content,
            version.created_at,
        ])
    })
    .map_err(conflict_or(format!(
        "version {} of template {} already exists",
        version.version, version.template_id
    )))?;
    Ok(())
}

pub(super) fn get(
    conn: &Connection,
    app: &AppId,
    key: Key<'_>,
) -> Result<Option<Template>, StoreError> {
    let (column, value) = match key {
        Key::Id(id) => ("id", id.as_str()),
        Key::Name(name) => ("name", name),
    };
    let sql = format!("SELECT {HEAD_COLUMNS} FROM templates WHERE app_id = ?1 AND {column} = ?2");
    Ok(query_all(conn, &sql, [app.as_str(), value], decode_head)?.pop())
}

pub(super) fn list(conn: &Connection, app: &AppId) -> Result<Vec<Template>, StoreError> {
    let sql = format!("SELECT {HEAD_COLUMNS} FROM templates WHERE app_id = ?1 ORDER BY name");
    query_all(conn, &sql, [app.as_str()], decode_head)
}

/// One version (`Some(n)`) or all of them, oldest first.
pub(super) fn versions(
    conn: &Connection,
    app: &AppId,
    id: &TemplateId,
    only: Option<u32>,
) -> Result<Vec<TemplateVersion>, StoreError> {
    query_all(
        conn,
        "SELECT template_id, version, variables, content, created_at FROM template_versions
          WHERE app_id = ?1 AND template_id = ?2 AND (?3 IS NULL OR version = ?3)
          ORDER BY version",
        params![app.as_str(), id.as_str(), only],
        |row| {
            Ok(TemplateVersion {
                template_id: TemplateId::from_trusted(column::<String>(row, 0)?),
                version: column(row, 1)?,
                variables: from_json("template_versions.variables", &column::<String>(row, 2)?)?,
                content: from_json("template_versions.content", &column::<String>(row, 3)?)?,
                created_at: column(row, 4)?,
            })
        },
    )
}

pub(super) fn delete(conn: &Connection, app: &AppId, id: &TemplateId) -> Result<bool, StoreError> {
    let deleted = execute(
        conn,
        "DELETE FROM templates WHERE id = ?1 AND app_id = ?2",
        [id.as_str(), app.as_str()],
        "deleting a template",
    )?;
    Ok(deleted > 0)
}

fn decode_head(row: &Row<'_>) -> Result<Template, StoreError> {
    let channel: String = column(row, 3)?;
    Ok(Template {
        id: TemplateId::from_trusted(column::<String>(row, 0)?),
        app_id: AppId::from_trusted(column::<String>(row, 1)?),
        name: column(row, 2)?,
        channel: ChannelKind::parse(&channel)
            .ok_or_else(|| StoreError::Corrupt(format!("template channel {channel:?}")))?,
        default_account_id: column::<Option<String>>(row, 4)?.map(AccountId::from_trusted),
        enabled: column(row, 5)?,
        current_version: column(row, 6)?,
        created_at: column(row, 7)?,
        updated_at: column(row, 8)?,
    })
}
