-- Rate limits, counted in the database (as on PostgreSQL, where several nodes share them): one
-- row per limit and client, its fixed window starting at the first attempt. SQLite has one node,
-- so its caches need no notifications.
CREATE TABLE rate_limits (
    bucket TEXT NOT NULL,
    client TEXT NOT NULL,
    window_ends_at BIGINT NOT NULL,
    hits INTEGER NOT NULL,
    PRIMARY KEY (bucket, client)
);
CREATE INDEX rate_limits_window_ends_at ON rate_limits (window_ends_at);
