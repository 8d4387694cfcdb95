-- migrate:up transaction:false

-- Customer pages are sorted by a column and then by id (ties in a stable order). An index on the column alone
-- leaves PostgreSQL to sort every run of equal names before it can return a page: measured at 1,000,000
-- customers with repeated names, a first page read ~4,500 rows instead of 50 (bench/README.md, "Scale").
-- With id in the index the page is read in order and stops at the limit, in either direction.
--
-- customers may be large and in use: the indexes are built and dropped CONCURRENTLY, so reads and writes go on
-- (README, "Migrations while serving"). PostgreSQL runs a CONCURRENTLY statement only alone, outside any
-- transaction, so each has a transaction:false section of its own; this first one sets the connection's
-- lock_timeout for the sections after it. A rerun after an interrupted section, or a second pipeline at the
-- same moment, repeats sections: every statement is idempotent (IF [NOT] EXISTS), and the last section refuses
-- to record the migration while an interrupted build has left an INVALID index behind. A build may take long
-- without blocking anyone: a statement_timeout set on the role (README, PgBouncer) must not cancel it. A second
-- pipeline must not wait for a build either (it would wait holding a snapshot, which the build waits for: a
-- deadlock): it fails at once on the lock below. The lock is held until this dbmate's connection ends, so
-- the second pipeline cannot take it between two of the first one's files either.
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
CREATE INDEX CONCURRENTLY IF NOT EXISTS customers_name_id_idx ON customers (name, id);
-- migrate:down transaction:false
DROP INDEX CONCURRENTLY IF EXISTS customers_name_id_idx;

-- migrate:up transaction:false
CREATE INDEX CONCURRENTLY IF NOT EXISTS customers_created_at_id_idx ON customers (created_at, id);
-- migrate:down transaction:false
DROP INDEX CONCURRENTLY IF EXISTS customers_created_at_id_idx;

-- migrate:up transaction:false
DROP INDEX CONCURRENTLY IF EXISTS customers_name_idx;
-- migrate:down transaction:false
CREATE INDEX CONCURRENTLY IF NOT EXISTS customers_name_idx ON customers (name);

-- migrate:up transaction:false
DROP INDEX CONCURRENTLY IF EXISTS customers_created_at_idx;
-- migrate:down transaction:false
CREATE INDEX CONCURRENTLY IF NOT EXISTS customers_created_at_idx ON customers (created_at);

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
