-- The inbox: end users' in-site messages, shared by every node (one row per delivery).
-- `seq` orders items by arrival (newest stored first) and is the page cursor;
-- AUTO_INCREMENT values are never reused, so a cursor stays valid. `inbox_by_id`
-- deduplicates stores: a deleted item keeps its row as a tombstone (state 3, content
-- erased), so a redelivery of its id stays a no-op. `state`: 0 unread, 1 read, 2 archived,
-- 3 deleted. `user_id` is the inbox receiver (at most 128 characters today).
-- `inbox_by_user` serves listings over several states in `seq` order; `inbox_by_user_state`
-- the unread count (an index-only count) and single-state listings.
CREATE TABLE IF NOT EXISTS inbox_items (
    seq        BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
    app_id     VARCHAR(64) NOT NULL,
    user_id    VARCHAR(255) NOT NULL,
    id         VARCHAR(64) NOT NULL,
    message_id VARCHAR(64) NOT NULL,
    title      TEXT,
    body       MEDIUMTEXT NOT NULL,
    fields     MEDIUMTEXT NOT NULL,
    state      SMALLINT NOT NULL,
    created_at BIGINT NOT NULL,
    read_at    BIGINT,
    UNIQUE KEY inbox_by_id (app_id, id),
    KEY inbox_by_user (app_id, user_id, seq),
    KEY inbox_by_user_state (app_id, user_id, state, seq)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
