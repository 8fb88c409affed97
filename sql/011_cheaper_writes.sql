-- sessiond migration 011: cheaper session writes (issue 19).
--
-- A PATCH used to do, per request: a row lock (SELECT ... FOR UPDATE, its own
-- WAL record), a non-HOT UPDATE of sessions (last_activity is in an index, so
-- every index got a new entry), a BEFORE trigger reading session_cache, two
-- AFTER triggers (one logging the invalidation, one deleting the cache row),
-- and an INSERT putting the cache row back. Now:
--
-- 1. sessions updates are HOT: sessions_user_live_idx no longer holds
--    last_activity (no query ever used it in that order: listings sort by the
--    fresher of the table's and the cache's activity, which no index holds),
--    and pages keep 20% free for new row versions. ALTER ... SET (fillfactor)
--    applies to pages written from now on; an existing table gains it as its
--    rows are updated (or at once with VACUUM FULL in a maintenance window).
-- 2. One AFTER trigger instead of two: it logs the old token hash for the
--    other hosts' listeners and keeps the session's cache row current (an
--    UPDATE from the new row, HOT on session_cache's fillfactor of 70)
--    instead of deleting it for the writer to put back. A revoked or expired
--    row, or a deleted one, still leaves the cache. A fill racing the write
--    is safe as before: the fill holds the sessions row FOR SHARE, so the
--    write waits for it and the trigger's statement then sees its cache row.
-- 3. The BEFORE trigger that keeps the cache's fresher activity runs only
--    for writes that do not themselves set last_activity forward (a PATCH,
--    a refresh and the activity flush do), with a WHEN clause short enough
--    that re-reading it for every statement costs little.
-- 4. sessiond_patch is one UPDATE whose WHERE holds the version and size
--    checks (PostgreSQL re-checks them on the newest row version if another
--    write got there first, so nothing is lost and no row lock is taken
--    beforehand); only when it changes nothing does a plain read say why.
--    It no longer writes the cache row itself (the trigger does), nor does
--    sessiond_refresh. Its merge patch takes the fast path of
--    sessiond_merge() below when it can.

DROP INDEX sessions_user_live_idx;
CREATE INDEX sessions_user_live_idx ON sessions (user_id) WHERE revoked_at IS NULL;
ALTER TABLE sessions SET (fillfactor = 80);

CREATE FUNCTION sessiond_session_changed() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO session_invalidations (token_hash) VALUES (OLD.token_hash);
    -- sessiond rings after its own commits; any other writer rings here.
    IF current_setting('application_name', true) IS DISTINCT FROM 'sessiond' THEN
        PERFORM pg_notify('sessiond_cache', '');
    END IF;
    IF TG_OP = 'UPDATE' AND NEW.revoked_at IS NULL AND NEW.expires_at > now() THEN
        UPDATE session_cache c SET
            token_hash = NEW.token_hash, user_id = NEW.user_id, user_email = NEW.user_email,
            user_name = NEW.user_name, user_picture = NEW.user_picture,
            tenant_id = NEW.tenant_id, tenant_name = NEW.tenant_name,
            needs_onboarding = NEW.needs_onboarding,
            onboarding_completed = NEW.onboarding_completed,
            onboarding_step = NEW.onboarding_step,
            subscription_plan = NEW.subscription_plan,
            subscription_status = NEW.subscription_status,
            session_data = NEW.session_data, session_type = NEW.session_type,
            version = NEW.version, created_at = NEW.created_at, updated_at = NEW.updated_at,
            last_activity = greatest(c.last_activity, NEW.last_activity),
            expires_at = NEW.expires_at, ip_address = NEW.ip_address,
            user_agent = NEW.user_agent, flushed_activity = NEW.last_activity
        WHERE c.id = OLD.id;
    ELSE
        DELETE FROM session_cache c WHERE c.id = OLD.id;
    END IF;
    RETURN NULL;
END $$;

DROP TRIGGER sessions_log_update ON sessions;
DROP TRIGGER sessions_notify_update ON sessions;
DROP TRIGGER sessions_log_delete ON sessions;
DROP TRIGGER sessions_notify_delete ON sessions;
DROP FUNCTION sessiond_log_invalidation();
DROP FUNCTION sessiond_notify_change();

CREATE TRIGGER sessions_changed_update AFTER UPDATE ON sessions FOR EACH ROW
WHEN (OLD.version IS DISTINCT FROM NEW.version OR OLD.token_hash IS DISTINCT FROM NEW.token_hash
      OR OLD.revoked_at IS DISTINCT FROM NEW.revoked_at OR OLD.expires_at IS DISTINCT FROM NEW.expires_at
      OR OLD.subscription_plan IS DISTINCT FROM NEW.subscription_plan
      OR OLD.subscription_status IS DISTINCT FROM NEW.subscription_status
      OR OLD.session_data IS DISTINCT FROM NEW.session_data)
EXECUTE FUNCTION sessiond_session_changed();
CREATE TRIGGER sessions_changed_delete AFTER DELETE ON sessions FOR EACH ROW
EXECUTE FUNCTION sessiond_session_changed();

DROP TRIGGER sessions_keep_activity ON sessions;
CREATE TRIGGER sessions_keep_activity BEFORE UPDATE ON sessions FOR EACH ROW
WHEN (NEW.last_activity <= OLD.last_activity)
EXECUTE FUNCTION sessiond_keep_activity();

-- RFC 7396 merge patch without a PL/pgSQL call in the common case: a patch of
-- an object whose values are neither null nor objects is a plain concatenation.
-- A SQL function, so the planner inlines it into the statement that uses it.
CREATE FUNCTION sessiond_merge(target jsonb, patch jsonb) RETURNS jsonb
LANGUAGE sql IMMUTABLE AS $$
SELECT CASE WHEN jsonb_typeof(target) = 'object' AND jsonb_typeof(patch) = 'object'
             AND NOT jsonb_path_exists(patch, '$.* ? (@ == null || @.type() == "object")')
            THEN target || patch
            ELSE sessiond_merge_patch(target, patch) END $$;

CREATE OR REPLACE FUNCTION sessiond_patch(p_id uuid, p_version bigint, p_needs boolean,
    p_completed boolean, p_step_set boolean, p_step text, p_data jsonb, p_plan text,
    p_status text, p_max_data integer, p_ip inet)
RETURNS TABLE(status text, sess sessions)
LANGUAGE plpgsql AS $$
DECLARE
    cur sessions;
BEGIN
    UPDATE sessions s SET
        needs_onboarding = coalesce(p_needs, s.needs_onboarding),
        onboarding_completed = coalesce(p_completed, s.onboarding_completed),
        onboarding_step = CASE WHEN p_step_set THEN p_step ELSE s.onboarding_step END,
        subscription_plan = coalesce(p_plan, s.subscription_plan),
        subscription_status = coalesce(p_status, s.subscription_status),
        session_data = CASE WHEN p_data IS NULL THEN s.session_data
                            ELSE sessiond_merge(s.session_data, p_data) END,
        version = s.version + 1,
        updated_at = now(),
        last_activity = now()
    WHERE s.id = p_id AND s.revoked_at IS NULL
      AND (p_version IS NULL OR s.version = p_version)
      AND (p_data IS NULL
           OR octet_length(sessiond_merge(s.session_data, p_data)::text) <= p_max_data)
    RETURNING * INTO cur;
    IF NOT FOUND THEN
        -- Nothing changed: say why, from the row as it is now.
        SELECT * INTO cur FROM sessions s WHERE s.id = p_id AND s.revoked_at IS NULL;
        IF NOT FOUND THEN
            status := 'not_found';
        ELSIF p_version IS NOT NULL AND cur.version <> p_version THEN
            status := 'conflict';
            sess := cur;
        ELSE
            status := 'too_large';
        END IF;
        RETURN NEXT;
        RETURN;
    END IF;
    INSERT INTO session_events (event, session_id, user_id, ip_address, detail)
    VALUES ('updated', cur.id, cur.user_id, p_ip, jsonb_build_object('version', cur.version));
    status := 'ok';
    sess := cur;
    RETURN NEXT;
END $$;

CREATE OR REPLACE FUNCTION sessiond_refresh(p_id uuid, p_hours integer, p_max_lifetime integer,
    p_new_hash bytea, p_ip inet)
RETURNS TABLE(status text, sess sessions)
LANGUAGE plpgsql AS $$
DECLARE
    cur sessions;
    new_exp timestamptz;
BEGIN
    SELECT * INTO cur FROM sessions s WHERE s.id = p_id AND s.revoked_at IS NULL FOR UPDATE;
    IF NOT FOUND THEN
        status := 'not_found';
        RETURN NEXT;
        RETURN;
    END IF;
    new_exp := greatest(cur.expires_at,
                        least(now() + make_interval(hours => p_hours),
                              cur.created_at + make_interval(secs => p_max_lifetime)));
    UPDATE sessions s SET
        expires_at = new_exp,
        token_hash = coalesce(p_new_hash, s.token_hash),
        version = s.version + 1,
        updated_at = now(),
        last_activity = now()
    WHERE s.id = p_id
    RETURNING * INTO cur;
    INSERT INTO session_events (event, session_id, user_id, ip_address, detail)
    VALUES (CASE WHEN p_new_hash IS NULL THEN 'refreshed' ELSE 'rotated' END,
            cur.id, cur.user_id, p_ip, jsonb_build_object('expires_at', cur.expires_at));
    status := 'ok';
    sess := cur;
    RETURN NEXT;
END $$;
