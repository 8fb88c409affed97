-- sessiond migration 004: when a session changes, drop every cached copy.
--  - session_cache (this database): the row is deleted; sessiond's own write
--    functions then put the new version back in the same transaction.
--  - every sessiond host's per-host cache: NOTIFY sessiond_cache 's:<id>',
--    delivered when the transaction commits, applied by each host's listener.
-- A trigger, so every path is covered: sessiond's writes, cleanup_sessions,
-- and an operator's manual UPDATE (e.g. revoking a session by hand).
-- Pure activity updates (the periodic last_activity flush) do neither.
CREATE FUNCTION sessiond_notify_change() RETURNS trigger
LANGUAGE plpgsql VOLATILE AS $$
BEGIN
    -- Its own statement, so it also sees a cache fill committed meanwhile.
    DELETE FROM session_cache c WHERE c.id = OLD.id;
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
