-- sessiond migration 005: what a session change must not lose or forget.
--
-- 1. Activity not yet flushed. last_activity is touched in session_cache only
--    (no WAL) and copied to sessions every activity_flush_interval. Any change
--    that drops the cache row (migration 004's trigger: a billing update, an
--    operator's UPDATE, revocation) first carries the newer cached activity
--    into the row being written, so an idle_timeout never judges a session in
--    use idle because its cache row went away. A BEFORE trigger sets it on the
--    new row version itself: no second write, and RETURNING sees it.
CREATE FUNCTION sessiond_keep_activity() RETURNS trigger
LANGUAGE plpgsql VOLATILE AS $$
BEGIN
    NEW.last_activity := greatest(NEW.last_activity,
                                  (SELECT max(c.last_activity) FROM session_cache c WHERE c.id = OLD.id));
    RETURN NEW;
END $$;

-- The same condition as sessions_notify_update (migration 004): exactly the
-- updates whose trigger deletes the cache row.
CREATE TRIGGER sessions_keep_activity
BEFORE UPDATE ON sessions
FOR EACH ROW
WHEN (OLD.version IS DISTINCT FROM NEW.version
      OR OLD.token_hash IS DISTINCT FROM NEW.token_hash
      OR OLD.revoked_at IS DISTINCT FROM NEW.revoked_at
      OR OLD.expires_at IS DISTINCT FROM NEW.expires_at
      OR OLD.subscription_plan IS DISTINCT FROM NEW.subscription_plan
      OR OLD.subscription_status IS DISTINCT FROM NEW.subscription_status
      OR OLD.session_data IS DISTINCT FROM NEW.session_data)
EXECUTE FUNCTION sessiond_keep_activity();

-- 2. Tokens of sessions that are gone. cleanup_sessions deletes revoked and
--    expired sessions, and rotation replaces a token; a client (a stale tab,
--    a server-side proxy holding tokens) may still present the old token.
--    Without a record it would look like a guess and count toward the
--    brute-force limit. The hash (never the token) is kept with why it went,
--    so sessiond answers as it did before the session was deleted, without
--    counting; cleanup_sessions drops a record max_lifetime after keep_from
--    (the later of the session's expiry and its deletion), longer than any
--    cookie for that token can live.
CREATE TABLE gone_tokens (
    token_hash  bytea PRIMARY KEY CHECK (octet_length(token_hash) = 32),
    reason      text NOT NULL CHECK (reason IN ('revoked', 'expired', 'rotated')),
    session_id  uuid NOT NULL,
    keep_from   timestamptz NOT NULL
);
CREATE INDEX gone_tokens_keep_idx ON gone_tokens (keep_from);

-- Deletions: one INSERT per statement (cleanup deletes in batches).
CREATE FUNCTION sessiond_remember_deleted() RETURNS trigger
LANGUAGE plpgsql VOLATILE AS $$
BEGIN
    INSERT INTO gone_tokens (token_hash, reason, session_id, keep_from)
    SELECT g.token_hash,
           CASE WHEN g.revoked_at IS NOT NULL THEN 'revoked' ELSE 'expired' END,
           g.id, greatest(g.expires_at, now())
    FROM gone g
    ON CONFLICT (token_hash) DO NOTHING;
    RETURN NULL;
END $$;

CREATE TRIGGER sessions_remember_deleted
AFTER DELETE ON sessions
REFERENCING OLD TABLE AS gone
FOR EACH STATEMENT
EXECUTE FUNCTION sessiond_remember_deleted();

-- Rotation: the old token is dead at once, but a tab that missed the new
-- cookie is not an attacker.
CREATE FUNCTION sessiond_remember_rotated() RETURNS trigger
LANGUAGE plpgsql VOLATILE AS $$
BEGIN
    INSERT INTO gone_tokens (token_hash, reason, session_id, keep_from)
    VALUES (OLD.token_hash, 'rotated', OLD.id, greatest(OLD.expires_at, now()))
    ON CONFLICT (token_hash) DO NOTHING;
    RETURN NULL;
END $$;

CREATE TRIGGER sessions_remember_rotated
AFTER UPDATE OF token_hash ON sessions
FOR EACH ROW
WHEN (OLD.token_hash IS DISTINCT FROM NEW.token_hash)
EXECUTE FUNCTION sessiond_remember_rotated();
