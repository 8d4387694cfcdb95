-- migrate:up
SET LOCAL lock_timeout = '5s';

-- The rate limits' counters (README, "Limits shared by every instance"), shared by every process and instance
-- of the service: one row per (limit, key), e.g. ('login-failures-per-account', 'a@example.com'), holding the
-- times of the hits counted in the sliding window, in microseconds since the epoch of the service's clock.
-- UNLOGGED: no WAL is written for them (a hit is a write on a hot path) and a crash of PostgreSQL empties the
-- table, which only forgives the hits of the last window. `expires_at` is when the newest hit leaves the window:
-- past it the row is dead, and the service deletes such rows (service/http/ratelimit.py).
CREATE UNLOGGED TABLE rate_limits (
    bucket text NOT NULL,
    key text NOT NULL,
    hits bigint[] NOT NULL,
    expires_at bigint NOT NULL,
    CONSTRAINT rate_limits_pkey PRIMARY KEY (bucket, key)
);

-- migrate:down
SET LOCAL lock_timeout = '5s';

DROP TABLE rate_limits;
