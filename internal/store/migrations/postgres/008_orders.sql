-- orders/1: each credential delivery names the order it carries (its
-- reference), so the e-service can show an order's credentials as opened
-- and withdraw its sealed box when the order is cancelled or resent.
ALTER TABLE eservice_deliveries ADD COLUMN order_ref TEXT NOT NULL DEFAULT '';
