-- SQLite flavour: kept column-for-column equal to the PostgreSQL migration of the same name.
-- Seller tools: refunds on the ledger, the dashboard's indexes, API keys and outbound webhooks.

-- What Stripe has refunded of an order (partial refunds included) and when the last refund was
-- recorded: the dashboard's refunds and the reconciliation's comparison read these.
ALTER TABLE orders ADD COLUMN refunded_cents BIGINT NOT NULL DEFAULT 0;
ALTER TABLE orders ADD COLUMN refunded_at TIMESTAMP;
-- Orders paid fully refunded before these columns existed.
UPDATE orders SET refunded_cents = COALESCE(total_cents, amount_cents), refunded_at = updated_at
    WHERE status = 'refunded';

-- The dashboard's figures, by day, kept by the database itself: a trigger on orders adds each
-- order's part to the day it was made (started, completed), the day it was paid (paid_orders,
-- paid_cents: its total as charged) and the day of its last refund (refunded_cents: all that was
-- refunded of it), and takes the old part away when the order changes. A period's figures are
-- then sums over one row per day and currency (and, for the best sellers, per product), however
-- many orders there are (1,000,000 orders: see bench/RESULTS.md). day: `YYYY-MM-DD`, UTC.
CREATE TABLE sales_days (
    day            TEXT NOT NULL,
    currency       TEXT NOT NULL,
    started        BIGINT NOT NULL,
    completed      BIGINT NOT NULL,
    paid_orders    BIGINT NOT NULL,
    paid_cents     BIGINT NOT NULL,
    refunded_cents BIGINT NOT NULL,
    PRIMARY KEY (day, currency)
);
CREATE TABLE product_sales_days (
    day         TEXT NOT NULL,
    currency    TEXT NOT NULL,
    product_id  TEXT NOT NULL,
    paid_orders BIGINT NOT NULL,
    paid_cents  BIGINT NOT NULL,
    PRIMARY KEY (day, currency, product_id)
);
INSERT INTO sales_days (day, currency, started, completed, paid_orders, paid_cents, refunded_cents)
SELECT day, currency, SUM(started), SUM(completed), SUM(paid_orders), SUM(paid_cents),
       SUM(refunded_cents)
FROM (
    SELECT strftime('%Y-%m-%d', created_at) AS day, currency, 1 AS started,
           CASE WHEN paid_at IS NULL THEN 0 ELSE 1 END AS completed, 0 AS paid_orders,
           0 AS paid_cents, 0 AS refunded_cents
    FROM orders
    UNION ALL
    SELECT strftime('%Y-%m-%d', paid_at), currency, 0, 0, 1, COALESCE(total_cents, amount_cents), 0
    FROM orders WHERE paid_at IS NOT NULL
    UNION ALL
    SELECT strftime('%Y-%m-%d', refunded_at), currency, 0, 0, 0, 0, refunded_cents
    FROM orders WHERE refunded_at IS NOT NULL
) parts
GROUP BY day, currency;
INSERT INTO product_sales_days (day, currency, product_id, paid_orders, paid_cents)
SELECT strftime('%Y-%m-%d', paid_at), currency, product_id, COUNT(*), SUM(COALESCE(total_cents, amount_cents))
FROM orders WHERE paid_at IS NOT NULL
GROUP BY strftime('%Y-%m-%d', paid_at), currency, product_id;

CREATE TRIGGER orders_sales_days_insert AFTER INSERT ON orders BEGIN
    INSERT INTO sales_days
        SELECT strftime('%Y-%m-%d', NEW.created_at), NEW.currency, 1,
               (NEW.paid_at IS NOT NULL), 0, 0, 0 WHERE true
        ON CONFLICT (day, currency) DO UPDATE
            SET started = started + excluded.started, completed = completed + excluded.completed;
    INSERT INTO sales_days
        SELECT strftime('%Y-%m-%d', NEW.paid_at), NEW.currency, 0, 0, 1,
               COALESCE(NEW.total_cents, NEW.amount_cents), 0
        WHERE NEW.paid_at IS NOT NULL
        ON CONFLICT (day, currency) DO UPDATE
            SET paid_orders = paid_orders + excluded.paid_orders,
                paid_cents = paid_cents + excluded.paid_cents;
    INSERT INTO product_sales_days
        SELECT strftime('%Y-%m-%d', NEW.paid_at), NEW.currency, NEW.product_id, 1,
               COALESCE(NEW.total_cents, NEW.amount_cents)
        WHERE NEW.paid_at IS NOT NULL
        ON CONFLICT (day, currency, product_id) DO UPDATE
            SET paid_orders = paid_orders + excluded.paid_orders,
                paid_cents = paid_cents + excluded.paid_cents;
    INSERT INTO sales_days
        SELECT strftime('%Y-%m-%d', NEW.refunded_at), NEW.currency, 0, 0, 0, 0,
               NEW.refunded_cents
        WHERE NEW.refunded_at IS NOT NULL AND NEW.refunded_cents <> 0
        ON CONFLICT (day, currency) DO UPDATE
            SET refunded_cents = refunded_cents + excluded.refunded_cents;
