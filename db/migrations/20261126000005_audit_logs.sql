-- migrate:up

-- Fail instead of queueing traffic behind this migration's locks (README, "Migrations while serving").
SET LOCAL lock_timeout = '5s';

-- Audit log (contract 6.5, 8): who did what to which record, when and from where.
CREATE TYPE audit_action AS ENUM ('login', 'logout', 'create', 'update', 'delete', 'view');

CREATE TABLE audit_logs (
  id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
  user_id UUID NULL REFERENCES users(id) ON DELETE SET NULL,
  user_name VARCHAR(255) NOT NULL,
  action audit_action NOT NULL,
  resource VARCHAR(100) NOT NULL,
  resource_id UUID NULL,
  details TEXT NULL,
  ip_address VARCHAR(45) NULL,
  user_agent TEXT NULL,
  created_at TIMESTAMP DEFAULT NOW() NOT NULL
);

CREATE INDEX audit_logs_user_id_created_at_idx ON audit_logs (user_id, created_at DESC);
CREATE INDEX audit_logs_action_idx ON audit_logs (action);
CREATE INDEX audit_logs_resource_idx ON audit_logs (resource, resource_id);
CREATE INDEX audit_logs_created_at_idx ON audit_logs (created_at DESC);

-- migrate:down

SET LOCAL lock_timeout = '5s';

DROP TABLE audit_logs;
DROP TYPE audit_action;
