-- sessiond migration 002: the write paths as functions, one round trip each.
--
-- Cache coherence. Reads fill session_cache from sessions under FOR SHARE, so
-- a fill and a write to the same session serialize on the sessions row. Each
-- function below changes sessions first (taking the row lock) and touches
-- session_cache in a later statement, which in a VOLATILE plpgsql function
-- runs with a fresh snapshot and therefore also sees (and removes or
-- overwrites) a cache row that a concurrent fill committed meanwhile. So no
-- revoked, rotated or outdated row survives in the cache.

-- RFC 7396 JSON Merge Patch.
CREATE FUNCTION sessiond_merge_patch(target jsonb, patch jsonb) RETURNS jsonb
LANGUAGE plpgsql IMMUTABLE AS $$
DECLARE
    k text;
    v jsonb;
    result jsonb;
BEGIN
    IF patch IS NULL OR jsonb_typeof(patch) <> 'object' THEN
        RETURN patch;
    END IF;
    IF target IS NULL OR jsonb_typeof(target) <> 'object' THEN
        result := '{}'::jsonb;
    ELSE
        result := target;
    END IF;
    FOR k, v IN SELECT * FROM jsonb_each(patch) LOOP
        IF jsonb_typeof(v) = 'null' THEN
            result := result - k;
        ELSE
            result := jsonb_set(result, ARRAY[k], sessiond_merge_patch(result -> k, v), true);
        END IF;
    END LOOP;
    RETURN result;
END $$;

-- Writes the cache row of a live session (insert or overwrite). plpgsql, not
-- sql: its plan is prepared once per connection instead of parsed per call.
CREATE FUNCTION sessiond_cache_put(s sessions) RETURNS void
LANGUAGE plpgsql VOLATILE AS $$
BEGIN
    INSERT INTO session_cache AS c (token_hash, id, user_id, user_email, user_name, user_picture,
        tenant_id, tenant_name, needs_onboarding, onboarding_completed, onboarding_step,
        subscription_plan, subscription_status, session_data, session_type, version,
        created_at, updated_at, last_activity, expires_at, ip_address, user_agent, flushed_activity)
    VALUES (s.token_hash, s.id, s.user_id, s.user_email, s.user_name, s.user_picture,
        s.tenant_id, s.tenant_name, s.needs_onboarding, s.onboarding_completed, s.onboarding_step,
        s.subscription_plan, s.subscription_status, s.session_data, s.session_type, s.version,
        s.created_at, s.updated_at, s.last_activity, s.expires_at, s.ip_address, s.user_agent,
        s.last_activity)
    ON CONFLICT (token_hash) DO UPDATE SET
        id = EXCLUDED.id, user_id = EXCLUDED.user_id, user_email = EXCLUDED.user_email,
        user_name = EXCLUDED.user_name, user_picture = EXCLUDED.user_picture,
        tenant_id = EXCLUDED.tenant_id, tenant_name = EXCLUDED.tenant_name,
        needs_onboarding = EXCLUDED.needs_onboarding,
        onboarding_completed = EXCLUDED.onboarding_completed,
        onboarding_step = EXCLUDED.onboarding_step,
        subscription_plan = EXCLUDED.subscription_plan,
        subscription_status = EXCLUDED.subscription_status,
        session_data = EXCLUDED.session_data, session_type = EXCLUDED.session_type,
        version = EXCLUDED.version, created_at = EXCLUDED.created_at,
        updated_at = EXCLUDED.updated_at,
        last_activity = greatest(c.last_activity, EXCLUDED.last_activity),
        expires_at = EXCLUDED.expires_at, ip_address = EXCLUDED.ip_address,
        user_agent = EXCLUDED.user_agent,
        flushed_activity = EXCLUDED.flushed_activity;
END $$;

-- PATCH /current/. status: ok | not_found | conflict (stale version) | too_large (session_data).
CREATE FUNCTION sessiond_patch(p_id uuid, p_version bigint, p_needs boolean, p_completed boolean,
                               p_step_set boolean, p_step text, p_data jsonb, p_plan text,
                               p_status text, p_max_data int, p_ip inet)
RETURNS TABLE (status text, sess sessions)
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    cur sessions;
    merged jsonb;
