#!/usr/bin/env bash
# The write path (issue 23): one size rule for create and PATCH, a checked
# commit (an error at commit is that error's answer, never 200), a connection
# cut between sending a write and its sync result (503, write_outcome_unknown,
# test-build fault hook), and writes authenticated inside their own statement.
. "$(dirname "$0")/../lib.sh"
# db_statement_timeout 60 s: the rotation test holds a PATCH on a row lock while
# it observes and then releases it; the default 5 s would race a loaded machine.
stack_up "max_session_data_bytes = 64
auth_fail_limit = 0
db_statement_timeout = 60000"

patch_as() { local t=$1; shift; as "$t" PATCH /api/sessions/current/ -H 'Content-Type: application/json' "$@"; }
row() { psql_q "SELECT $1 FROM sessions WHERE id = '$2'"; }

# --- one size rule: sessiond_data_size(), PostgreSQL's text of the jsonb value -----------------------
# {"k": "<v>"} is 9 bytes plus v: v of 55 bytes is exactly the limit of 64. Its slashes are
# one byte each in that measure (json-c would write \/, two).
v55="a/b/c/d/e/$(head -c 45 /dev/zero | tr '\0' 'x')"
create 'auth0|size' "{\"session_data\":{\"k\":\"$v55\"}}"
expect_status 201 "create with session_data exactly at max_session_data_bytes"
TS=$TOKEN
SS=$SID
[ "$(row "sessiond_data_size(session_data)" "$SS")" = 64 ] && pass "stored session_data measures 64 bytes" ||
	fail "stored size: $(row "sessiond_data_size(session_data)" "$SS")"
create 'auth0|size2' "{\"session_data\":{\"k\":\"${v55}y\"}}"
expect_error 413 session_data_too_large "create one byte over the limit"
[ "$(psql_q "SELECT count(*) FROM sessions WHERE user_id = 'auth0|size2'")" = 0 ] && pass "nothing created over the limit" ||
	fail "a session was created over the limit"
patch_as "$TS" -d "{\"session_data\":{\"k\":\"$(printf '%s' "$v55" | tr 'x' 'z')\"}}"
expect_status 200 "PATCH of a same-length value at the limit"
expect_json '.session_data.k | length' 55 "the new value is stored"
patch_as "$TS" -d '{"session_data":{"k2":1}}'
expect_error 413 session_data_too_large "PATCH that merges past the limit"
[ "$(row "version || ':' || (session_data ? 'k2')" "$SS")" = "2:false" ] && pass "the refused PATCH changed nothing" ||
	fail "after the refused PATCH: $(row "version || ':' || (session_data ? 'k2')" "$SS")"

# --- a checked commit: an error raised at commit is the answer --------------------------------------
# An operator's deferred constraint trigger fails the write's transaction at COMMIT,
# after the statement itself succeeded; the SQLSTATE comes from the session's data.
psql_q "CREATE FUNCTION test_fail_at_commit() RETURNS trigger LANGUAGE plpgsql AS \$\$
DECLARE code text;
BEGIN
    SELECT session_data->>'fail_commit' INTO code FROM sessions WHERE id = NEW.session_id;
    IF code IS NOT NULL THEN RAISE EXCEPTION 'test: failed at commit' USING ERRCODE = code; END IF;
    RETURN NULL;
END \$\$;
CREATE CONSTRAINT TRIGGER test_fail_at_commit AFTER INSERT ON session_events DEFERRABLE INITIALLY DEFERRED
FOR EACH ROW WHEN (NEW.event = 'updated') EXECUTE FUNCTION test_fail_at_commit()" >/dev/null
create 'auth0|commit'
TC=$TOKEN
SC=$SID
patch_as "$TC" -d '{"session_data":{"fail_commit":"23514"}}'
expect_error 500 internal_error "a constraint failing at commit: 500, not 200"
patch_as "$TC" -d '{"session_data":{"fail_commit":"40001"}}'
expect_error 503 store_unavailable "a serialization failure at commit: 503"
expect_header Retry-After '^[0-9]+$' "with Retry-After"
[ "$(row version "$SC")" = 1 ] && pass "neither failed commit changed the session" || fail "version after failed commits: $(row version "$SC")"
grep -q 'event=store_error sqlstate=23514' "$VAR/log/sessiond.log" && pass "the commit's error is logged with its SQLSTATE" ||
	fail "no store_error line for 23514"
patch_as "$TC" -d '{"onboarding_step":"fine"}'
expect_status 200 "the next PATCH on the same connection succeeds"
psql_q "DROP TRIGGER test_fail_at_commit ON session_events; DROP FUNCTION test_fail_at_commit()" >/dev/null

# --- connection cut after the pipeline is sent, before the write's sync result ----------------------
create 'auth0|cut'
TU=$TOKEN
SU=$SID
SESSIOND_TEST_DROP_AFTER=sess_patch@sent sessiond_restart || fail "restart with the mid-pipeline fault hook"
patch_as "$TU" -H 'If-Match: "1"' -d '{"onboarding_step":"cut"}'
expect_error 503 store_unavailable "outcome unknown: 503"
expect_header Retry-After '^[0-9]+$' "with Retry-After"
grep -q 'event=write_outcome_unknown statement=sess_patch' "$VAR/log/sessiond.log" && pass "logged as write_outcome_unknown" ||
	fail "no write_outcome_unknown line"
