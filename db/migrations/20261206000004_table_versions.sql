-- migrate:up
SET LOCAL lock_timeout = '5s';

-- A version of each table the big lists read, raised by PostgreSQL itself in the same transaction as every
-- statement that writes to it (INSERT, UPDATE, DELETE, TRUNCATE, COPY), whoever runs it. A worker keeps the pages it
-- answered with the versions they were read at, and answers a page again from memory while those versions have
-- not moved (service/db/page_cache.py).
--
-- A table's version is the sum of its rows here. Each transaction raises one of 64 rows, chosen by its backend (as
-- row_counts does), so that concurrent writers rarely wait for each other's commit on the same row. Each write raises
-- it by a random amount, not by one: versions counted again from zero (this table emptied or re-created, a backup
-- restored and written to since) must not meet the numbers a worker kept from before. numeric: never overflows.
CREATE TABLE table_versions (
    table_name text NOT NULL,
    shard smallint NOT NULL,
    version numeric NOT NULL,
    CONSTRAINT table_versions_pkey PRIMARY KEY (table_name, shard)
);

CREATE FUNCTION raise_table_version() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
  changed boolean;
BEGIN
  -- A statement that changed no row (an UPDATE or DELETE that matched nothing) writes nothing here either. Each
  -- transition table is named in a statement of its own: a statement is planned whole, and each trigger has one.
  IF TG_OP = 'TRUNCATE' THEN
    changed := true;
  ELSIF TG_OP = 'DELETE' THEN
    changed := EXISTS (SELECT FROM old_rows);
  ELSE
    changed := EXISTS (SELECT FROM new_rows);
  END IF;
  IF changed THEN
    INSERT INTO table_versions AS v (table_name, shard, version) VALUES (TG_TABLE_NAME, pg_backend_pid() % 64, 1 + floor(random() * 1e15))
      ON CONFLICT (table_name, shard) DO UPDATE SET version = v.version + excluded.version;
  END IF;
  RETURN NULL;
END;
$$;

-- One trigger per kind of write: a trigger with transition tables (to tell a statement that changed nothing) may
-- have only one event.
CREATE TRIGGER customers_versioned_insert AFTER INSERT ON customers
  REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION raise_table_version();
CREATE TRIGGER customers_versioned_update AFTER UPDATE ON customers
  REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION raise_table_version();
CREATE TRIGGER customers_versioned_delete AFTER DELETE ON customers
  REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION raise_table_version();
CREATE TRIGGER customers_versioned_truncate AFTER TRUNCATE ON customers
  FOR EACH STATEMENT EXECUTE FUNCTION raise_table_version();
CREATE TRIGGER products_versioned_insert AFTER INSERT ON products
  REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION raise_table_version();
CREATE TRIGGER products_versioned_update AFTER UPDATE ON products
  REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION raise_table_version();
CREATE TRIGGER products_versioned_delete AFTER DELETE ON products
  REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION raise_table_version();
CREATE TRIGGER products_versioned_truncate AFTER TRUNCATE ON products
  FOR EACH STATEMENT EXECUTE FUNCTION raise_table_version();
CREATE TRIGGER presales_versioned_insert AFTER INSERT ON presales
  REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION raise_table_version();
CREATE TRIGGER presales_versioned_update AFTER UPDATE ON presales
  REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION raise_table_version();
CREATE TRIGGER presales_versioned_delete AFTER DELETE ON presales
  REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION raise_table_version();
CREATE TRIGGER presales_versioned_truncate AFTER TRUNCATE ON presales
  FOR EACH STATEMENT EXECUTE FUNCTION raise_table_version();
CREATE TRIGGER presale_items_versioned_insert AFTER INSERT ON presale_items
  REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION raise_table_version();
CREATE TRIGGER presale_items_versioned_update AFTER UPDATE ON presale_items
  REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION raise_table_version();
CREATE TRIGGER presale_items_versioned_delete AFTER DELETE ON presale_items
  REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION raise_table_version();
CREATE TRIGGER presale_items_versioned_truncate AFTER TRUNCATE ON presale_items
  FOR EACH STATEMENT EXECUTE FUNCTION raise_table_version();

-- migrate:down
SET LOCAL lock_timeout = '5s';

DROP TRIGGER presale_items_versioned_truncate ON presale_items;
DROP TRIGGER presale_items_versioned_delete ON presale_items;
DROP TRIGGER presale_items_versioned_update ON presale_items;
DROP TRIGGER presale_items_versioned_insert ON presale_items;
DROP TRIGGER presales_versioned_truncate ON presales;
DROP TRIGGER presales_versioned_delete ON presales;
DROP TRIGGER presales_versioned_update ON presales;
DROP TRIGGER presales_versioned_insert ON presales;
DROP TRIGGER products_versioned_truncate ON products;
DROP TRIGGER products_versioned_delete ON products;
DROP TRIGGER products_versioned_update ON products;
DROP TRIGGER products_versioned_insert ON products;
DROP TRIGGER customers_versioned_truncate ON customers;
DROP TRIGGER customers_versioned_delete ON customers;
DROP TRIGGER customers_versioned_update ON customers;
DROP TRIGGER customers_versioned_insert ON customers;
DROP FUNCTION raise_table_version();
DROP TABLE table_versions;
