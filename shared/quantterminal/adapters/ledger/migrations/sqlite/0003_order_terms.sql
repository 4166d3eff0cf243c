-- An order's terms beyond a plain day order -- stop price, trailing distance, time in force, exit
-- legs, the entry a leg belongs to -- as the JSON object of ``core.accounting.order_terms``
-- (NULL: a plain day market or limit order, as every order before this migration was).
ALTER TABLE orders ADD COLUMN terms TEXT;
