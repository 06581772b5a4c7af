DROP TABLE download_events;
DROP TABLE stripe_events;
DROP TABLE entitlements;
DROP TABLE orders;
DROP TABLE products;
DROP TABLE refresh_tokens;
DROP TABLE users;
