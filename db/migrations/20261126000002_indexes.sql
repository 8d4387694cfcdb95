-- migrate:up

-- Fail instead of queueing traffic behind this migration's locks (README, "Migrations while serving").
SET LOCAL lock_timeout = '5s';

CREATE EXTENSION IF NOT EXISTS pg_trgm;

-- Foreign-key columns (those not already leading a PK/UNIQUE index).
CREATE INDEX presales_customer_id_idx ON presales (customer_id);
CREATE INDEX presales_created_by_idx ON presales (created_by);
CREATE INDEX presale_items_presale_id_idx ON presale_items (presale_id);
CREATE INDEX presale_items_product_id_idx ON presale_items (product_id);
CREATE INDEX stock_adjustments_product_id_idx ON stock_adjustments (product_id);
CREATE INDEX stock_adjustments_user_id_idx ON stock_adjustments (user_id);
CREATE INDEX stock_adjustments_presale_id_idx ON stock_adjustments (presale_id);
CREATE INDEX revoked_tokens_user_id_idx ON revoked_tokens (user_id);

-- List sort / filter columns.
CREATE INDEX customers_name_idx ON customers (name);
CREATE INDEX customers_created_at_idx ON customers (created_at);
CREATE INDEX products_name_idx ON products (name);
CREATE INDEX products_stock_idx ON products (stock);
CREATE INDEX products_sale_price_idx ON products (sale_price);
CREATE INDEX products_created_at_idx ON products (created_at);
CREATE INDEX presales_created_at_idx ON presales (created_at DESC);
CREATE INDEX presales_status_created_at_idx ON presales (status, created_at DESC);
CREATE INDEX presales_total_idx ON presales (total);
CREATE INDEX stock_adjustments_created_at_idx ON stock_adjustments (created_at DESC);
CREATE INDEX revoked_tokens_expires_at_idx ON revoked_tokens (expires_at);

-- Case-insensitive substring search (ILIKE / lower(col) LIKE '%...%').
CREATE INDEX customers_name_trgm_idx ON customers USING gin (lower(name) gin_trgm_ops);
CREATE INDEX customers_email_trgm_idx ON customers USING gin (lower(email) gin_trgm_ops);
CREATE INDEX customers_cpf_trgm_idx ON customers USING gin (cpf gin_trgm_ops);
CREATE INDEX products_code_trgm_idx ON products USING gin (lower(code) gin_trgm_ops);
CREATE INDEX products_name_trgm_idx ON products USING gin (lower(name) gin_trgm_ops);

-- Case-insensitive uniqueness of e-mail addresses (contract §10.10).
CREATE UNIQUE INDEX customers_email_lower_key ON customers (lower(email));
CREATE UNIQUE INDEX users_email_lower_key ON users (lower(email));

-- migrate:down

SET LOCAL lock_timeout = '5s';

DROP INDEX users_email_lower_key;
DROP INDEX customers_email_lower_key;

DROP INDEX products_name_trgm_idx;
DROP INDEX products_code_trgm_idx;
DROP INDEX customers_cpf_trgm_idx;
DROP INDEX customers_email_trgm_idx;
DROP INDEX customers_name_trgm_idx;

DROP INDEX revoked_tokens_expires_at_idx;
DROP INDEX stock_adjustments_created_at_idx;
DROP INDEX presales_total_idx;
DROP INDEX presales_status_created_at_idx;
DROP INDEX presales_created_at_idx;
DROP INDEX products_created_at_idx;
DROP INDEX products_sale_price_idx;
DROP INDEX products_stock_idx;
DROP INDEX products_name_idx;
DROP INDEX customers_created_at_idx;
DROP INDEX customers_name_idx;

DROP INDEX revoked_tokens_user_id_idx;
DROP INDEX stock_adjustments_presale_id_idx;
DROP INDEX stock_adjustments_user_id_idx;
DROP INDEX stock_adjustments_product_id_idx;
DROP INDEX presale_items_product_id_idx;
DROP INDEX presale_items_presale_id_idx;
DROP INDEX presales_created_by_idx;
DROP INDEX presales_customer_id_idx;

DROP EXTENSION IF EXISTS pg_trgm;
