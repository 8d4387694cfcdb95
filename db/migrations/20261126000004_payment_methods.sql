-- migrate:up

-- Fail instead of queueing traffic behind this migration's locks (README, "Migrations while serving").
SET LOCAL lock_timeout = '5s';

-- Payment methods (contract 6.2, 8) and the optional payment method of a pre-sale (decision 10.4).
CREATE TABLE payment_methods (
  id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
  code VARCHAR(50) NOT NULL UNIQUE,
  description VARCHAR(255) NOT NULL,
  is_active BOOLEAN NOT NULL DEFAULT true,
  created_by UUID NULL REFERENCES users(id) ON DELETE SET NULL,
  created_at TIMESTAMP DEFAULT NOW() NOT NULL,
  updated_at TIMESTAMP DEFAULT NOW() NOT NULL,
  CONSTRAINT payment_methods_description_length CHECK (char_length(btrim(description)) BETWEEN 2 AND 255)
);

CREATE INDEX payment_methods_is_active_idx ON payment_methods (is_active);
CREATE INDEX payment_methods_description_idx ON payment_methods (description);
CREATE INDEX payment_methods_created_by_idx ON payment_methods (created_by);

CREATE TRIGGER payment_methods_set_updated_at BEFORE UPDATE ON payment_methods
  FOR EACH ROW EXECUTE FUNCTION set_updated_at();

-- The five methods the earlier backend seeded.
INSERT INTO payment_methods (code, description) VALUES
  ('PM0001', 'Dinheiro'),
  ('PM0002', 'Cartão de Crédito'),
  ('PM0003', 'Cartão de Débito'),
  ('PM0004', 'PIX'),
  ('PM0005', 'Boleto Bancário');

-- No action on delete: a method used by pre-sales cannot be deleted (answered 409).
ALTER TABLE presales ADD COLUMN payment_method_id UUID NULL REFERENCES payment_methods(id);
CREATE INDEX presales_payment_method_id_idx ON presales (payment_method_id);
CREATE INDEX presales_status_payment_method_created_at_idx ON presales (status, payment_method_id, created_at);

-- migrate:down

SET LOCAL lock_timeout = '5s';

DROP INDEX presales_status_payment_method_created_at_idx;
DROP INDEX presales_payment_method_id_idx;
ALTER TABLE presales DROP COLUMN payment_method_id;
DROP TRIGGER payment_methods_set_updated_at ON payment_methods;
DROP TABLE payment_methods;
