//! Channel accounts and their sealed secrets.
//!
//! The secret is three columns (`secret_key_id`, `secret_nonce`, `secret_ciphertext`) read
//! only by [`secret`]; an account's `has_secret` is derived from their presence, never
//! stored, so it cannot disagree with what is there.

use super::{column, conflict_or, execute, from_json, query_all, to_json};
use herald_domain::account::SealedSecret;
use herald_domain::{Account, AccountId, AppId, ChannelKind, RateLimit};
use herald_ports::StoreError;
use rusqlite::{Connection, Row, params};

const COLUMNS: &str = "id, app_id, name, channel, config, rate_per_second, retry, enabled, \
                       secret_ciphertext IS NOT NULL, created_at, updated_at";

pub(super) fn create(
    conn: &Connection,
    account: &Account,
    secret: Option<&SealedSecret>,
) -> Result<(), StoreError> {
    let config = to_json(&account.config)?;
    let retry = to_json(&account.retry)?;
    conn.prepare_cached(
        "INSERT INTO accounts (id, app_id, name, channel, config, rate_per_second, retry,
             enabled, secret_key_id, secret_nonce, secret_ciphertext, created_at, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)",
    )
    .and_then(|mut stmt| {
        stmt.execute(params![
            account.id.as_str(),
            account.app_id.as_str(),
            account.name,
            account.channel.as_str(),
            config,
            account.rate_limit.per_second,
            retry,
            account.enabled,
            secret.map(|s| s.key_id.as_str()),
            secret.map(|s| s.nonce.as_slice()),
            secret.map(|s| s.ciphertext.as_slice()),
            account.created_at,
            account.updated_at,
        ])
    })
    .map_err(conflict_or(format!(
        "account name {:?} is already used in app {} (or id {} exists)",
        account.name, account.app_id, account.id
    )))?;
    Ok(())
}

/// Replaces the account's settings; `secret: None` keeps the stored secret, and
/// `created_at` stays as stored.
pub(super) fn update(
    conn: &Connection,
    account: &Account,
    secret: Option<&SealedSecret>,
) -> Result<(), StoreError> {
    let config = to_json(&account.config)?;
    let retry = to_json(&account.retry)?;
    let changed = conn
        .prepare_cached(
            "UPDATE accounts SET name = ?3, channel = ?4, config = ?5, rate_per_second = ?6,
                    retry = ?7, enabled = ?8, updated_at = ?9,
                    secret_key_id = coalesce(?10, secret_key_id),
                    secret_nonce = CASE WHEN ?10 IS NULL THEN secret_nonce ELSE ?11 END,
                    secret_ciphertext = CASE WHEN ?10 IS NULL THEN secret_ciphertext ELSE ?12 END
              WHERE id = ?1 AND app_id = ?2",
        )
        .and_then(|mut stmt| {
            stmt.execute(params![
                account.id.as_str(),
                account.app_id.as_str(),
                account.name,
                account.channel.as_str(),
                config,
                account.rate_limit.per_second,
                retry,
                account.enabled,
                account.updated_at,
                secret.map(|s| s.key_id.as_str()),
                secret.map(|s| s.nonce.as_slice()),
                secret.map(|s| s.ciphertext.as_slice()),
            ])
        })
        .map_err(conflict_or(format!(
            "account name {:?} is already used in app {}",
            account.name, account.app_id
        )))?;
    if changed == 0 {
        return Err(StoreError::NotFound(format!("account {}", account.id)));
    }
    Ok(())
}

pub(super) fn get(
    conn: &Connection,
    app: &AppId,
    id: &AccountId,
) -> Result<Option<Account>, StoreError> {
    let sql = format!("SELECT {COLUMNS} FROM accounts WHERE app_id = ?1 AND id = ?2");
    Ok(query_all(conn, &sql, [app.as_str(), id.as_str()], decode)?.pop())
}

pub(super) fn list(conn: &Connection, app: &AppId) -> Result<Vec<Account>, StoreError> {
    let sql = format!("SELECT {COLUMNS} FROM accounts WHERE app_id = ?1 ORDER BY name");
    query_all(conn, &sql, [app.as_str()], decode)
}

pub(super) fn secret(
    conn: &Connection,
    app: &AppId,
    id: &AccountId,
) -> Result<Option<SealedSecret>, StoreError> {
    let found = query_all(
        conn,
        "SELECT secret_key_id, secret_nonce, secret_ciphertext FROM accounts
          WHERE app_id = ?1 AND id = ?2 AND secret_ciphertext IS NOT NULL",
        [app.as_str(), id.as_str()],
        |row| {
            Ok(SealedSecret {
                key_id: column(row, 0)?,
                nonce: column(row, 1)?,
                ciphertext: column(row, 2)?,
            })
        },
    )?;
    Ok(found.into_iter().next())
}

pub(super) fn delete(conn: &Connection, app: &AppId, id: &AccountId) -> Result<bool, StoreError> {
    let deleted = execute(
        conn,
        "DELETE FROM accounts WHERE id = ?1 AND app_id = ?2",
        [id.as_str(), app.as_str()],
        "deleting an account",
    )?;
    Ok(deleted > 0)
}

fn decode(row: &Row<'_>) -> Result<Account, StoreError> {
    let channel: String = column(row, 3)?;
    Ok(Account {
        id: AccountId::from_trusted(column::<String>(row, 0)?),
        app_id: AppId::from_trusted(column::<String>(row, 1)?),
        name: column(row, 2)?,
        channel: ChannelKind::parse(&channel)
            .ok_or_else(|| StoreError::Corrupt(format!("account channel {channel:?}")))?,
        config: from_json("accounts.config", &column::<String>(row, 4)?)?,
        rate_limit: RateLimit {
            per_second: column(row, 5)?,
        },
        retry: from_json("accounts.retry", &column::<String>(row, 6)?)?,
        enabled: column(row, 7)?,
        has_secret: column(row, 8)?,
        created_at: column(row, 9)?,
        updated_at: column(row, 10)?,
    })
}
