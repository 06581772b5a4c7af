-- Products with several files of any kind, each with a history of versions; download limits,
-- access windows and PDF stamping per product; update notices that buyers can turn off.

-- A product's files, in the seller's order. A removed file stays (its versions are history);
-- kept_for_owners says whether buyers who already own the product still get it.
CREATE TABLE product_files (
    id              TEXT PRIMARY KEY,
    product_id      TEXT NOT NULL REFERENCES products (id),
    position        INTEGER NOT NULL,
    name            TEXT NOT NULL,
    created_at      TIMESTAMP NOT NULL,
    removed_at      TIMESTAMP,
    kept_for_owners BOOLEAN NOT NULL
);
CREATE INDEX product_files_product_idx ON product_files (product_id, position);

-- Every upload of a file; buyers get the highest version. stamp_plan_key names the stamping
-- plan kept beside a PDF's object; stamp_error says why a PDF cannot be stamped.
CREATE TABLE file_versions (
    id             TEXT PRIMARY KEY,
    file_id        TEXT NOT NULL REFERENCES product_files (id),
    version        INTEGER NOT NULL,
    object_key     TEXT NOT NULL,
    size           BIGINT NOT NULL,
    sha256         TEXT NOT NULL,
    content_type   TEXT NOT NULL,
    note           TEXT,
    stamp_plan_key TEXT,
    stamp_error    TEXT,
    uploaded_at    TIMESTAMP NOT NULL,
    UNIQUE (file_id, version)
);
CREATE INDEX file_versions_object_idx ON file_versions (object_key);

-- Each product's one file becomes its first file at version 1 (ids reused: unique per table).
INSERT INTO product_files (id, product_id, position, name, created_at, removed_at, kept_for_owners)
    SELECT id, id, 0, file_name, created_at, NULL, FALSE FROM products;
INSERT INTO file_versions (id, file_id, version, object_key, size, sha256, content_type, note,
                           stamp_plan_key, stamp_error, uploaded_at)
    SELECT id, id, 1, file_key, file_size, file_sha256, file_content_type, NULL, NULL, NULL, updated_at
    FROM products;

ALTER TABLE products DROP COLUMN file_key;
ALTER TABLE products DROP COLUMN file_name;
ALTER TABLE products DROP COLUMN file_size;
ALTER TABLE products DROP COLUMN file_sha256;
ALTER TABLE products DROP COLUMN file_content_type;
ALTER TABLE products ADD COLUMN download_limit INTEGER;
ALTER TABLE products ADD COLUMN access_days INTEGER;
ALTER TABLE products ADD COLUMN stamp_pdfs BOOLEAN NOT NULL DEFAULT FALSE;

-- A download link counts once however often it is used (Range resumes): its id (the token's
-- jti) is written the first time.
CREATE TABLE download_links (
    id         TEXT PRIMARY KEY,
    user_id    TEXT NOT NULL REFERENCES users (id),
    created_at TIMESTAMP NOT NULL
);
CREATE INDEX download_links_created_idx ON download_links (created_at);

-- Downloads used per buyer per file, raised only while under the product's limit.
CREATE TABLE download_counts (
    user_id TEXT NOT NULL REFERENCES users (id),
    file_id TEXT NOT NULL REFERENCES product_files (id),
    used    INTEGER NOT NULL,
    PRIMARY KEY (user_id, file_id)
);

-- A buyer who unsubscribed from a product's update notices.
ALTER TABLE entitlements ADD COLUMN notices_off_at TIMESTAMP;

-- Why a PDF went out unstamped although its product stamps (the stamp failed; the buyer got the
-- original).
ALTER TABLE download_events ADD COLUMN unstamped_reason TEXT;
