-- sessiond migration 015: sessions end when the identity provider says so
-- (issue 26): back-channel logout, a service revoke, rotated-token reuse.
--
-- Every statement here is a catalog change or an empty table: no rewrite, no
-- scan under a lock that blocks writes, except the partial index on
-- sessions.idp_sid, which reads the table once (docs/operations.md says how to
-- build it beforehand, CONCURRENTLY, on a large table; then this skips it).

-- 1. The Auth0 session id (sid) a session was created under: a back-channel
--    logout token naming it ends exactly those sessions. NULL when the
--    creating access token carried none. Nullable without a default: adding
--    it is a catalog change only.
ALTER TABLE sessions ADD COLUMN IF NOT EXISTS idp_sid text;
CREATE INDEX IF NOT EXISTS sessions_idp_sid_idx ON sessions (idp_sid) WHERE idp_sid IS NOT NULL;

-- 2. Logout tokens already acted on, by jti: a replayed token is refused.
--    Kept until the token's own expiry (with the leeway); cleanup_sessions
--    removes older rows (a token past exp is refused by its exp anyway).
CREATE TABLE logout_jtis (
    jti         text PRIMARY KEY CHECK (octet_length(jti) BETWEEN 1 AND 255),
    expires_at  timestamptz NOT NULL,
    seen_at     timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX logout_jtis_expires_idx ON logout_jtis (expires_at);

-- 3. When a token was rotated away: presented again more than
--    rotation_reuse_grace seconds later it is taken as stolen. NULL for the
--    records of deleted sessions (and for rotations before this migration,
--    which therefore keep today's answer).
ALTER TABLE gone_tokens ADD COLUMN rotated_at timestamptz;

CREATE OR REPLACE FUNCTION sessiond_remember_rotated() RETURNS trigger
LANGUAGE plpgsql VOLATILE AS $$
BEGIN
    INSERT INTO gone_tokens (token_hash, reason, session_id, keep_from, rotated_at)
    VALUES (OLD.token_hash, 'rotated', OLD.id, greatest(OLD.expires_at, now()), now())
    ON CONFLICT (token_hash) DO NOTHING;
    RETURN NULL;
END $$;

-- 4. The audit trail gains token_reuse. The new list is a superset of the old
--    one, which every existing row satisfied, so the constraint is added NOT
--    VALID: no scan of session_events under this migration's lock. Kept as
--    one self-contained block (drop, add) so it applies unchanged to a
--    partitioned session_events too.
ALTER TABLE session_events DROP CONSTRAINT session_events_event_check;
ALTER TABLE session_events ADD CONSTRAINT session_events_event_check
    CHECK (event IN ('created', 'updated', 'refreshed', 'rotated', 'revoked', 'expired', 'auth_failed',
                     'token_reuse')) NOT VALID;

-- 5. Rotated-token reuse. p_hash is a token no session holds; when it was
--    rotated away more than p_grace seconds ago and its session is still
--    live, the session is revoked (every token of it: the thief's new one and
--    the owner's) with a token_reuse event carrying the presenting address.
--    Returns the revoked session's id and user, no row when nothing was done
--    (within the grace, not a rotated token, session already ended or deleted).
CREATE FUNCTION sessiond_token_reuse(p_hash bytea, p_grace integer, p_ip inet)
RETURNS TABLE(o_id uuid, o_user text)
LANGUAGE plpgsql AS $$
DECLARE
    g gone_tokens;
BEGIN
    SELECT * INTO g FROM gone_tokens t
    WHERE t.token_hash = p_hash AND t.reason = 'rotated'
      AND t.rotated_at <= now() - make_interval(secs => p_grace);
    IF NOT FOUND THEN
        RETURN;
    END IF;
    UPDATE sessions s SET revoked_at = now(), revoked_reason = 'token_reuse',
           version = s.version + 1, updated_at = now()
    WHERE s.id = g.session_id AND s.revoked_at IS NULL
    RETURNING s.id, s.user_id INTO o_id, o_user;
    IF NOT FOUND THEN
        RETURN;
    END IF;
    INSERT INTO session_events (event, session_id, user_id, ip_address, detail)
    VALUES ('token_reuse', o_id, o_user, p_ip,
            jsonb_build_object('rotated_at', to_char(g.rotated_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"'))),
           ('revoked', o_id, o_user, p_ip, jsonb_build_object('reason', 'token_reuse'));
    RETURN NEXT;
END $$;

-- 6. Back-channel logout: records the token's jti (a replay is refused with
--    status 'replayed' and changes nothing), then revokes, in id order like
--    every multi-row write (sql/006), with reason backchannel:
--      sid only: the sessions created under that Auth0 session;
--      sub only: all of that user's sessions;
--      both:     that user's sessions under that sid, and that user's sessions
--                with no recorded sid (they cannot be told apart).
--    One row per revoked session (status 'revoked'), or one row with a NULL
--    id when nothing matched ('ok') or the jti was seen ('replayed').
CREATE FUNCTION sessiond_backchannel_logout(p_jti text, p_exp timestamptz, p_sid text, p_sub text, p_ip inet)
RETURNS TABLE(status text, o_id uuid, o_user text)
LANGUAGE plpgsql AS $$
DECLARE
    ids uuid[];
    owners text[];
BEGIN
    INSERT INTO logout_jtis (jti, expires_at) VALUES (p_jti, p_exp) ON CONFLICT (jti) DO NOTHING;
    IF NOT FOUND THEN
        status := 'replayed';
        RETURN NEXT;
        RETURN;
    END IF;
    PERFORM 1 FROM sessions s
    WHERE s.revoked_at IS NULL
      AND ((p_sid IS NOT NULL AND s.idp_sid = p_sid AND (p_sub IS NULL OR s.user_id = p_sub))
           OR (p_sub IS NOT NULL AND s.user_id = p_sub AND (p_sid IS NULL OR s.idp_sid IS NULL)))
    ORDER BY s.id FOR UPDATE;
    WITH r AS (
        UPDATE sessions s SET revoked_at = now(), revoked_reason = 'backchannel',
               version = s.version + 1, updated_at = now()
        WHERE s.revoked_at IS NULL
          AND ((p_sid IS NOT NULL AND s.idp_sid = p_sid AND (p_sub IS NULL OR s.user_id = p_sub))
               OR (p_sub IS NOT NULL AND s.user_id = p_sub AND (p_sid IS NULL OR s.idp_sid IS NULL)))
        RETURNING s.id, s.user_id
    )
    SELECT coalesce(array_agg(r.id), '{}'), coalesce(array_agg(r.user_id), '{}') INTO ids, owners FROM r;
    INSERT INTO session_events (event, session_id, user_id, ip_address, detail)
    SELECT 'revoked', x.id, x.owner, p_ip,
           jsonb_build_object('reason', 'backchannel', 'sid', p_sid, 'jti', p_jti)
    FROM unnest(ids, owners) AS x(id, owner);
    IF coalesce(array_length(ids, 1), 0) = 0 THEN
        status := 'ok';
        RETURN NEXT;
        RETURN;
    END IF;
    RETURN QUERY SELECT 'revoked'::text, x.id, x.owner FROM unnest(ids, owners) AS x(id, owner);
END $$;