END;

CREATE TRIGGER orders_sales_days_update
    AFTER UPDATE OF created_at, paid_at, refunded_at, currency, product_id, total_cents,
        amount_cents, refunded_cents
    ON orders BEGIN
    INSERT INTO sales_days
        SELECT strftime('%Y-%m-%d', OLD.created_at), OLD.currency, -1,
               -(OLD.paid_at IS NOT NULL), 0, 0, 0 WHERE true
        ON CONFLICT (day, currency) DO UPDATE
            SET started = started + excluded.started, completed = completed + excluded.completed;
    INSERT INTO sales_days
        SELECT strftime('%Y-%m-%d', OLD.paid_at), OLD.currency, 0, 0, -1,
               -COALESCE(OLD.total_cents, OLD.amount_cents), 0
        WHERE OLD.paid_at IS NOT NULL
        ON CONFLICT (day, currency) DO UPDATE
            SET paid_orders = paid_orders + excluded.paid_orders,
                paid_cents = paid_cents + excluded.paid_cents;
    INSERT INTO product_sales_days
        SELECT strftime('%Y-%m-%d', OLD.paid_at), OLD.currency, OLD.product_id, -1,
               -COALESCE(OLD.total_cents, OLD.amount_cents)
        WHERE OLD.paid_at IS NOT NULL
        ON CONFLICT (day, currency, product_id) DO UPDATE
            SET paid_orders = paid_orders + excluded.paid_orders,
                paid_cents = paid_cents + excluded.paid_cents;
    INSERT INTO sales_days
        SELECT strftime('%Y-%m-%d', OLD.refunded_at), OLD.currency, 0, 0, 0, 0,
               -OLD.refunded_cents
        WHERE OLD.refunded_at IS NOT NULL AND OLD.refunded_cents <> 0
        ON CONFLICT (day, currency) DO UPDATE
            SET refunded_cents = refunded_cents + excluded.refunded_cents;
    INSERT INTO sales_days
        SELECT strftime('%Y-%m-%d', NEW.created_at), NEW.currency, 1,
               (NEW.paid_at IS NOT NULL), 0, 0, 0 WHERE true
        ON CONFLICT (day, currency) DO UPDATE
            SET started = started + excluded.started, completed = completed + excluded.completed;
    INSERT INTO sales_days
        SELECT strftime('%Y-%m-%d', NEW.paid_at), NEW.currency, 0, 0, 1,
               COALESCE(NEW.total_cents, NEW.amount_cents), 0
        WHERE NEW.paid_at IS NOT NULL
        ON CONFLICT (day, currency) DO UPDATE
            SET paid_orders = paid_orders + excluded.paid_orders,
                paid_cents = paid_cents + excluded.paid_cents;
    INSERT INTO product_sales_days
        SELECT strftime('%Y-%m-%d', NEW.paid_at), NEW.currency, NEW.product_id, 1,
               COALESCE(NEW.total_cents, NEW.amount_cents)
        WHERE NEW.paid_at IS NOT NULL
        ON CONFLICT (day, currency, product_id) DO UPDATE
            SET paid_orders = paid_orders + excluded.paid_orders,
                paid_cents = paid_cents + excluded.paid_cents;
    INSERT INTO sales_days
        SELECT strftime('%Y-%m-%d', NEW.refunded_at), NEW.currency, 0, 0, 0, 0,
               NEW.refunded_cents
        WHERE NEW.refunded_at IS NOT NULL AND NEW.refunded_cents <> 0
        ON CONFLICT (day, currency) DO UPDATE
            SET refunded_cents = refunded_cents + excluded.refunded_cents;
END;

