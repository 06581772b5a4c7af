-- SQLite flavour: kept column-for-column equal to the PostgreSQL migration of the same name.
-- Pricing: discount codes, pay what you want, bundles, and the tax and invoice of each order.

-- A code a buyer types at checkout. Codes are stored upper-case and looked up upper-case, so
-- they are case-insensitive and unique. Exactly one of percent_off and amount_off_cents is set;
-- an amount off is in one currency. A redemption is an order naming the discount that has not
-- failed or expired, so a checkout reserves it and an expired session releases it.
CREATE TABLE discounts (
    id               TEXT PRIMARY KEY,
    code             TEXT NOT NULL UNIQUE,
    percent_off      INTEGER,
    amount_off_cents BIGINT,
    currency         TEXT,
    starts_at        TIMESTAMP,
    ends_at          TIMESTAMP,
    max_redemptions  INTEGER,
    max_per_customer INTEGER,
    all_products     BOOLEAN NOT NULL,
    active           BOOLEAN NOT NULL,
    created_at       TIMESTAMP NOT NULL,
    updated_at       TIMESTAMP NOT NULL,
    CHECK ((percent_off IS NULL) <> (amount_off_cents IS NULL))
);

-- The products a discount is limited to, when it is not for all of them.
CREATE TABLE discount_products (
    discount_id TEXT NOT NULL REFERENCES discounts (id),
    product_id  TEXT NOT NULL REFERENCES products (id),
    PRIMARY KEY (discount_id, product_id)
);

-- A bundle's contents, in the seller's order.
CREATE TABLE bundle_items (
    bundle_id  TEXT NOT NULL REFERENCES products (id),
    product_id TEXT NOT NULL REFERENCES products (id),
    position   INTEGER NOT NULL,
    PRIMARY KEY (bundle_id, product_id)
);
CREATE INDEX bundle_items_product_idx ON bundle_items (product_id);

-- Pay what you want: price_cents is then the minimum.
ALTER TABLE products ADD COLUMN pay_what_you_want BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE products ADD COLUMN suggested_price_cents BIGINT;

-- What the order was priced at before a discount (amount_cents is what Stripe was asked for,
-- before tax), the code that took the difference off, and the tax, total and invoice Stripe
-- reported when the session completed.
ALTER TABLE orders ADD COLUMN list_price_cents BIGINT NOT NULL DEFAULT 0;
UPDATE orders SET list_price_cents = amount_cents;
ALTER TABLE orders ADD COLUMN discount_id TEXT REFERENCES discounts (id);
ALTER TABLE orders ADD COLUMN discount_code TEXT;
ALTER TABLE orders ADD COLUMN tax_cents BIGINT;
ALTER TABLE orders ADD COLUMN total_cents BIGINT;
ALTER TABLE orders ADD COLUMN stripe_invoice_id TEXT;
ALTER TABLE orders ADD COLUMN invoice_url TEXT;
CREATE INDEX orders_discount_idx ON orders (discount_id, user_id);

-- An item owned through a bundle names the bundle. Not declared a foreign key: a second key
-- from entitlements to products would cost the schema its one join between the two (diesel
-- expresses one per pair of tables); the bundle is a product that is never deleted.
ALTER TABLE entitlements ADD COLUMN via_product_id TEXT;
