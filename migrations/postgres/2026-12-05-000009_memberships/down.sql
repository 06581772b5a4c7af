DROP TRIGGER subscriptions_notify_cache ON subscriptions;
DROP TRIGGER plan_products_notify_cache ON plan_products;
DROP TRIGGER plans_notify_cache ON plans;
DROP TABLE subscriptions;
DROP INDEX users_stripe_customer_idx;
ALTER TABLE users DROP COLUMN stripe_customer_id;
DROP TABLE plan_products;
DROP TABLE plans;
