-- migrate:up
SET LOCAL lock_timeout = '5s';

-- How many rows customers, products and presales hold, kept by PostgreSQL itself at every insert, delete and
-- truncate, whoever makes it (the API, psql, a bulk load), in the same transaction: a list's total without counting
-- the table (service/db/pages.py). Counting 10,000 customers for every page was most of the page's cost, and past
-- 10,000 rows the total used to be the planner's estimate.
--
-- The count of a table is the sum of its rows here. Each transaction adds its change to one of 64 rows, chosen by
-- its backend, so that concurrent writers rarely wait for each other's commit on the same row.
CREATE TABLE row_counts (
    table_name text NOT NULL,
    shard smallint NOT NULL,
    n bigint NOT NULL,
    CONSTRAINT row_counts_pkey PRIMARY KEY (table_name, shard)
);

CREATE FUNCTION count_rows_changed() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
  delta bigint;
BEGIN
  IF TG_OP = 'TRUNCATE' THEN
    DELETE FROM row_counts WHERE table_name = TG_TABLE_NAME;
    RETURN NULL;
  ELSIF TG_OP = 'INSERT' THEN
    SELECT count(*) INTO delta FROM new_rows;
  ELSE
    SELECT -count(*) INTO delta FROM old_rows;
  END IF;
  IF delta <> 0 THEN  -- a statement that changed nothing takes no lock
    INSERT INTO row_counts AS c (table_name, shard, n) VALUES (TG_TABLE_NAME, pg_backend_pid() % 64, delta)
      ON CONFLICT (table_name, shard) DO UPDATE SET n = c.n + excluded.n;
  END IF;
  RETURN NULL;
END;
$$;

CREATE TRIGGER customers_counted_insert AFTER INSERT ON customers
  REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION count_rows_changed();
CREATE TRIGGER customers_counted_delete AFTER DELETE ON customers
  REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION count_rows_changed();
CREATE TRIGGER customers_counted_truncate AFTER TRUNCATE ON customers
  FOR EACH STATEMENT EXECUTE FUNCTION count_rows_changed();
CREATE TRIGGER products_counted_insert AFTER INSERT ON products
  REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION count_rows_changed();
CREATE TRIGGER products_counted_delete AFTER DELETE ON products
  REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION count_rows_changed();
CREATE TRIGGER products_counted_truncate AFTER TRUNCATE ON products
  FOR EACH STATEMENT EXECUTE FUNCTION count_rows_changed();
CREATE TRIGGER presales_counted_insert AFTER INSERT ON presales
  REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION count_rows_changed();
CREATE TRIGGER presales_counted_delete AFTER DELETE ON presales
  REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION count_rows_changed();
CREATE TRIGGER presales_counted_truncate AFTER TRUNCATE ON presales
  FOR EACH STATEMENT EXECUTE FUNCTION count_rows_changed();

-- The rows already there. Creating the triggers locked out writers until this migration commits, so none is
-- missed or counted twice.
INSERT INTO row_counts (table_name, shard, n)
  SELECT 'customers', 0, count(*) FROM customers HAVING count(*) > 0
  UNION ALL SELECT 'products', 0, count(*) FROM products HAVING count(*) > 0
  UNION ALL SELECT 'presales', 0, count(*) FROM presales HAVING count(*) > 0;

-- migrate:down
SET LOCAL lock_timeout = '5s';

DROP TRIGGER presales_counted_truncate ON presales;
DROP TRIGGER presales_counted_delete ON presales;
DROP TRIGGER presales_counted_insert ON presales;
DROP TRIGGER products_counted_truncate ON products;
DROP TRIGGER products_counted_delete ON products;
DROP TRIGGER products_counted_insert ON products;
DROP TRIGGER customers_counted_truncate ON customers;
DROP TRIGGER customers_counted_delete ON customers;
DROP TRIGGER customers_counted_insert ON customers;
DROP FUNCTION count_rows_changed();
DROP TABLE row_counts;
