-- sessiond migration 007: cross-host cache invalidation without NOTIFY in the
-- write's transaction (docs/invalidation.md).
--
-- PostgreSQL serialises the commits of transactions that NOTIFY (one
-- cluster-wide lock held through the commit's WAL flush), so a NOTIFY in the
-- sessions trigger capped every write at one fsync at a time. Instead the
-- trigger now appends the session's old token hash to an UNLOGGED log, in the
-- same transaction (no WAL, no lock shared with other writers). Each host's
-- cache listener reads what committed since its previous read, using snapshot
-- visibility (a row is seen exactly once, whatever the commit order), when a
-- writer rings `NOTIFY sessiond_cache` (sessiond's workers: after their commit,
-- in a transaction that writes nothing else and so commits without a WAL
-- flush; other writers: in their transaction) and on a timer.
--
-- UNLOGGED: after a crash it is empty, and every listener has lost its
-- connection and flushes its cache on reconnect; the same on a failover.

CREATE UNLOGGED TABLE session_invalidations (
    xid        xid8  NOT NULL DEFAULT pg_current_xact_id(),   -- the top-level transaction
    token_hash bytea NOT NULL
);
CREATE INDEX session_invalidations_xid ON session_invalidations (xid);

-- 004's function without its pg_notify: it only drops the session_cache row now.
CREATE OR REPLACE FUNCTION sessiond_notify_change() RETURNS trigger
LANGUAGE plpgsql VOLATILE AS $$
BEGIN
    -- Its own statement, so it also sees a cache fill committed meanwhile.
    DELETE FROM session_cache c WHERE c.id = OLD.id;
    RETURN NULL;
END $$;

-- The per-host caches are keyed by token hash: the old one is what they hold.
-- sessiond's workers ring after their commit; any other writer (psql, a
-- script, another tool) rings here, in its transaction: rare writes, which
-- then take the notification lock, but never sessiond's.
CREATE FUNCTION sessiond_log_invalidation() RETURNS trigger
LANGUAGE plpgsql VOLATILE AS $$
BEGIN
    INSERT INTO session_invalidations (token_hash) VALUES (OLD.token_hash);
    IF current_setting('application_name', true) IS DISTINCT FROM 'sessiond' THEN
        PERFORM pg_notify('sessiond_cache', '');
    END IF;
    RETURN NULL;
END $$;

CREATE TRIGGER sessions_log_update
AFTER UPDATE ON sessions
FOR EACH ROW
WHEN (OLD.version IS DISTINCT FROM NEW.version
      OR OLD.token_hash IS DISTINCT FROM NEW.token_hash
      OR OLD.revoked_at IS DISTINCT FROM NEW.revoked_at
      OR OLD.expires_at IS DISTINCT FROM NEW.expires_at
      OR OLD.subscription_plan IS DISTINCT FROM NEW.subscription_plan
      OR OLD.subscription_status IS DISTINCT FROM NEW.subscription_status
      OR OLD.session_data IS DISTINCT FROM NEW.session_data)
EXECUTE FUNCTION sessiond_log_invalidation();

CREATE TRIGGER sessions_log_delete
AFTER DELETE ON sessions
FOR EACH ROW
EXECUTE FUNCTION sessiond_log_invalidation();
