-- What several nodes must share.

-- Rate limits, counted here instead of in each process: one row per limit and client, its
-- fixed window starting at the first attempt.
CREATE TABLE rate_limits (
    bucket TEXT NOT NULL,
    client TEXT NOT NULL,
    window_ends_at BIGINT NOT NULL,
    hits INTEGER NOT NULL,
    PRIMARY KEY (bucket, client)
);
CREATE INDEX rate_limits_window_ends_at ON rate_limits (window_ends_at);

-- Every node keeps catalog pages and owned sets in memory. A write to what they are built from
-- notifies every node in the writing transaction (delivered at its commit, once per transaction
-- and payload); each node listens on `folio_cache` and drops what the payload names.
CREATE FUNCTION folio_notify_cache() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('folio_cache', TG_ARGV[0]);
    RETURN NULL;
END
$$;
CREATE TRIGGER products_notify_cache AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON products
    FOR EACH STATEMENT EXECUTE FUNCTION folio_notify_cache('catalog');
CREATE TRIGGER product_files_notify_cache AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON product_files
    FOR EACH STATEMENT EXECUTE FUNCTION folio_notify_cache('catalog');
CREATE TRIGGER file_versions_notify_cache AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON file_versions
    FOR EACH STATEMENT EXECUTE FUNCTION folio_notify_cache('catalog');
CREATE TRIGGER entitlements_notify_cache AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON entitlements
    FOR EACH STATEMENT EXECUTE FUNCTION folio_notify_cache('owners');
