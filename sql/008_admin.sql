-- sessiond migration 008: operator actions (sessionctl).
-- Revokes sessions for an operator: the listed ids (p_ids), or every live
-- session of one user (p_ids NULL, p_user). The same write as sessiond_revoke
-- (revoked_at, reason, version + 1, cache row dropped, one 'revoked' event per
-- session), so the 004 trigger tells every host's cache; the event's detail
-- records the reason 'admin' and the operator's name (p_by).
-- Returns one row per requested id (outcome revoked, already_revoked or
-- not_found), or per session revoked when p_ids is NULL.
CREATE FUNCTION sessiond_admin_revoke(p_ids uuid[], p_user text, p_by text)
RETURNS TABLE (o_id uuid, o_user text, o_outcome text)
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    ids uuid[];
    owners text[];
BEGIN
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
    DELETE FROM session_cache c WHERE c.id = ANY (ids);
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