v=$(row version "$SU")
case $v in 1 | 2) pass "applied at most once (version $v)" ;; *) fail "version after the cut: $v" ;; esac
sessiond_restart || fail "restart without the hook"
# The retry the docs call safe: the same conditional PATCH.
patch_as "$TU" -H 'If-Match: "1"' -d '{"onboarding_step":"cut"}'
if [ "$v" = 1 ]; then expect_status 200 "the conditional retry applies the write that was lost"
else expect_error 412 version_conflict "the conditional retry of an applied write is refused"; fi
[ "$(row "version || ':' || onboarding_step" "$SU")" = "2:cut" ] && pass "exactly one application after the retry" ||
	fail "after the retry: $(row "version || ':' || onboarding_step" "$SU")"

# --- online migrations: CREATE INDEX CONCURRENTLY outside a transaction, retried after a failure ------
# A copy of the migrations plus one online step that fails the first time (duplicates
# under a unique index: the concurrent build leaves an INVALID index behind).
MIG=$VAR/migrations
mkdir -p "$MIG"
cp "$TOP"/sql/[0-9][0-9][0-9]_*.sql "$MIG/"
printf -- '-- sessiond:online\n-- A test step: builds a unique index concurrently.\nCREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS test_online_idx ON test_online (v);\n' \
	>"$MIG/900_test_online.sql"
psql_q "CREATE TABLE test_online (v int); INSERT INTO test_online VALUES (1), (1), (2)" >/dev/null
migrate() { "$BUILD/sessiond" --config "$CONF" --migrate --sql-dir "$MIG" >"$VAR/migrate.out" 2>&1; }
recorded() { psql_q "SELECT count(*) FROM schema_migrations WHERE version = 900"; }
index_state() { psql_q "SELECT coalesce((SELECT i.indisvalid::text FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid WHERE c.relname = 'test_online_idx'), 'none')"; }
if ! migrate; then pass "an online step that fails fails the migration"; else fail "migrate succeeded over duplicates: $(cat "$VAR/migrate.out")"; fi
[ "$(recorded):$(index_state)" = "0:false" ] && pass "not recorded; the failed build left an INVALID index" ||
	fail "after the failure: recorded $(recorded), index $(index_state)"
psql_q "DELETE FROM test_online WHERE ctid = (SELECT max(ctid) FROM test_online WHERE v = 1)" >/dev/null
if migrate && grep -q 'migration applied: 900_test_online.sql (online)' "$VAR/migrate.out"; then
	pass "the retry applies the online step"
else
	fail "retry: $(cat "$VAR/migrate.out")"
fi
[ "$(recorded):$(index_state)" = "1:true" ] && pass "recorded once the index is built, and the index is valid (the INVALID one was dropped first)" ||
	fail "after the retry: recorded $(recorded), index $(index_state)"
[ "$(psql_q "SELECT count(*) FROM pg_class WHERE relname = 'session_events_time_brin'"):$(psql_q "SELECT count(*) FROM pg_class WHERE relname = 'session_events_time_idx'")" = "1:0" ] &&
	pass "migration 014 ran online: BRIN time index, no btree" || fail "session_events indexes after 014"

# --- a token rotated between the client's request and the write does not write --------------------
# A transaction rotates the token and holds the row; the PATCH with the old token
# reaches the row and waits (observed in pg_stat_activity); then the rotation commits.
# The write re-checks its WHERE (token hash, liveness) on the new row version: 401.
create 'auth0|rotate'
TR=$TOKEN
SR=$SID
if [ "$(id -u)" -eq 0 ]; then as_pg=(runuser -u postgres --); else as_pg=(); fi
psql_q "CREATE TABLE test_go (x int)" >/dev/null
"${as_pg[@]}" psql -h "$PGSOCK" -U sessiond -d sessiond -qtAX -c "BEGIN" \
	-c "UPDATE sessions SET token_hash = sha256('test-rotated'::bytea), version = version + 1 WHERE id = '$SR'" \
	-c "DO \$\$ BEGIN WHILE NOT EXISTS (SELECT 1 FROM test_go) LOOP PERFORM pg_sleep(0.05); END LOOP; END \$\$" \
	-c "COMMIT" >/dev/null 2>&1 &
holder=$!
rotation_holds() { [ "$(psql_q "SELECT count(*) FROM pg_stat_activity WHERE query LIKE '%test_go%' AND state = 'active' AND pid <> pg_backend_pid()")" = 1 ]; }
wait_until 20 rotation_holds && pass "the rotation holds the row" || fail "the rotating transaction never started"
curl -s -o "$VAR/rot.body" -w '%{http_code}' -X PATCH "$BASE/api/sessions/current/" -H "Authorization: Session $TR" \
	-H 'Content-Type: application/json' -d '{"onboarding_step":"stale"}' >"$VAR/rot.status" &
