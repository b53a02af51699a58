-- Catalog: apps, API keys, templates (heads and immutable versions), channel accounts.
-- utf8mb4_bin: exact, case-sensitive comparison and byte order, like SQLite. Indexes are
-- declared inside CREATE TABLE because MySQL 8 has no CREATE INDEX IF NOT EXISTS.
-- Booleans are TINYINT(1) (BOOLEAN's own spelling in MySQL).
CREATE TABLE IF NOT EXISTS apps (
    id         VARCHAR(64) NOT NULL PRIMARY KEY,
    name       TEXT NOT NULL,
    created_at BIGINT NOT NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE IF NOT EXISTS api_keys (
    id         VARCHAR(64) NOT NULL PRIMARY KEY,
    app_id     VARCHAR(64) NOT NULL,
    name       TEXT NOT NULL,
    hash       VARCHAR(128) NOT NULL,
    created_at BIGINT NOT NULL,
    UNIQUE KEY api_keys_by_hash (hash),
    KEY api_keys_by_app (app_id, id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE IF NOT EXISTS templates (
    id                 VARCHAR(64) NOT NULL PRIMARY KEY,
    app_id             VARCHAR(64) NOT NULL,
    name               VARCHAR(255) NOT NULL,
    channel            VARCHAR(32) NOT NULL,
    default_account_id VARCHAR(64),
    enabled            TINYINT(1) NOT NULL,
    current_version    BIGINT NOT NULL,
    created_at         BIGINT NOT NULL,
    updated_at         BIGINT NOT NULL,
    UNIQUE KEY templates_by_name (app_id, name)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE IF NOT EXISTS template_versions (
    template_id VARCHAR(64) NOT NULL,
    version     BIGINT NOT NULL,
    app_id      VARCHAR(64) NOT NULL,
    variables   MEDIUMTEXT NOT NULL,
    content     MEDIUMTEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    PRIMARY KEY (template_id, version)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE IF NOT EXISTS accounts (
    id                VARCHAR(64) NOT NULL PRIMARY KEY,
    app_id            VARCHAR(64) NOT NULL,
    name              VARCHAR(255) NOT NULL,
    channel           VARCHAR(32) NOT NULL,
    config            MEDIUMTEXT NOT NULL,
    rate_per_second   BIGINT NOT NULL,
    retry             TEXT NOT NULL,
    enabled           TINYINT(1) NOT NULL,
    secret_key_id     VARCHAR(255),
    secret_nonce      VARBINARY(255),
    secret_ciphertext BLOB,
    created_at        BIGINT NOT NULL,
    updated_at        BIGINT NOT NULL,
    UNIQUE KEY accounts_by_name (app_id, name)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
