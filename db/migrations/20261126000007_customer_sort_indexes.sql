-- migrate:up

-- Customer pages are sorted by a column and then by id (ties in a stable order). An index on the column alone
-- leaves PostgreSQL to sort every run of equal names before it can return a page: measured at 1,000,000
-- customers with repeated names, a first page read ~4,500 rows instead of 50 (bench/README.md, "Scale").
-- With id in the index the page is read in order and stops at the limit, in either direction.
CREATE INDEX customers_name_id_idx ON customers (name, id);
CREATE INDEX customers_created_at_id_idx ON customers (created_at, id);
DROP INDEX customers_name_idx;
DROP INDEX customers_created_at_idx;

-- migrate:down

CREATE INDEX customers_name_idx ON customers (name);
CREATE INDEX customers_created_at_idx ON customers (created_at);
DROP INDEX customers_created_at_id_idx;
DROP INDEX customers_name_id_idx;
