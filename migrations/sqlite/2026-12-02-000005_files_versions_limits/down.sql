-- Back to one file per product: each product keeps its first file's latest version.
ALTER TABLE download_events DROP COLUMN unstamped_reason;
ALTER TABLE entitlements DROP COLUMN notices_off_at;
DROP TABLE download_counts;
DROP TABLE download_links;
ALTER TABLE products DROP COLUMN stamp_pdfs;
ALTER TABLE products DROP COLUMN access_days;
ALTER TABLE products DROP COLUMN download_limit;
ALTER TABLE products ADD COLUMN file_key TEXT NOT NULL DEFAULT '';
ALTER TABLE products ADD COLUMN file_name TEXT NOT NULL DEFAULT '';
ALTER TABLE products ADD COLUMN file_size BIGINT NOT NULL DEFAULT 0;
ALTER TABLE products ADD COLUMN file_sha256 TEXT NOT NULL DEFAULT '';
ALTER TABLE products ADD COLUMN file_content_type TEXT NOT NULL DEFAULT '';
UPDATE products SET
    file_name = (SELECT f.name FROM product_files f WHERE f.product_id = products.id
                 ORDER BY f.position LIMIT 1),
    (file_key, file_size, file_sha256, file_content_type) = (
        SELECT v.object_key, v.size, v.sha256, v.content_type
        FROM product_files f JOIN file_versions v ON v.file_id = f.id
        WHERE f.product_id = products.id
        ORDER BY f.position, v.version DESC LIMIT 1);
DROP TABLE file_versions;
DROP TABLE product_files;
