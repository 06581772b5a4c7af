-- PostgreSQL's nodes read the catalog's version before serving from their caches; SQLite has one
-- node and keeps the table only so that both schemas agree.
CREATE TABLE cache_versions (
    scope TEXT PRIMARY KEY NOT NULL,
    version BIGINT NOT NULL
);
INSERT INTO cache_versions (scope, version) VALUES ('catalog', 0);
