-- migrate:up

-- Fail instead of queueing traffic behind this migration's locks (README, "Migrations while serving").
SET LOCAL lock_timeout = '5s';

-- Named CHECK constraints (the service maps these names to field errors).
ALTER TABLE products
  ADD CONSTRAINT products_stock_nonnegative CHECK (stock >= 0),
  ADD CONSTRAINT products_purchase_price_nonnegative CHECK (purchase_price >= 0),
  ADD CONSTRAINT products_sale_price_nonnegative CHECK (sale_price >= 0);

ALTER TABLE presales
  ADD CONSTRAINT presales_total_nonnegative CHECK (total >= 0),
  ADD CONSTRAINT presales_discount_nonnegative CHECK (discount >= 0),
  ADD CONSTRAINT presales_discount_percentage_range CHECK (discount_percentage >= 0 AND discount_percentage <= 100);

ALTER TABLE presale_items
  ADD CONSTRAINT presale_items_quantity_positive CHECK (quantity > 0),
  ADD CONSTRAINT presale_items_unit_price_nonnegative CHECK (unit_price >= 0),
  ADD CONSTRAINT presale_items_total_price_nonnegative CHECK (total_price >= 0),
  ADD CONSTRAINT presale_items_discount_nonnegative CHECK (discount >= 0),
  ADD CONSTRAINT presale_items_discount_percentage_range CHECK (discount_percentage >= 0 AND discount_percentage <= 100);

ALTER TABLE customers
  ADD CONSTRAINT customers_cpf_format CHECK (cpf ~ '^[0-9]{11}$');

ALTER TABLE stock_adjustments
  ADD CONSTRAINT stock_adjustments_quantity_positive CHECK (quantity > 0),
  ADD CONSTRAINT stock_adjustments_stock_nonnegative CHECK (previous_stock >= 0 AND new_stock >= 0);

-- updated_at maintenance.
CREATE FUNCTION set_updated_at() RETURNS trigger
LANGUAGE plpgsql
AS $$
BEGIN
  NEW.updated_at := now();
  RETURN NEW;
END;
$$;

CREATE TRIGGER users_set_updated_at
  BEFORE UPDATE ON users
  FOR EACH ROW EXECUTE FUNCTION set_updated_at();

CREATE TRIGGER customers_set_updated_at
  BEFORE UPDATE ON customers
  FOR EACH ROW EXECUTE FUNCTION set_updated_at();

CREATE TRIGGER products_set_updated_at
  BEFORE UPDATE ON products
  FOR EACH ROW EXECUTE FUNCTION set_updated_at();

CREATE TRIGGER presales_set_updated_at
  BEFORE UPDATE ON presales
  FOR EACH ROW EXECUTE FUNCTION set_updated_at();

-- migrate:down

SET LOCAL lock_timeout = '5s';

DROP TRIGGER presales_set_updated_at ON presales;
DROP TRIGGER products_set_updated_at ON products;
DROP TRIGGER customers_set_updated_at ON customers;
DROP TRIGGER users_set_updated_at ON users;

DROP FUNCTION set_updated_at();

ALTER TABLE stock_adjustments
  DROP CONSTRAINT stock_adjustments_stock_nonnegative,
  DROP CONSTRAINT stock_adjustments_quantity_positive;

ALTER TABLE customers
  DROP CONSTRAINT customers_cpf_format;

ALTER TABLE presale_items
  DROP CONSTRAINT presale_items_discount_percentage_range,
  DROP CONSTRAINT presale_items_discount_nonnegative,
  DROP CONSTRAINT presale_items_total_price_nonnegative,
  DROP CONSTRAINT presale_items_unit_price_nonnegative,
  DROP CONSTRAINT presale_items_quantity_positive;

ALTER TABLE presales
  DROP CONSTRAINT presales_discount_percentage_range,
  DROP CONSTRAINT presales_discount_nonnegative,
  DROP CONSTRAINT presales_total_nonnegative;

ALTER TABLE products
  DROP CONSTRAINT products_sale_price_nonnegative,
  DROP CONSTRAINT products_purchase_price_nonnegative,
  DROP CONSTRAINT products_stock_nonnegative;
