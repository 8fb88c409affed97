-- sessiond migration 016: a PATCH as one plain statement (issue 23).
--
-- Until now a PATCH called sessiond_patch_by_token() (PL/pgSQL), whose UPDATE
-- fired sessiond_session_changed() (PL/pgSQL, AFTER ROW) to log the
-- invalidation and copy the new row into session_cache. Measured (perf, and
-- auto_explain of the nested statements): PL/pgSQL re-planned the UPDATE on
-- every call (a custom plan each time: its parameters decide which WHERE
-- terms exist), and each trigger call re-read its WHEN expression, opened the
-- cache table and ran two statements of its own. sessiond now sends the same
-- work as one prepared statement with data-modifying CTEs (app/statements.c,
-- "sess_patch"): the UPDATE of sessions, its session_cache row (an upsert:
-- a first read's fill that committed while the UPDATE waited on the row lock
-- is outside the statement's snapshot, and only ON CONFLICT finds it), the
-- invalidation log row and the `updated` audit row.
--
-- That statement says so by setting sessiond.write_keeps_cache to 'on' for
-- its transaction (set_config(..., true): gone at its commit; sessiond sends it
-- as a transaction of its own), and the change trigger's WHEN skips rows
-- written while it is on. Every other writer (an operator's UPDATE, psql,
-- sessionctl, cleanup_sessions, sessiond's other writes) still fires the
-- trigger exactly as before, so no cache is ever left stale.
--
-- Online: CREATE OR REPLACE TRIGGER takes SHARE ROW EXCLUSIVE on sessions for
-- a catalog update (a moment; writes wait that long, reads do not); no table
-- or index is rewritten. The BEFORE trigger sessions_keep_activity is left as
-- it is (a PATCH sets last_activity = now(), so its WHEN never holds for it).
-- sessiond_patch_by_token() stays for binaries still running between this
-- migration and their restart; it still fires the trigger.

CREATE OR REPLACE TRIGGER sessions_changed_update AFTER UPDATE ON sessions
    FOR EACH ROW
    WHEN ((OLD.version IS DISTINCT FROM NEW.version
           OR OLD.token_hash IS DISTINCT FROM NEW.token_hash
           OR OLD.revoked_at IS DISTINCT FROM NEW.revoked_at
           OR OLD.expires_at IS DISTINCT FROM NEW.expires_at
           OR OLD.subscription_plan IS DISTINCT FROM NEW.subscription_plan
           OR OLD.subscription_status IS DISTINCT FROM NEW.subscription_status
           OR OLD.session_data IS DISTINCT FROM NEW.session_data)
          AND current_setting('sessiond.write_keeps_cache', true) IS DISTINCT FROM 'on')
    EXECUTE FUNCTION sessiond_session_changed();

-- Why a token-keyed PATCH changed nothing, read afresh (VOLATILE: its own
-- snapshot, so a write that committed while the PATCH waited on the row is
-- seen): 'unauthenticated' (sessiond then reads the token to tell expired,
-- revoked, rotated and unknown apart), 'server_owned' (a billing value the
-- client sent differs from the stored one), 'conflict' (If-Match; with the
-- current row), else 'busy'.
CREATE FUNCTION sessiond_patch_refused(p_hash bytea, p_idle integer, p_version bigint,
    p_owned_plan text, p_owned_status text)
RETURNS TABLE(status text, sess sessions)
LANGUAGE plpgsql VOLATILE ROWS 1 AS $$
DECLARE
    cur sessions;
BEGIN
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
        status := 'busy';
    END IF;
    RETURN NEXT;
END $$;
