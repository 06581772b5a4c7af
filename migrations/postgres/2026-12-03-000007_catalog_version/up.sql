-- A notice can reach another node a moment after the writer has answered; a read in that moment
-- would be stale. So the catalog also carries a version, bumped in the writing transaction: every
-- node reads it before serving a cached page or product, and drops its cache when it moved.
-- (Entitlements keep the notice alone: their writes are frequent, and one shared counter row
-- would serialize every purchase.)
CREATE TABLE cache_versions (
    scope TEXT PRIMARY KEY,
    version BIGINT NOT NULL
);
INSERT INTO cache_versions (scope, version) VALUES ('catalog', 0);

CREATE OR REPLACE FUNCTION folio_notify_cache() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_ARGV[0] = 'catalog' THEN
        UPDATE cache_versions SET version = version + 1 WHERE scope = 'catalog';
    END IF;
    PERFORM pg_notify('folio_cache', TG_ARGV[0]);
    RETURN NULL;
END
$$;