BEGIN
    SELECT * INTO cur FROM sessions s WHERE s.id = p_id AND s.revoked_at IS NULL FOR UPDATE;
    IF NOT FOUND THEN
        status := 'not_found';
        RETURN NEXT;
        RETURN;
    END IF;
    IF p_version IS NOT NULL AND cur.version <> p_version THEN
        status := 'conflict';
        sess := cur;
        RETURN NEXT;
        RETURN;
    END IF;
    merged := CASE WHEN p_data IS NULL THEN cur.session_data
                   ELSE sessiond_merge_patch(cur.session_data, p_data) END;
    IF octet_length(merged::text) > p_max_data THEN
        status := 'too_large';
        RETURN NEXT;
        RETURN;
    END IF;
    UPDATE sessions s SET
        needs_onboarding = coalesce(p_needs, s.needs_onboarding),
        onboarding_completed = coalesce(p_completed, s.onboarding_completed),
        onboarding_step = CASE WHEN p_step_set THEN p_step ELSE s.onboarding_step END,
        subscription_plan = coalesce(p_plan, s.subscription_plan),
        subscription_status = coalesce(p_status, s.subscription_status),
        session_data = merged,
        version = s.version + 1,
        updated_at = now(),
        last_activity = now()
    WHERE s.id = p_id
    RETURNING * INTO cur;
    PERFORM sessiond_cache_put(cur);
    INSERT INTO session_events (event, session_id, user_id, ip_address, detail)
    VALUES ('updated', cur.id, cur.user_id, p_ip, jsonb_build_object('version', cur.version));
    status := 'ok';
    sess := cur;
    RETURN NEXT;
END $$;

-- POST /refresh/. Extends expires_at to now + p_hours, never past created_at +
-- p_max_lifetime and never shorter than it was; with p_new_hash also rotates
-- the token (the old hash stops matching at once). status: ok | not_found.
CREATE FUNCTION sessiond_refresh(p_id uuid, p_hours int, p_max_lifetime int, p_new_hash bytea, p_ip inet)
RETURNS TABLE (status text, sess sessions)
LANGUAGE plpgsql VOLATILE AS $$
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
    DELETE FROM session_cache c WHERE c.id = p_id;
    PERFORM sessiond_cache_put(cur);
    INSERT INTO session_events (event, session_id, user_id, ip_address, detail)
    VALUES (CASE WHEN p_new_hash IS NULL THEN 'refreshed' ELSE 'rotated' END,
            cur.id, cur.user_id, p_ip, jsonb_build_object('expires_at', cur.expires_at));
    status := 'ok';
    sess := cur;
    RETURN NEXT;
END $$;

-- Revokes sessions of one user: one id (p_id), or all (p_id NULL) except
-- p_keep. Returns the number revoked. Atomic: the count is of the rows this
-- statement revoked.
CREATE FUNCTION sessiond_revoke(p_user text, p_id uuid, p_keep uuid, p_reason text, p_ip inet)
RETURNS bigint
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    ids uuid[];
BEGIN
    WITH r AS (
        UPDATE sessions s SET revoked_at = now(), revoked_reason = p_reason,
               version = s.version + 1, updated_at = now()
        WHERE s.user_id = p_user AND s.revoked_at IS NULL
          AND (p_id IS NULL OR s.id = p_id)
          AND (p_keep IS NULL OR s.id <> p_keep)
        RETURNING s.id
    )
    SELECT coalesce(array_agg(r.id), '{}') INTO ids FROM r;
    DELETE FROM session_cache c WHERE c.id = ANY (ids);
    INSERT INTO session_events (event, session_id, user_id, ip_address, detail)
    SELECT 'revoked', x, p_user, p_ip, jsonb_build_object('reason', p_reason) FROM unnest(ids) AS x;
    RETURN coalesce(array_length(ids, 1), 0);
END $$;

-- max_sessions_per_user: revokes the user's live sessions beyond the p_max
-- most recently active (activity as the cache knows it). Returns how many.
CREATE FUNCTION sessiond_evict(p_user text, p_max int, p_ip inet)
RETURNS bigint
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    ids uuid[];
BEGIN
    WITH ranked AS (
        SELECT s.id, row_number() OVER (
                   ORDER BY greatest(s.last_activity, c.last_activity) DESC NULLS LAST,
                            s.created_at DESC) AS n
        FROM sessions s LEFT JOIN session_cache c ON c.id = s.id
        WHERE s.user_id = p_user AND s.revoked_at IS NULL AND s.expires_at > now()
    ), r AS (
        UPDATE sessions s SET revoked_at = now(), revoked_reason = 'session_limit',
               version = s.version + 1, updated_at = now()
        FROM ranked WHERE s.id = ranked.id AND ranked.n > p_max AND s.revoked_at IS NULL
        RETURNING s.id
    )
    SELECT coalesce(array_agg(r.id), '{}') INTO ids FROM r;
    DELETE FROM session_cache c WHERE c.id = ANY (ids);
    INSERT INTO session_events (event, session_id, user_id, ip_address, detail)
    SELECT 'revoked', x, p_user, p_ip, '{"reason":"session_limit"}'::jsonb FROM unnest(ids) AS x;
    RETURN coalesce(array_length(ids, 1), 0);
END $$;
