-- sessiond migration 013: writes that authenticate themselves (issue 23).
--
-- A PATCH, a refresh and a logout used to read the session first (one round
-- trip: session_cache, or sessions on a miss) and then write it by id (a
-- second). Now each is one statement keyed by the token hash, whose WHERE
-- holds the same liveness conditions a read applies: not revoked, not
-- expired, not idle past idle_timeout judged on the freshest activity (the
-- cache table's, which the activity flush copies to sessions later). A token
-- rotated or revoked between a client's request and the write no longer
-- writes: PostgreSQL re-checks the WHERE on the newest row version. When the
-- write changes nothing, a plain read says why; "unauthenticated" sends
-- sessiond to its usual read of the token (which tells expired, revoked,
-- rotated and unknown apart).
--
-- Also:
-- - one measure of session_data, sessiond_data_size(): the bytes of
--   PostgreSQL's text form of the jsonb value, used by create and PATCH alike;
--   over the limit raises SQLSTATE SD413 (sessiond answers 413);
-- - a PATCH merges session_data once (the size is checked on the row the
--   UPDATE returns, not by a second merge in its WHERE);
-- - refresh takes no SELECT ... FOR UPDATE first (its new expiry is computed
--   from the row the UPDATE itself locks, re-checked like PATCH's).
-- The id-keyed sessiond_patch() and sessiond_refresh() stay for the binaries
-- still running between this migration and their restart.

CREATE FUNCTION sessiond_data_size(d jsonb) RETURNS integer
LANGUAGE sql IMMUTABLE AS $$ SELECT octet_length(d::text) $$;

-- d itself, or SQLSTATE SD413 when it is larger than max_bytes.
CREATE FUNCTION sessiond_sized(d jsonb, max_bytes integer) RETURNS jsonb
LANGUAGE plpgsql IMMUTABLE AS $$
BEGIN
    IF sessiond_data_size(d) > max_bytes THEN
        RAISE EXCEPTION 'session_data is % bytes, over its limit of %', sessiond_data_size(d), max_bytes
            USING ERRCODE = 'SD413';
    END IF;
    RETURN d;
END $$;

-- The live session holding p_hash, or NULL: the row a read accepts (not
-- revoked, not expired, not idle past p_idle seconds on the fresher of the
-- table's and the cache's activity). Each token-keyed write below repeats
-- this WHERE inline, so that the planner sees it whole.
CREATE FUNCTION sessiond_live_row(p_hash bytea, p_idle integer) RETURNS sessions
LANGUAGE sql STABLE AS $$
SELECT s FROM sessions s
WHERE s.token_hash = p_hash AND s.revoked_at IS NULL AND s.expires_at > now()
  AND (p_idle = 0 OR greatest(s.last_activity,
           (SELECT c.last_activity FROM session_cache c WHERE c.token_hash = p_hash))
       > now() - make_interval(secs => p_idle)) $$;

CREATE FUNCTION sessiond_patch_by_token(p_hash bytea, p_idle integer, p_version bigint,
    p_needs boolean, p_completed boolean, p_step_set boolean, p_step text, p_data jsonb,
    p_plan text, p_status text, p_owned_plan text, p_owned_status text, p_max_data integer,
    p_ip inet)
RETURNS TABLE(status text, sess sessions)
LANGUAGE plpgsql AS $$
DECLARE
    cur sessions;
BEGIN
    -- p_owned_*: a server-owned value the client sent, which must equal the
    -- stored one (403 otherwise); p_plan/p_status: values to set.
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
    WHERE s.token_hash = p_hash AND s.revoked_at IS NULL AND s.expires_at > now()
      AND (p_idle = 0 OR greatest(s.last_activity,
               (SELECT c.last_activity FROM session_cache c WHERE c.token_hash = p_hash))
           > now() - make_interval(secs => p_idle))
      AND (p_version IS NULL OR s.version = p_version)
      AND (p_owned_plan IS NULL OR s.subscription_plan = p_owned_plan)
      AND (p_owned_status IS NULL OR s.subscription_status = p_owned_status)
    RETURNING * INTO cur;
    IF NOT FOUND THEN
        cur := sessiond_live_row(p_hash, p_idle);
        IF cur.id IS NULL THEN
            status := 'unauthenticated';
        ELSIF cur.subscription_plan IS DISTINCT FROM coalesce(p_owned_plan, cur.subscription_plan)
              OR cur.subscription_status IS DISTINCT FROM coalesce(p_owned_status, cur.subscription_status) THEN
            status := 'server_owned';
        ELSIF p_version IS NOT NULL AND cur.version <> p_version THEN
            status := 'conflict';
            sess := cur;
        ELSE
            -- Changed under us and back (a rotation undone cannot happen): retry.
            status := 'busy';
        END IF;
        RETURN NEXT;
        RETURN;
    END IF;
    -- Measured on the merged value the UPDATE returned; the error undoes it.
    IF p_data IS NOT NULL AND sessiond_data_size(cur.session_data) > p_max_data THEN
        RAISE EXCEPTION 'session_data would be % bytes, over its limit of %',
            sessiond_data_size(cur.session_data), p_max_data USING ERRCODE = 'SD413';
    END IF;
    INSERT INTO session_events (event, session_id, user_id, ip_address, detail)
    VALUES ('updated', cur.id, cur.user_id, p_ip, jsonb_build_object('version', cur.version));
    status := 'ok';
    sess := cur;
    RETURN NEXT;
END $$;

CREATE FUNCTION sessiond_refresh_by_token(p_hash bytea, p_idle integer, p_hours integer,
    p_max_lifetime integer, p_new_hash bytea, p_ip inet)
RETURNS TABLE(status text, sess sessions)
LANGUAGE plpgsql AS $$
DECLARE
    cur sessions;
BEGIN
    UPDATE sessions s SET
        expires_at = greatest(s.expires_at,
                              least(now() + make_interval(hours => p_hours),
                                    s.created_at + make_interval(secs => p_max_lifetime))),
        token_hash = coalesce(p_new_hash, s.token_hash),
        version = s.version + 1,
        updated_at = now(),
        last_activity = now()
    WHERE s.token_hash = p_hash AND s.revoked_at IS NULL AND s.expires_at > now()
      AND (p_idle = 0 OR greatest(s.last_activity,
               (SELECT c.last_activity FROM session_cache c WHERE c.token_hash = p_hash))
           > now() - make_interval(secs => p_idle))
    RETURNING * INTO cur;
    IF NOT FOUND THEN
        status := 'unauthenticated';
        RETURN NEXT;
        RETURN;
    END IF;
    INSERT INTO session_events (event, session_id, user_id, ip_address, detail)
    VALUES (CASE WHEN p_new_hash IS NULL THEN 'refreshed' ELSE 'rotated' END,
            cur.id, cur.user_id, p_ip, jsonb_build_object('expires_at', cur.expires_at));
    status := 'ok';
    sess := cur;
    RETURN NEXT;
END $$;

CREATE FUNCTION sessiond_logout(p_hash bytea, p_idle integer, p_ip inet)
RETURNS TABLE(status text, sess sessions)
LANGUAGE plpgsql AS $$
DECLARE
    cur sessions;
BEGIN
    UPDATE sessions s SET revoked_at = now(), revoked_reason = 'logout',
           version = s.version + 1, updated_at = now()
    WHERE s.token_hash = p_hash AND s.revoked_at IS NULL AND s.expires_at > now()
      AND (p_idle = 0 OR greatest(s.last_activity,
               (SELECT c.last_activity FROM session_cache c WHERE c.token_hash = p_hash))
           > now() - make_interval(secs => p_idle))
    RETURNING * INTO cur;
    IF NOT FOUND THEN
        status := 'unauthenticated';
        RETURN NEXT;
        RETURN;
    END IF;
    INSERT INTO session_events (event, session_id, user_id, ip_address, detail)
    VALUES ('revoked', cur.id, cur.user_id, p_ip, jsonb_build_object('reason', 'logout'));
    status := 'ok';
    sess := cur;
    RETURN NEXT;
END $$;

-- The id-keyed refresh, still called by binaries older than this migration,
-- without its row lock taken beforehand (PATCH dropped its own in 011).
CREATE OR REPLACE FUNCTION sessiond_refresh(p_id uuid, p_hours integer, p_max_lifetime integer,
    p_new_hash bytea, p_ip inet)
RETURNS TABLE(status text, sess sessions)
LANGUAGE plpgsql AS $$
DECLARE
    cur sessions;
BEGIN
    UPDATE sessions s SET
        expires_at = greatest(s.expires_at,
                              least(now() + make_interval(hours => p_hours),
                                    s.created_at + make_interval(secs => p_max_lifetime))),
        token_hash = coalesce(p_new_hash, s.token_hash),
        version = s.version + 1,
        updated_at = now(),
        last_activity = now()
    WHERE s.id = p_id AND s.revoked_at IS NULL
    RETURNING * INTO cur;
    IF NOT FOUND THEN
        status := 'not_found';
        RETURN NEXT;
        RETURN;
    END IF;
    INSERT INTO session_events (event, session_id, user_id, ip_address, detail)
    VALUES (CASE WHEN p_new_hash IS NULL THEN 'refreshed' ELSE 'rotated' END,
            cur.id, cur.user_id, p_ip, jsonb_build_object('expires_at', cur.expires_at));
    status := 'ok';
    sess := cur;
    RETURN NEXT;
END $$;
