-- sessiond migration 004: tell every sessiond host when a session changes, so
-- their per-host caches drop it. NOTIFY is delivered when the transaction
-- commits; each host's listener invalidates the session ("s:<id>").
-- A trigger, so every path notifies: sessiond's own writes, cleanup_sessions,
-- and an operator's manual UPDATE (e.g. revoking by hand).
-- Pure activity updates (the periodic last_activity flush) do not notify.
CREATE FUNCTION sessiond_notify_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('sessiond_cache', 's:' || OLD.id::text);
    RETURN NULL;
END $$;

CREATE TRIGGER sessions_notify_update
AFTER UPDATE ON sessions
FOR EACH ROW
WHEN (OLD.version IS DISTINCT FROM NEW.version
      OR OLD.token_hash IS DISTINCT FROM NEW.token_hash
      OR OLD.revoked_at IS DISTINCT FROM NEW.revoked_at
      OR OLD.expires_at IS DISTINCT FROM NEW.expires_at
      OR OLD.subscription_plan IS DISTINCT FROM NEW.subscription_plan
      OR OLD.subscription_status IS DISTINCT FROM NEW.subscription_status
      OR OLD.session_data IS DISTINCT FROM NEW.session_data)
EXECUTE FUNCTION sessiond_notify_change();

CREATE TRIGGER sessions_notify_delete
AFTER DELETE ON sessions
FOR EACH ROW
EXECUTE FUNCTION sessiond_notify_change();
