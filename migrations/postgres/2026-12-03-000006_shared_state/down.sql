DROP TRIGGER entitlements_notify_cache ON entitlements;
DROP TRIGGER file_versions_notify_cache ON file_versions;
DROP TRIGGER product_files_notify_cache ON product_files;
DROP TRIGGER products_notify_cache ON products;
DROP FUNCTION folio_notify_cache();
DROP TABLE rate_limits;
