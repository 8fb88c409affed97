-- sessiond migration 012: a first read that waits for no WAL flush (issue 29).
--
-- A read that misses the cache table reads the authoritative row and caches
-- it. Until now that took a second round trip (sess_fill after sess_read)
-- and a durable commit: the fill's row lock (FOR SHARE) gives the
-- transaction an id and a WAL record, so with synchronous_commit = on every
-- first read waited for a WAL flush. After a crash or a failover every
-- session's next read is a first read, all at once.
--
-- sessiond_fill is what sessiond's one read statement (sess_read in
-- app/statements.c) calls when, and only when, the cache table has no row:
-- 1. set_config('synchronous_commit', 'off', true): for this transaction
--    only (is_local), lasting to its commit, unlike a function's SET clause,
--    which is undone when the function returns. Nothing the fill commits
--    needs durability: the row lock only orders it against writers, and the
--    cache row is UNLOGGED. A write's own commit is untouched.
-- 2. The row lock stays: FOR SHARE, as before. A revoke, rotation or PATCH
--    of the row either waits for the fill to commit and then updates or
--    deletes the cache row the fill left (the trigger's statement takes a
--    fresh snapshot after the lock), or committed first, and the lock makes
--    this statement read the row's newest version (revoked, under another
--    hash, or the new values). An insert-if-absent without the lock would
--    not be safe: the trigger only changes cache rows that exist when it
--    runs. docs/invalidation.md, "First reads", has the whole argument.
-- 3. Only a live, unexpired row is cached; the row is returned either way
--    (NULL when no session has this token), for the caller to tell revoked
--    and expired sessions from unknown tokens.
CREATE FUNCTION sessiond_fill(p_hash bytea, p_idle integer) RETURNS sessions
LANGUAGE plpgsql AS $$
DECLARE
    cur sessions;
BEGIN
    -- Before the lock: a lock whose row then fails the recheck (rotated
    -- meanwhile) has taken a transaction id all the same.
    PERFORM set_config('synchronous_commit', 'off', true);
    SELECT * INTO cur FROM sessions s WHERE s.token_hash = p_hash FOR SHARE;
    IF NOT FOUND THEN
        RETURN NULL;
    END IF;
    IF cur.revoked_at IS NULL AND cur.expires_at > now()
       AND (p_idle = 0 OR cur.last_activity > now() - make_interval(secs => p_idle)) THEN
        INSERT INTO session_cache AS c (token_hash, id, user_id, user_email, user_name, user_picture,
            tenant_id, tenant_name, needs_onboarding, onboarding_completed, onboarding_step,
            subscription_plan, subscription_status, session_data, session_type, version,
            created_at, updated_at, last_activity, expires_at, ip_address, user_agent, flushed_activity)
        VALUES (cur.token_hash, cur.id, cur.user_id, cur.user_email, cur.user_name, cur.user_picture,
            cur.tenant_id, cur.tenant_name, cur.needs_onboarding, cur.onboarding_completed,
            cur.onboarding_step, cur.subscription_plan, cur.subscription_status, cur.session_data,
            cur.session_type, cur.version, cur.created_at, cur.updated_at, cur.last_activity,
            cur.expires_at, cur.ip_address, cur.user_agent, cur.last_activity)
        -- A concurrent fill of the same token holds the same row lock, so it
        -- read the same row version: the row already there is as current.
        ON CONFLICT (token_hash) DO NOTHING;
    END IF;
    RETURN cur;
END $$;
