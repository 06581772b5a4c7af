DROP INDEX orders_payment_intent_idx;
