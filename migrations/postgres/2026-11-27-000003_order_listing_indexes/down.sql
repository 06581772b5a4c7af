DROP INDEX orders_product_idx;
DROP INDEX orders_created_idx;