patcher=$!
patch_waits() { [ "$(psql_q "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'sessiond' AND wait_event_type = 'Lock'")" -ge 1 ]; }
wait_until 20 patch_waits && pass "the PATCH with the old token waits on the rotating row" || fail "the PATCH was not seen waiting on the row"
psql_q "INSERT INTO test_go VALUES (1)" >/dev/null
wait "$holder"
wait "$patcher"
[ "$(cat "$VAR/rot.status")" = 401 ] && [ "$(jq -r .error.code "$VAR/rot.body")" = invalid_session ] &&
	pass "the old token's PATCH after the rotation committed: 401 invalid_session" ||
	fail "old token's PATCH: $(cat "$VAR/rot.status") $(head -c 200 "$VAR/rot.body")"
[ "$(row "coalesce(onboarding_step, 'none')" "$SR")" = none ] && pass "nothing written by the old token" ||
	fail "onboarding_step after the rotation: $(row onboarding_step "$SR")"
psql_q "DROP TABLE test_go" >/dev/null

# --- a write needs no read first, and sets last_activity itself -------------------------------------
create 'auth0|oneway'
TO=$TOKEN
SO=$SID
psql_q "UPDATE sessions SET last_activity = now() - interval '30 minutes' WHERE id = '$SO';
	UPDATE session_cache SET last_activity = now() - interval '30 minutes', flushed_activity = now() - interval '30 minutes' WHERE id = '$SO'" >/dev/null
patch_as "$TO" -d '{"onboarding_step":"fresh"}'
expect_status 200 "PATCH by token"
[ "$(row "(now() - last_activity) < interval '1 minute'" "$SO")" = t ] && pass "the write set last_activity (no touch needed)" ||
	fail "last_activity after PATCH: $(row last_activity "$SO")"
patch_as "$TO" -H 'If-Match: "1"' -d '{"onboarding_step":"stale"}'
expect_error 412 version_conflict "a stale If-Match is still 412 from the write itself"
expect_header ETag '^"2"$' "with the current ETag"
as "$TO" DELETE /api/sessions/current/
expect_status 200 "logout by token"
patch_as "$TO" -d '{"onboarding_step":"late"}'
expect_error 401 invalid_session "PATCH after logout: 401 from the fallback read"
as "$TO" POST /api/sessions/refresh/ -H 'Content-Type: application/json' -d '{}'
expect_error 401 invalid_session "refresh after logout: 401"

# --- a PATCH keeps the cache table and the log itself; every other write still fires the trigger ----
# One worker, so one connection serves every request below, and no log collection meanwhile (it runs
# on the activity-flush tick): the PATCH's transaction-local marker (sql/016) must not outlive it.
SESSIOND_WORKERS=1 SESSIOND_ACTIVITY_FLUSH_INTERVAL=86400 sessiond_restart || fail "restart with one worker"
create 'auth0|keeps'
TK=$TOKEN
SK=$SID
HK="sha256(convert_to('$TK', 'UTF8'))"
inv() { psql_q "SELECT count(*) FROM session_invalidations WHERE token_hash = $HK"; }
cached() { psql_q "SELECT coalesce((SELECT version || ':' || coalesce(session_data->>'n', '-') FROM session_cache WHERE id = '$SK'), 'none')"; }
[ "$(cached)" = "1:-" ] && pass "the new session has its cache-table row" || fail "cache row after create: $(cached)"
i0=$(inv)
patch_as "$TK" -d '{"session_data":{"n":"1"}}'
expect_status 200 "PATCH (one statement: the row, its cache row, the log, the event)"
[ "$(cached)" = "2:1" ] && pass "the PATCH updated the session's cache-table row" || fail "cache row after PATCH: $(cached)"
[ "$(inv)" = $((i0 + 1)) ] && pass "and logged exactly one invalidation (the trigger skipped its row)" ||
	fail "invalidation rows after PATCH: $(inv), before $i0"
[ "$(psql_q "SELECT count(*) FROM session_events WHERE session_id = '$SK' AND event = 'updated' AND detail->>'version' = '2'")" = 1 ] &&
	pass "and wrote its updated event" || fail "no updated event for version 2"
psql_q "UPDATE sessions SET session_data = '{\"n\":\"sql\"}', version = version + 1 WHERE id = '$SK'" >/dev/null
[ "$(cached)" = "3:sql" ] && [ "$(inv)" = $((i0 + 2)) ] &&
	pass "an UPDATE by another writer still fires the trigger (cache row replaced, invalidation logged)" ||
	fail "after an operator's UPDATE: cache $(cached), invalidation rows $(inv)"
patch_as "$TK" -d '{"session_data":{"n":"2"}}'
expect_status 200 "a second PATCH"
as "$TK" DELETE /api/sessions/current/
expect_status 200 "logout next, on the same worker and connection"
[ "$(cached)" = none ] && [ "$(inv)" = $((i0 + 4)) ] &&
	pass "the logout after a PATCH on that connection still fires the trigger (cache row dropped, logged)" ||
	fail "after the logout: cache $(cached), invalidation rows $(inv) (before $i0)"
