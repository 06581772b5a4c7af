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
    SELECT to_char(created_at, 'YYYY-MM-DD') AS day, currency, 1 AS started,
           CASE WHEN paid_at IS NULL THEN 0 ELSE 1 END AS completed, 0 AS paid_orders,
           0 AS paid_cents, 0 AS refunded_cents
    FROM orders
    UNION ALL
    SELECT to_char(paid_at, 'YYYY-MM-DD'), currency, 0, 0, 1, COALESCE(total_cents, amount_cents), 0
    FROM orders WHERE paid_at IS NOT NULL
    UNION ALL
    SELECT to_char(refunded_at, 'YYYY-MM-DD'), currency, 0, 0, 0, 0, refunded_cents
    FROM orders WHERE refunded_at IS NOT NULL
) parts
GROUP BY day, currency;
INSERT INTO product_sales_days (day, currency, product_id, paid_orders, paid_cents)
SELECT to_char(paid_at, 'YYYY-MM-DD'), currency, product_id, COUNT(*), SUM(COALESCE(total_cents, amount_cents))
FROM orders WHERE paid_at IS NOT NULL
GROUP BY to_char(paid_at, 'YYYY-MM-DD'), currency, product_id;

CREATE FUNCTION folio_sales_part(created TIMESTAMP, paid TIMESTAMP, refunded TIMESTAMP,
                                 cur TEXT, product TEXT, total BIGINT, refund BIGINT, sign BIGINT)
RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO sales_days AS s VALUES (to_char(created, 'YYYY-MM-DD'), cur, sign,
        CASE WHEN paid IS NULL THEN 0 ELSE sign END, 0, 0, 0)
    ON CONFLICT (day, currency) DO UPDATE
        SET started = s.started + EXCLUDED.started, completed = s.completed + EXCLUDED.completed;
    IF paid IS NOT NULL THEN
        INSERT INTO sales_days AS s VALUES (to_char(paid, 'YYYY-MM-DD'), cur, 0, 0, sign,
            sign * total, 0)
        ON CONFLICT (day, currency) DO UPDATE
            SET paid_orders = s.paid_orders + EXCLUDED.paid_orders,
                paid_cents = s.paid_cents + EXCLUDED.paid_cents;
        INSERT INTO product_sales_days AS s VALUES (to_char(paid, 'YYYY-MM-DD'), cur, product,
            sign, sign * total)
        ON CONFLICT (day, currency, product_id) DO UPDATE
            SET paid_orders = s.paid_orders + EXCLUDED.paid_orders,
                paid_cents = s.paid_cents + EXCLUDED.paid_cents;
    END IF;
    IF refunded IS NOT NULL AND refund <> 0 THEN
        INSERT INTO sales_days AS s VALUES (to_char(refunded, 'YYYY-MM-DD'), cur, 0, 0, 0, 0,
            sign * refund)
        ON CONFLICT (day, currency) DO UPDATE
            SET refunded_cents = s.refunded_cents + EXCLUDED.refunded_cents;
    END IF;
END $$;

CREATE FUNCTION folio_sales_days() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        PERFORM folio_sales_part(OLD.created_at, OLD.paid_at, OLD.refunded_at, OLD.currency,
            OLD.product_id, COALESCE(OLD.total_cents, OLD.amount_cents), OLD.refunded_cents, -1);
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        PERFORM folio_sales_part(NEW.created_at, NEW.paid_at, NEW.refunded_at, NEW.currency,
            NEW.product_id, COALESCE(NEW.total_cents, NEW.amount_cents), NEW.refunded_cents, 1);
    END IF;
    RETURN NULL;
END $$;

CREATE TRIGGER orders_sales_days
    AFTER INSERT OR DELETE OR UPDATE OF created_at, paid_at, refunded_at, currency, product_id,
        total_cents, amount_cents, refunded_cents
    ON orders FOR EACH ROW EXECUTE FUNCTION folio_sales_days();

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
