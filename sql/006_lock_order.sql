-- sessiond migration 006: every statement that locks several sessions rows
-- locks them in one order, by id (ORDER BY id ... FOR UPDATE), before
-- changing them. Two such statements on overlapping rows (a revoke-all and an
-- eviction of the same user, the activity flush and either, a cleanup batch)
-- then queue behind each other instead of each holding a row the other waits
-- for (a deadlock, 40P01). The activity flush (app/statements.c) and the
-- cleanup batches (app/cleanup.c) follow the same rule. Cache rows are only
-- changed after the sessions rows they belong to are locked, so they need no
-- order of their own.

-- As in 002, plus: the user's rows are locked in id order first.
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
    DELETE FROM session_cache c WHERE c.id = ANY (ids);
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
    DELETE FROM session_cache c WHERE c.id = ANY (ids);
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
    -- A later statement: also sees cache rows filled while the rows were locked.
    UPDATE session_cache c SET
        subscription_plan = s.subscription_plan,
        subscription_status = s.subscription_status,
        version = s.version,
        updated_at = s.updated_at
    FROM sessions s
    WHERE s.id = c.id AND s.id = ANY (ids);
    INSERT INTO session_events (event, session_id, user_id, ip_address, detail)
    SELECT 'updated', x, p_user, p_ip,
           jsonb_build_object('by', 'service', 'subscription_plan', p_plan, 'subscription_status', p_status)
    FROM unnest(ids) AS x;
    RETURN coalesce(array_length(ids, 1), 0);
END $$;
