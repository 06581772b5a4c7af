-- Memberships: plans bought as Stripe Billing subscriptions, which unlock products while they
-- last.

-- A plan. Its price is what new members pay each interval (a member keeps the price they
-- subscribed at: Stripe holds it). all_products: every published product, present and future;
-- otherwise the products in plan_products (a bundle there brings its items).
CREATE TABLE plans (
    id               TEXT PRIMARY KEY,
    name             TEXT NOT NULL,
    description      TEXT NOT NULL,
    billing_interval TEXT NOT NULL,
    price_cents      BIGINT NOT NULL,
    currency         TEXT NOT NULL,
    all_products     BOOLEAN NOT NULL,
    active           BOOLEAN NOT NULL,
    created_at       TIMESTAMP NOT NULL,
    updated_at       TIMESTAMP NOT NULL
);

CREATE TABLE plan_products (
    plan_id    TEXT NOT NULL REFERENCES plans (id),
    product_id TEXT NOT NULL REFERENCES products (id),
    PRIMARY KEY (plan_id, product_id)
);
CREATE INDEX plan_products_product_idx ON plan_products (product_id);

-- The user's Stripe customer, made once, the first time they subscribe.
ALTER TABLE users ADD COLUMN stripe_customer_id TEXT;
CREATE UNIQUE INDEX users_stripe_customer_idx ON users (stripe_customer_id);

-- A subscription as Stripe last reported it, read from Stripe itself (every event about it is
-- only a cue to read it again). Access is decided from these columns and the clock when asked:
-- active or trialing (until the period's end once cancelled at period end), or past due for
-- the grace (FOLIO_PAST_DUE_GRACE) counted from past_due_since, the failed invoice's time.
-- synced_at orders the reads: a read older than the one stored is not applied.
CREATE TABLE subscriptions (
    id                     TEXT PRIMARY KEY,
    stripe_subscription_id TEXT NOT NULL UNIQUE,
    user_id                TEXT NOT NULL REFERENCES users (id),
    plan_id                TEXT NOT NULL REFERENCES plans (id),
    status                 TEXT NOT NULL,
    current_period_start   TIMESTAMP,
    current_period_end     TIMESTAMP,
    cancel_at_period_end   BOOLEAN NOT NULL,
    past_due_since         TIMESTAMP,
    ended_at               TIMESTAMP,
    synced_at              TIMESTAMP NOT NULL,
    created_at             TIMESTAMP NOT NULL,
    updated_at             TIMESTAMP NOT NULL
);
CREATE INDEX subscriptions_user_idx ON subscriptions (user_id, status);
CREATE INDEX subscriptions_plan_idx ON subscriptions (plan_id, created_at);

-- What a member may download changes with these: every node's owned sets hear of it (see
-- 2026-12-03-000006_shared_state).
CREATE TRIGGER plans_notify_cache AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON plans
    FOR EACH STATEMENT EXECUTE FUNCTION folio_notify_cache('owners');
CREATE TRIGGER plan_products_notify_cache AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON plan_products
    FOR EACH STATEMENT EXECUTE FUNCTION folio_notify_cache('owners');
CREATE TRIGGER subscriptions_notify_cache AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON subscriptions
    FOR EACH STATEMENT EXECUTE FUNCTION folio_notify_cache('owners');
