//! Channel accounts and their sealed secrets.
//!
//! The secret is three columns (`secret_key_id`, `secret_nonce`, `secret_ciphertext`) read
//! only by [`secret`]; an account's `has_secret` is derived from their presence, never
//! stored, so it cannot disagree with what is there.

use super::{from_json, to_json};
use crate::db::{Param, Row, SqlDb, conflict_or, db_err, params};
use herald_domain::account::SealedSecret;
use herald_domain::{Account, AccountId, AppId, ChannelKind, RateLimit};
use herald_ports::StoreError;

const COLUMNS: &str = "id, app_id, name, channel, config, rate_per_second, retry, enabled, \
                       secret_ciphertext IS NOT NULL, created_at, updated_at";

pub(super) async fn create(
    db: &SqlDb,
    account: &Account,
    secret: Option<&SealedSecret>,
) -> Result<(), StoreError> {
    db.execute(
        "INSERT INTO accounts (id, app_id, name, channel, config, rate_per_second, retry,
             enabled, secret_key_id, secret_nonce, secret_ciphertext, created_at, updated_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        params![
            account.id.as_str(),
            account.app_id.as_str(),
            &account.name,
            account.channel.as_str(),
            to_json(&account.config)?,
            account.rate_limit.per_second,
            to_json(&account.retry)?,
            account.enabled,
            secret.map(|s| s.key_id.as_str()),
            secret.map(|s| s.nonce.as_slice()),
            secret.map(|s| s.ciphertext.as_slice()),
            account.created_at,
            account.updated_at,
        ],
    )
    .await
    .map_err(conflict_or(format!(
        "account name {:?} is already used in app {} (or id {} exists)",
        account.name, account.app_id, account.id
    )))?;
    Ok(())
}

/// Replaces the account's settings; `secret: None` keeps the stored secret, and
/// `created_at` stays as stored.
pub(super) async fn update(
    db: &SqlDb,
    account: &Account,
    secret: Option<&SealedSecret>,
) -> Result<(), StoreError> {
    let mut sql = String::from(
        "UPDATE accounts SET name = ?, channel = ?, config = ?, rate_per_second = ?, retry = ?,
                enabled = ?, updated_at = ?",
    );
    let mut params: Vec<Param> = params![
        &account.name,
        account.channel.as_str(),
        to_json(&account.config)?,
        account.rate_limit.per_second,
        to_json(&account.retry)?,
        account.enabled,
        account.updated_at,
    ];
    if let Some(secret) = secret {
        sql.push_str(", secret_key_id = ?, secret_nonce = ?, secret_ciphertext = ?");
        params.extend(params![
            secret.key_id.as_str(),
            Some(secret.nonce.as_slice()),
            Some(secret.ciphertext.as_slice()),
        ]);
    }
    sql.push_str(" WHERE id = ? AND app_id = ?");
    params.extend(params![account.id.as_str(), account.app_id.as_str()]);
    let changed = db.execute(&sql, params).await.map_err(conflict_or(format!(
        "account name {:?} is already used in app {}",
        account.name, account.app_id
    )))?;
    if changed == 0 {
        return Err(StoreError::NotFound(format!("account {}", account.id)));
    }
    Ok(())
}

pub(super) async fn get(
    db: &SqlDb,
    app: &AppId,
    id: &AccountId,
) -> Result<Option<Account>, StoreError> {
    let sql = format!("SELECT {COLUMNS} FROM accounts WHERE app_id = ? AND id = ?");
    let rows = db
        .fetch_all(&sql, params![app.as_str(), id.as_str()])
        .await
        .map_err(db_err("reading an account"))?;
    rows.first().map(decode).transpose()
}

pub(super) async fn list(db: &SqlDb, app: &AppId) -> Result<Vec<Account>, StoreError> {
    let sql = format!("SELECT {COLUMNS} FROM accounts WHERE app_id = ? ORDER BY name");
    db.fetch_all(&sql, params![app.as_str()])
        .await
        .map_err(db_err("listing accounts"))?
        .iter()
        .map(decode)
        .collect()
}

pub(super) async fn secret(
    db: &SqlDb,
    app: &AppId,
    id: &AccountId,
) -> Result<Option<SealedSecret>, StoreError> {
    let rows = db
        .fetch_all(
            "SELECT secret_key_id, secret_nonce, secret_ciphertext FROM accounts
              WHERE app_id = ? AND id = ? AND secret_ciphertext IS NOT NULL",
            params![app.as_str(), id.as_str()],
        )
        .await
        .map_err(db_err("reading an account secret"))?;
    rows.first()
        .map(|row| {
            Ok(SealedSecret {
                key_id: row.text(0)?,
                nonce: row.opt_bytes(1)?.unwrap_or_default(),
                ciphertext: row.opt_bytes(2)?.unwrap_or_default(),
            })
        })
        .transpose()
}

pub(super) async fn delete(db: &SqlDb, app: &AppId, id: &AccountId) -> Result<bool, StoreError> {
    let deleted = db
        .execute(
            "DELETE FROM accounts WHERE id = ? AND app_id = ?",
            params![id.as_str(), app.as_str()],
        )
        .await
        .map_err(db_err("deleting an account"))?;
    Ok(deleted > 0)
}

fn decode(row: &Row) -> Result<Account, StoreError> {
    let channel = row.text(3)?;
    let per_second = row.int(5)?;
    Ok(Account {
        id: AccountId::from_trusted(row.text(0)?),
        app_id: AppId::from_trusted(row.text(1)?),
        name: row.text(2)?,
        channel: ChannelKind::parse(&channel)
            .ok_or_else(|| StoreError::Corrupt(format!("account channel {channel:?}")))?,
        config: from_json("accounts.config", &row.text(4)?)?,
        rate_limit: RateLimit {
            per_second: u32::try_from(per_second)
                .map_err(|_| StoreError::Corrupt(format!("rate limit {per_second}")))?,
        },
        retry: from_json("accounts.retry", &row.text(6)?)?,
        enabled: row.bool(7)?,
        has_secret: row.bool(8)?,
        created_at: row.int(9)?,
        updated_at: row.int(10)?,
    })
}
