-- migrate:up transaction:false

-- A product search matches code, name or description (lower(...) LIKE '%term%'). Code and name had trigram
-- indexes, description none, so every search read the whole table, twice (the page and its count), lowering
-- three columns of every row: ~1.7 ms each at 1,000 products, against ~0.25 ms through the three trigram
-- indexes (bench/README.md). With this index every condition of the products list has an index, and it is
-- read through them (service/products/queries.py, by_index).
--
-- products may be in use: the index is built and dropped CONCURRENTLY, in sections of their own, with the same
-- guards as 20261126000007_customer_sort_indexes.sql (read its comment): a lock that a second pipeline fails
-- on at once, and a last section that refuses to record the migration over an INVALID index.
SET lock_timeout = '5s';
SET statement_timeout = 0;
DO $$
BEGIN
  IF NOT pg_try_advisory_lock(hashtext('flowcrm: concurrent index builds')) THEN
    RAISE EXCEPTION 'another migration is building indexes concurrently on this database: '
      'run it again once that one has finished';
  END IF;
END $$;

-- migrate:down transaction:false

DO $$
DECLARE invalid text := (SELECT string_agg(indexrelid::regclass::text, ', ') FROM pg_index
                         JOIN pg_class ON pg_class.oid = indexrelid
                         WHERE NOT indisvalid AND relnamespace = current_schema()::regnamespace);
BEGIN
  IF invalid IS NOT NULL THEN
    RAISE EXCEPTION 'INVALID index % (left by an interrupted concurrent build, or a build still running): '
      'once no build runs, drop it concurrently and run the migration again', invalid;
  END IF;
END $$;
RESET lock_timeout;
RESET statement_timeout;

-- migrate:up transaction:false
CREATE INDEX CONCURRENTLY IF NOT EXISTS products_description_trgm_idx ON products USING gin (lower(description) gin_trgm_ops);
-- migrate:down transaction:false
DROP INDEX CONCURRENTLY IF EXISTS products_description_trgm_idx;

-- migrate:up transaction:false

DO $$
DECLARE invalid text := (SELECT string_agg(indexrelid::regclass::text, ', ') FROM pg_index
                         JOIN pg_class ON pg_class.oid = indexrelid
                         WHERE NOT indisvalid AND relnamespace = current_schema()::regnamespace);
BEGIN
  IF invalid IS NOT NULL THEN
    RAISE EXCEPTION 'INVALID index % (left by an interrupted concurrent build, or a build still running): '
      'once no build runs, drop it concurrently and run the migration again', invalid;
  END IF;
END $$;
RESET lock_timeout;
RESET statement_timeout;

-- migrate:down transaction:false

-- Rollback runs the sections backwards: this one first.
SET lock_timeout = '5s';
SET statement_timeout = 0;
DO $$
BEGIN
  IF NOT pg_try_advisory_lock(hashtext('flowcrm: concurrent index builds')) THEN
    RAISE EXCEPTION 'another migration is building indexes concurrently on this database: '
      'run it again once that one has finished';
  END IF;
END $$;
