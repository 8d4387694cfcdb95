-- migrate:up

-- Fail instead of queueing traffic behind this migration's locks (README, "Migrations while serving").
SET LOCAL lock_timeout = '5s';

-- Reference schema (shared/reference-schema.sql) reproduced exactly, plus the
-- service's additions (api-contract.md §8, §10) appended after the reference
-- columns. gen_random_uuid() is built in since PostgreSQL 13: no extension.

CREATE TYPE user_role AS ENUM ('admin', 'manager', 'employee');
CREATE TYPE presale_status AS ENUM ('draft', 'pending', 'approved', 'cancelled', 'converted');
CREATE TYPE discount_type AS ENUM ('fixed', 'percentage');
CREATE TYPE stock_adjustment_type AS ENUM ('add', 'remove');

CREATE TABLE users (
  id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
  email VARCHAR(255) NOT NULL UNIQUE,
  password VARCHAR(255) NOT NULL,
  name VARCHAR(255) NOT NULL,
  role user_role NOT NULL,
  created_at TIMESTAMP DEFAULT NOW() NOT NULL,
  updated_at TIMESTAMP DEFAULT NOW() NOT NULL,
  permissions JSONB NULL,
  -- Tokens issued before this instant are invalid (bumped on password/role/email change).
  tokens_valid_after TIMESTAMP NOT NULL DEFAULT NOW()
);

CREATE TABLE customers (
  id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
  name VARCHAR(255) NOT NULL,
  email VARCHAR(255) NOT NULL,
  phone VARCHAR(20) NOT NULL,
  cpf VARCHAR(14) NOT NULL UNIQUE,
  address TEXT,
  created_at TIMESTAMP DEFAULT NOW() NOT NULL,
  updated_at TIMESTAMP DEFAULT NOW() NOT NULL
);

CREATE TABLE products (
  id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
  code VARCHAR(50) NOT NULL UNIQUE,
  name VARCHAR(255) NOT NULL,
  unit VARCHAR(20) NOT NULL,
  description TEXT,
  stock INTEGER DEFAULT 0 NOT NULL,
  purchase_price DECIMAL(10,2) NOT NULL,
  sale_price DECIMAL(10,2) NOT NULL,
  sale_type VARCHAR(50) NOT NULL,
  created_at TIMESTAMP DEFAULT NOW() NOT NULL,
  updated_at TIMESTAMP DEFAULT NOW() NOT NULL
);

CREATE TABLE presales (
  id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
  customer_id UUID REFERENCES customers(id) NOT NULL,
  status presale_status NOT NULL,
  total DECIMAL(10,2) NOT NULL,
  discount DECIMAL(10,2) DEFAULT 0 NOT NULL,
  notes TEXT,
  created_at TIMESTAMP DEFAULT NOW() NOT NULL,
  updated_at TIMESTAMP DEFAULT NOW() NOT NULL,
  discount_type discount_type NOT NULL DEFAULT 'fixed',
  discount_percentage NUMERIC(5,2) NOT NULL DEFAULT 0,
  created_by UUID NULL REFERENCES users(id) ON DELETE SET NULL
);

CREATE TABLE presale_items (
  id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
  presale_id UUID REFERENCES presales(id) ON DELETE CASCADE NOT NULL,
  product_id UUID REFERENCES products(id) NOT NULL,
  quantity DECIMAL(10,3) NOT NULL,
  unit_price DECIMAL(10,2) NOT NULL,
  total_price DECIMAL(10,2) NOT NULL,
  discount DECIMAL(10,2) DEFAULT 0 NOT NULL,
  discount_type discount_type NOT NULL DEFAULT 'fixed',
  discount_percentage NUMERIC(5,2) NOT NULL DEFAULT 0
);

-- Stock history (contract §6.1, §7.4, §7.7, §8).
CREATE TABLE stock_adjustments (
  id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
  product_id UUID NOT NULL REFERENCES products(id),
  adjustment_type stock_adjustment_type NOT NULL,
  quantity INTEGER NOT NULL,
  previous_stock INTEGER NOT NULL,
  new_stock INTEGER NOT NULL,
  reason TEXT NOT NULL,
  user_id UUID NULL REFERENCES users(id) ON DELETE SET NULL,
  user_name VARCHAR(255) NOT NULL,
  ip_address VARCHAR(45) NULL,
  user_agent TEXT NULL,
  -- The presale conversion that caused this adjustment, if any.
  presale_id UUID NULL REFERENCES presales(id) ON DELETE SET NULL,
  created_at TIMESTAMP DEFAULT NOW() NOT NULL
);

-- Server-side logout (contract §10.1): revoked JWTs keyed by jti, purged after expiry.
CREATE TABLE revoked_tokens (
  jti UUID PRIMARY KEY,
  user_id UUID NULL REFERENCES users(id) ON DELETE CASCADE,
  expires_at TIMESTAMP NOT NULL
);

-- migrate:down

SET LOCAL lock_timeout = '5s';

DROP TABLE revoked_tokens;
DROP TABLE stock_adjustments;
DROP TABLE presale_items;
DROP TABLE presales;
DROP TABLE products;
DROP TABLE customers;
DROP TABLE users;

DROP TYPE stock_adjustment_type;
DROP TYPE discount_type;
DROP TYPE presale_status;
DROP TYPE user_role;