CREATE TRIGGER orders_sales_days_delete AFTER DELETE ON orders BEGIN
    INSERT INTO sales_days
        SELECT strftime('%Y-%m-%d', OLD.created_at), OLD.currency, -1,
               -(OLD.paid_at IS NOT NULL), 0, 0, 0 WHERE true
        ON CONFLICT (day, currency) DO UPDATE
            SET started = started + excluded.started, completed = completed + excluded.completed;
    INSERT INTO sales_days
        SELECT strftime('%Y-%m-%d', OLD.paid_at), OLD.currency, 0, 0, -1,
               -COALESCE(OLD.total_cents, OLD.amount_cents), 0
        WHERE OLD.paid_at IS NOT NULL
        ON CONFLICT (day, currency) DO UPDATE
            SET paid_orders = paid_orders + excluded.paid_orders,
                paid_cents = paid_cents + excluded.paid_cents;
    INSERT INTO product_sales_days
        SELECT strftime('%Y-%m-%d', OLD.paid_at), OLD.currency, OLD.product_id, -1,
               -COALESCE(OLD.total_cents, OLD.amount_cents)
        WHERE OLD.paid_at IS NOT NULL
        ON CONFLICT (day, currency, product_id) DO UPDATE
            SET paid_orders = paid_orders + excluded.paid_orders,
                paid_cents = paid_cents + excluded.paid_cents;
    INSERT INTO sales_days
        SELECT strftime('%Y-%m-%d', OLD.refunded_at), OLD.currency, 0, 0, 0, 0,
               -OLD.refunded_cents
        WHERE OLD.refunded_at IS NOT NULL AND OLD.refunded_cents <> 0
        ON CONFLICT (day, currency) DO UPDATE
            SET refunded_cents = refunded_cents + excluded.refunded_cents;
END;

-- Sign-ups and downloads are counted on their own indexes; paid orders are found by day for
-- the reconciliation.
CREATE INDEX orders_paid_idx ON orders (paid_at) WHERE paid_at IS NOT NULL;
CREATE INDEX users_created_idx ON users (created_at, role);
CREATE INDEX download_events_created_idx ON download_events (created_at);

-- Keys for programs. The secret (folio_sk_…) is shown once; only its SHA-256 is kept (it is
-- 190 random bits, so a slow hash would add nothing). scopes: space-separated.
CREATE TABLE api_keys (
    id           TEXT PRIMARY KEY,
    name         TEXT NOT NULL,
    prefix       TEXT NOT NULL,
    secret_hash  TEXT NOT NULL UNIQUE,
    scopes       TEXT NOT NULL,
    created_by   TEXT NOT NULL REFERENCES users (id),
    created_at   TIMESTAMP NOT NULL,
    last_used_at TIMESTAMP,
    revoked_at   TIMESTAMP
);
CREATE INDEX api_keys_created_idx ON api_keys (created_at DESC, id DESC);

-- Outbound webhooks. The signing secret must be kept to sign with; the previous one signs too
-- until previous_secret_expires_at (a rotation's overlap). events: space-separated.
CREATE TABLE webhook_endpoints (
    id                         TEXT PRIMARY KEY,
    url                        TEXT NOT NULL,
    description                TEXT NOT NULL,
    events                     TEXT NOT NULL,
    secret                     TEXT NOT NULL,
    previous_secret            TEXT,
    previous_secret_expires_at TIMESTAMP,
    enabled                    BOOLEAN NOT NULL,
    disabled_reason            TEXT,
    failing_since              TIMESTAMP,
    created_at                 TIMESTAMP NOT NULL,
    updated_at                 TIMESTAMP NOT NULL
);

-- One event, as sent to every endpoint that takes its type (the same id and body on every
-- attempt and redelivery, so receivers can drop repeats).
CREATE TABLE webhook_events (
    id         TEXT PRIMARY KEY,
    event_type TEXT NOT NULL,
    payload    TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL
);

-- Each attempt, for the delivery log.
CREATE TABLE webhook_deliveries (
    id                TEXT PRIMARY KEY,
    endpoint_id       TEXT NOT NULL REFERENCES webhook_endpoints (id) ON DELETE CASCADE,
    event_id          TEXT NOT NULL REFERENCES webhook_events (id),
    attempt           INTEGER NOT NULL,
    outcome           TEXT NOT NULL,
    response_status   INTEGER,
    request_excerpt   TEXT NOT NULL,
    response_excerpt  TEXT NOT NULL,
    duration_ms       BIGINT NOT NULL,
    created_at        TIMESTAMP NOT NULL
);
CREATE INDEX webhook_deliveries_endpoint_idx ON webhook_deliveries (endpoint_id, created_at DESC, id DESC);
