-- Records: messages, deliveries (with their message's search facts), attempts, and the
-- term index behind full-text search (docs/decisions/0006-sql-search.md). InnoDB appends
-- the primary key (`seq`) to every secondary index, so (app_id, facet, created_at) is
-- already in page order.
CREATE TABLE IF NOT EXISTS messages (
    id               VARCHAR(64) NOT NULL PRIMARY KEY,
    app_id           VARCHAR(64) NOT NULL,
    template_id      VARCHAR(64) NOT NULL,
    template_version BIGINT NOT NULL,
    channel          VARCHAR(32) NOT NULL,
    account_id       VARCHAR(64) NOT NULL,
    priority         BIGINT NOT NULL,
    send_at          BIGINT,
    expire_at        BIGINT,
    created_at       BIGINT NOT NULL,
    variables        MEDIUMTEXT NOT NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

-- `seq` orders deliveries accepted in the same millisecond; pages are
-- (created_at DESC, seq DESC). `receiver_key` is the receiver itself when short, else a
-- hash of it: device tokens run to 4 KiB, more than an index key may hold.
-- `content_terms` is the analyzed content (" tok tok … "), checked for phrase queries.
CREATE TABLE IF NOT EXISTS deliveries (
    seq           BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
    id            VARCHAR(64) NOT NULL,
    message_id    VARCHAR(64) NOT NULL,
    app_id        VARCHAR(64) NOT NULL,
    position      BIGINT NOT NULL,
    template_id   VARCHAR(64) NOT NULL,
    channel       VARCHAR(32) NOT NULL,
    account_id    VARCHAR(64) NOT NULL,
    receiver      TEXT NOT NULL,
    receiver_key  VARCHAR(160) NOT NULL,
    receiver_json TEXT NOT NULL,
    variables     MEDIUMTEXT NOT NULL,
    state         VARCHAR(16) NOT NULL,
    version       BIGINT NOT NULL,
    code          TEXT,
    detail        TEXT,
    next_at       BIGINT,
    content       MEDIUMTEXT,
    content_terms MEDIUMTEXT,
    created_at    BIGINT NOT NULL,
    updated_at    BIGINT NOT NULL,
    UNIQUE KEY deliveries_by_id (id),
    KEY deliveries_by_time (app_id, created_at),
    KEY deliveries_by_message (app_id, message_id, created_at),
    KEY deliveries_by_receiver (app_id, receiver_key, created_at),
    KEY deliveries_by_template (app_id, template_id, created_at),
    KEY deliveries_by_state (app_id, state, created_at),
    KEY deliveries_by_account (app_id, account_id, created_at),
    KEY deliveries_by_channel (app_id, channel, created_at),
    KEY deliveries_awaiting_receipt (state, updated_at)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE IF NOT EXISTS attempts (
    delivery_id         VARCHAR(64) NOT NULL,
    attempt             BIGINT NOT NULL,
    app_id              VARCHAR(64) NOT NULL,
    at                  BIGINT NOT NULL,
    account_id          VARCHAR(64) NOT NULL,
    latency_ms          BIGINT NOT NULL,
    outcome             TEXT NOT NULL,
    provider_request_id VARCHAR(255),
    code                TEXT,
    message             TEXT,
    PRIMARY KEY (delivery_id, attempt),
    KEY attempts_by_provider_id (provider_request_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

-- One row per distinct analyzed token of a delivery's content (words, CJK bigrams, the last
-- character of each CJK run), in page order under each term. MariaDB's FULLTEXT has no
-- n-gram parser and skips tokens under innodb_ft_min_token_size (3): this B-tree does not.
CREATE TABLE IF NOT EXISTS delivery_terms (
    app_id     VARCHAR(64) NOT NULL,
    term       VARCHAR(32) NOT NULL,
    created_at BIGINT NOT NULL,
    seq        BIGINT NOT NULL,
    PRIMARY KEY (app_id, term, created_at, seq),
    KEY delivery_terms_by_seq (seq)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
