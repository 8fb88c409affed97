-- sessiond migration 003: server-owned billing fields set for all of a user's sessions.

-- Records the user's billing (so later sessions start from it) and applies it
-- to every live session of the user, atomically. p_plan/p_status NULL keep the
-- current value. Returns the number of sessions changed.
CREATE FUNCTION sessiond_set_billing(p_user text, p_plan text, p_status text, p_ip inet)
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
