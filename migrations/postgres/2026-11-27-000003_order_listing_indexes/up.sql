-- The admin order list walks orders newest first; without this every page scanned and sorted
-- all orders (100k orders: a page took seconds, found by the soak).
CREATE INDEX orders_created_idx ON orders (created_at DESC, id DESC);
-- Sales per product in the admin product list.
CREATE INDEX orders_product_idx ON orders (product_id, status);
