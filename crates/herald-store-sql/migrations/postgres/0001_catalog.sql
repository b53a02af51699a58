-- Catalog: apps, API keys, templates (heads and immutable versions), channel accounts.
-- Keys and names use the "C" collation: byte order, exact comparison, like SQLite.
CREATE TABLE IF NOT EXISTS apps (
    id         VARCHAR(64) COLLATE "C" PRIMARY KEY,
    name       TEXT NOT NULL,
    created_at BIGINT NOT NULL
);

CREATE TABLE IF NOT EXISTS api_keys (
    id         VARCHAR(64) COLLATE "C" PRIMARY KEY,
    app_id     VARCHAR(64) COLLATE "C" NOT NULL,
    name       TEXT NOT NULL,
    hash       VARCHAR(128) COLLATE "C" NOT NULL UNIQUE,
    created_at BIGINT NOT NULL
);
CREATE INDEX IF NOT EXISTS api_keys_by_app ON api_keys (app_id, id);

CREATE TABLE IF NOT EXISTS templates (
    id                 VARCHAR(64) COLLATE "C" PRIMARY KEY,
    app_id             VARCHAR(64) COLLATE "C" NOT NULL,
    name               VARCHAR(255) COLLATE "C" NOT NULL,
    channel            VARCHAR(32) NOT NULL,
    default_account_id VARCHAR(64),
    enabled            BOOLEAN NOT NULL,
    current_version    BIGINT NOT NULL,
    created_at         BIGINT NOT NULL,
    updated_at         BIGINT NOT NULL,
    UNIQUE (app_id, name)
);

CREATE TABLE IF NOT EXISTS template_versions (
    template_id VARCHAR(64) COLLATE "C" NOT NULL,
    version     BIGINT NOT NULL,
    app_id      VARCHAR(64) COLLATE "C" NOT NULL,
    variables   TEXT NOT NULL,
    content     TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    PRIMARY KEY (template_id, version)
);

CREATE TABLE IF NOT EXISTS accounts (
    id                VARCHAR(64) COLLATE "C" PRIMARY KEY,
    app_id            VARCHAR(64) COLLATE "C" NOT NULL,
    name              VARCHAR(255) COLLATE "C" NOT NULL,
    channel           VARCHAR(32) NOT NULL,
    config            TEXT NOT NULL,
    rate_per_second   BIGINT NOT NULL,
    retry             TEXT NOT NULL,
    enabled           BOOLEAN NOT NULL,
    secret_key_id     TEXT,
    secret_nonce      BYTEA,
    secret_ciphertext BYTEA,
    created_at        BIGINT NOT NULL,
    updated_at        BIGINT NOT NULL,
    UNIQUE (app_id, name)
);
