-- sessiond migration 010: drop cache writes made dead by the sessions trigger.
--
-- Since 004 a trigger on sessions deletes a session's session_cache row
-- whenever the session changes (revoked_at, version, billing, ...), in a
-- statement of its own that sees every cache fill committed before it; a
-- fill that comes later waits for the row lock the write holds and then reads
-- the new row. So the functions below no longer need to delete (revoke,
-- evict, admin revoke) or update (billing) the cache rows themselves: those
-- statements found nothing left to change. Everything else is as in 006 and
-- 008, the id-ordered row locks included (now also for the admin revoke). sql/schema.sql shows the result.

CREATE OR REPLACE FUNCTION sessiond_revoke(p_user text, p_id uuid, p_keep uuid, p_reason text, p_ip inet)
RETURNS bigint
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    ids uuid[];
BEGIN
    PERFORM 1 FROM sessions s
    WHERE s.user_id = p_user AND s.revoked_at IS NULL
      AND (p_id IS NULL OR s.id = p_id)
      AND (p_keep IS NULL OR s.id <> p_keep)
    ORDER BY s.id FOR UPDATE;
    WITH r AS (
        UPDATE sessions s SET revoked_at = now(), revoked_reason = p_reason,
               version = s.version + 1, updated_at = now()
        WHERE s.user_id = p_user AND s.revoked_at IS NULL
          AND (p_id IS NULL OR s.id = p_id)
          AND (p_keep IS NULL OR s.id <> p_keep)
        RETURNING s.id
    )
    SELECT coalesce(array_agg(r.id), '{}') INTO ids FROM r;
    INSERT INTO session_events (event, session_id, user_id, ip_address, detail)
    SELECT 'revoked', x, p_user, p_ip, jsonb_build_object('reason', p_reason) FROM unnest(ids) AS x;
    RETURN coalesce(array_length(ids, 1), 0);
END $$;

CREATE OR REPLACE FUNCTION sessiond_evict(p_user text, p_max int, p_ip inet)
RETURNS bigint
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    ids uuid[];
BEGIN
    PERFORM 1 FROM sessions s
    WHERE s.user_id = p_user AND s.revoked_at IS NULL AND s.expires_at > now()
    ORDER BY s.id FOR UPDATE;
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
    INSERT INTO session_events (event, session_id, user_id, ip_address, detail)
    SELECT 'revoked', x, p_user, p_ip, '{"reason":"session_limit"}'::jsonb FROM unnest(ids) AS x;
    RETURN coalesce(array_length(ids, 1), 0);
END $$;

CREATE OR REPLACE FUNCTION sessiond_set_billing(p_user text, p_plan text, p_status text, p_ip inet)
RETURNS bigint
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    ids uuid[];
BEGIN
    INSERT INTO user_billing AS b (user_id, subscription_plan, subscription_status)
    VALUES (p_user, coalesce(p_plan, 'free'), coalesce(p_status, 'active'))
    ON CONFLICT (user_id) DO UPDATE SET
        subscription_plan = coalesce(p_plan, b.subscription_plan),
        subscription_status = coalesce(p_status, b.subscription_status),
        updated_at = now();
    PERFORM 1 FROM sessions s
    WHERE s.user_id = p_user AND s.revoked_at IS NULL AND s.expires_at > now()
    ORDER BY s.id FOR UPDATE;
    WITH u AS (
        UPDATE sessions s SET
            subscription_plan = coalesce(p_plan, s.subscription_plan),
            subscription_status = coalesce(p_status, s.subscription_status),
            version = s.version + 1,
            updated_at = now()
        WHERE s.user_id = p_user AND s.revoked_at IS NULL AND s.expires_at > now()
        RETURNING s.id
    )
    SELECT coalesce(array_agg(u.id), '{}') INTO ids FROM u;
    INSERT INTO session_events (event, session_id, user_id, ip_address, detail)
    SELECT 'updated', x, p_user, p_ip,
           jsonb_build_object('by', 'service', 'subscription_plan', p_plan, 'subscription_status', p_status)
    FROM unnest(ids) AS x;
    RETURN coalesce(array_length(ids, 1), 0);
END $$;

CREATE OR REPLACE FUNCTION sessiond_admin_revoke(p_ids uuid[], p_user text, p_by text)
RETURNS TABLE (o_id uuid, o_user text, o_outcome text)
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    ids uuid[];
    owners text[];
BEGIN
    -- Rows locked in id order first, as every multi-row write does since 006.
    PERFORM 1 FROM sessions s
    WHERE s.revoked_at IS NULL
      AND ((p_ids IS NOT NULL AND s.id = ANY (p_ids))
           OR (p_ids IS NULL AND s.user_id = p_user))
    ORDER BY s.id FOR UPDATE;
    WITH r AS (
        UPDATE sessions s SET revoked_at = now(), revoked_reason = 'admin',
               version = s.version + 1, updated_at = now()
        WHERE s.revoked_at IS NULL
          AND ((p_ids IS NOT NULL AND s.id = ANY (p_ids))
               OR (p_ids IS NULL AND s.user_id = p_user))
        RETURNING s.id, s.user_id
    )
    SELECT coalesce(array_agg(r.id), '{}'), coalesce(array_agg(r.user_id), '{}')
    INTO ids, owners FROM r;
    INSERT INTO session_events (event, session_id, user_id, detail)
    SELECT 'revoked', x.id, x.owner, jsonb_build_object('reason', 'admin', 'by', p_by)
    FROM unnest(ids, owners) AS x(id, owner);
    IF p_ids IS NULL THEN
        RETURN QUERY SELECT x.id, x.owner, 'revoked'::text FROM unnest(ids, owners) AS x(id, owner);
    ELSE
        RETURN QUERY
        SELECT q.id, s.user_id,
               CASE WHEN s.id IS NULL THEN 'not_found'
                    WHEN q.id = ANY (ids) THEN 'revoked'
                    ELSE 'already_revoked' END
        FROM (SELECT u.id, min(u.n) AS n FROM unnest(p_ids) WITH ORDINALITY AS u(id, n) GROUP BY u.id) q
        LEFT JOIN sessions s ON s.id = q.id
        ORDER BY q.n;
    END IF;
END $$;
