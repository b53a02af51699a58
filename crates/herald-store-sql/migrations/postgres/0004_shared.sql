-- State the nodes of a cluster share: rate-limit slot schedules and provider tokens.

-- One slot schedule per rate key (a channel account, or a finer provider rule): the
-- next free slot, in Unix nanoseconds. Nodes reserve blocks of slots by moving it forward.
CREATE TABLE IF NOT EXISTS rate_slots (
    rate_key   TEXT PRIMARY KEY,
    per_second BIGINT NOT NULL,
    next_ns    BIGINT NOT NULL
);

-- Provider access tokens (WeChat, WeCom, FCM, APNs, Getui), sealed with the master key so a
-- database dump does not hand them out; `expires_at` in Unix milliseconds.
CREATE TABLE IF NOT EXISTS provider_tokens (
    token_key  TEXT PRIMARY KEY,
    sealed     TEXT NOT NULL,
    expires_at BIGINT NOT NULL
);
