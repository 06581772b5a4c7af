DROP TABLE subscriptions;
DROP INDEX users_stripe_customer_idx;
ALTER TABLE users DROP COLUMN stripe_customer_id;
DROP TABLE plan_products;
DROP TABLE plans;
