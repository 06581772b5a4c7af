-- Refund and dispute events name the payment intent, not the order.
CREATE INDEX orders_payment_intent_idx ON orders (stripe_payment_intent_id);
