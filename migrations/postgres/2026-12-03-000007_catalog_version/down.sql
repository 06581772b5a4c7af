CREATE OR REPLACE FUNCTION folio_notify_cache() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('folio_cache', TG_ARGV[0]);
    RETURN NULL;
END
$$;
DROP TABLE cache_versions;
