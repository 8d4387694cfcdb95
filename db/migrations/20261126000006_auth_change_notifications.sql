-- migrate:up

-- Fail instead of queueing traffic behind this migration's locks (README, "Migrations while serving").
SET LOCAL lock_timeout = '5s';

-- Every service process keeps the tokens it has verified in a short-lived cache (README, "Token cache"). It
-- must hear of every change that can end a session, whoever makes it (the API, psql, `flowcrm users`, another
-- service process): a NOTIFY on channel `auth_changed`, delivered at commit, with the user's id, or `*` when
-- users was truncated. A service that does not find these triggers does not cache.
CREATE FUNCTION notify_auth_changed() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  IF TG_LEVEL = 'STATEMENT' THEN
    PERFORM pg_notify('auth_changed', '*');
  ELSIF TG_TABLE_NAME = 'users' THEN
    PERFORM pg_notify('auth_changed', OLD.id::text);
  ELSE
    PERFORM pg_notify('auth_changed', NEW.user_id::text);
  END IF;
  RETURN NULL;
END;
$$;

CREATE TRIGGER users_auth_changed AFTER UPDATE OR DELETE ON users
  FOR EACH ROW EXECUTE FUNCTION notify_auth_changed();
CREATE TRIGGER users_truncated_auth_changed AFTER TRUNCATE ON users
  FOR EACH STATEMENT EXECUTE FUNCTION notify_auth_changed();
CREATE TRIGGER revoked_tokens_auth_changed AFTER INSERT ON revoked_tokens
  FOR EACH ROW EXECUTE FUNCTION notify_auth_changed();

-- migrate:down

SET LOCAL lock_timeout = '5s';

DROP TRIGGER revoked_tokens_auth_changed ON revoked_tokens;
DROP TRIGGER users_truncated_auth_changed ON users;
DROP TRIGGER users_auth_changed ON users;
DROP FUNCTION notify_auth_changed();
