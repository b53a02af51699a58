//! The catalog tables. Every row carries its app id; names are unique per app.

/// DDL of the catalog (idempotent).
pub const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS apps (
    id         TEXT PRIMARY KEY,
    name       TEXT NOT NULL,
    created_at INTEGER NOT NULL
) WITHOUT ROWID;

CREATE TABLE IF NOT EXISTS api_keys (
    id         TEXT PRIMARY KEY,
    app_id     TEXT NOT NULL,
    name       TEXT NOT NULL,
    hash       TEXT NOT NULL,
    created_at INTEGER NOT NULL
) WITHOUT ROWID;
CREATE UNIQUE INDEX IF NOT EXISTS api_keys_by_hash ON api_keys (hash);
CREATE INDEX IF NOT EXISTS api_keys_by_app ON api_keys (app_id, id);

CREATE TABLE IF NOT EXISTS templates (
    id                 TEXT PRIMARY KEY,
    app_id             TEXT NOT NULL,
    name               TEXT NOT NULL,
    channel            TEXT NOT NULL,
    default_account_id TEXT,
    enabled            INTEGER NOT NULL,
    current_version    INTEGER NOT NULL,
    created_at         INTEGER NOT NULL,
    updated_at         INTEGER NOT NULL,
    UNIQUE (app_id, name)
) WITHOUT ROWID;

CREATE TABLE IF NOT EXISTS template_versions (
    template_id TEXT NOT NULL,
    version     INTEGER NOT NULL,
    app_id      TEXT NOT NULL,
    variables   TEXT NOT NULL,
    content     TEXT NOT NULL,
    created_at  INTEGER NOT NULL,
    PRIMARY KEY (template_id, version)
) WITHOUT ROWID;

CREATE TABLE IF NOT EXISTS accounts (
    id                TEXT PRIMARY KEY,
    app_id            TEXT NOT NULL,
    name              TEXT NOT NULL,
    channel           TEXT NOT NULL,
    config            TEXT NOT NULL,
    rate_per_second   INTEGER NOT NULL,
    retry             TEXT NOT NULL,
    enabled           INTEGER NOT NULL,
    secret_key_id     TEXT,
    secret_nonce      BLOB,
    secret_ciphertext BLOB,
    created_at        INTEGER NOT NULL,
    updated_at        INTEGER NOT NULL,
    UNIQUE (app_id, name)
) WITHOUT ROWID;
";
