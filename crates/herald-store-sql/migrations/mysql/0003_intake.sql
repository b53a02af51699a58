-- Intake: idempotency entries and the outbox a relay publishes to the broker.
CREATE TABLE IF NOT EXISTS idempotency (
    app_id       VARCHAR(64) NOT NULL,
    idem_key     VARCHAR(255) NOT NULL,
    request_hash VARCHAR(128) NOT NULL,
    status       BIGINT NOT NULL,
    response     MEDIUMTEXT NOT NULL,
    created_at   BIGINT NOT NULL,
    PRIMARY KEY (app_id, idem_key),
    KEY idempotency_created (created_at)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

-- Tasks committed with their records, waiting for the relay. `claimed_until` is the lease
-- of the relay that claimed the row (0: unclaimed); a row whose lease ran out is claimed
-- again, and the broker's dedup key makes that second publish harmless.
CREATE TABLE IF NOT EXISTS outbox (
    id            BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
    topic         VARCHAR(16) NOT NULL,
    dedup_key     VARCHAR(160) NOT NULL,
    payload       MEDIUMTEXT NOT NULL,
    created_at    BIGINT NOT NULL,
    claimed_until BIGINT NOT NULL DEFAULT 0,
    KEY outbox_by_claim (claimed_until, id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
