#!/usr/bin/env bash
# cleanup_sessions over a real PostgreSQL: exact dry-run counts that change
# nothing, a real run that deletes exactly the dead sessions and their cache
# rows and keeps the events of deleted sessions until they age out, the
# advisory lock, exit codes, and no failed request while a large cleanup runs.
. "$(dirname "$0")/../lib.sh"
stack_up "cleanup_grace = 3600
event_retention_days = 30"

CLEANUP=$BUILD/cleanup_sessions
LOCK_KEY=$(sed -n 's/^#define LOCK_KEY_CLEANUP "\([0-9]*\)"$/\1/p' "$TOP/include/locks.h")
# The key the workers' activity flush takes, as compiled into sessiond's SQL.
FLUSH_KEY=$(strings "$BUILD/sessiond" | sed -n 's/.*pg_try_advisory_xact_lock(\([0-9]*\)).*/\1/p' | head -1)

# run_cleanup [args...]: sets OUT (stdout), ERR (stderr), RC.
run_cleanup() {
	OUT=$("$CLEANUP" --config "$CONF" "$@" 2>"$VAR/cleanup.err")
	RC=$?
	ERR=$(cat "$VAR/cleanup.err")
}
fact() { sed -n "s/^cleanup $1=//p" <<<"$OUT"; }
expect_fact() { # key want desc
	local got
	got=$(fact "$1")
	if [ "$got" = "$2" ]; then pass "$3 ($1=$2)"; else fail "$3: $1='$got', want '$2'; output: $OUT"; fi
}
expect_rc() { # want desc
	if [ "$RC" = "$1" ]; then pass "$2 (exit $1)"; else fail "$2: exit $RC, want $1; stderr: $ERR"; fi
}

# seed_sessions prefix count expires_sql revoked_sql: rows whose user_id is prefix-N.
seed_sessions() {
	psql_q "INSERT INTO sessions (id, token_hash, user_id, expires_at, revoked_at)
	        SELECT gen_random_uuid(), sha256(('$1-' || i)::bytea), '$1-' || i, $3, $4
	        FROM generate_series(1, $2) i" >/dev/null
}
# cache_sessions where-clause: copies those sessions into session_cache.
cache_sessions() {
	psql_q "INSERT INTO session_cache
	        SELECT token_hash, id, user_id, user_email, user_name, user_picture, tenant_id, tenant_name,
	               needs_onboarding, onboarding_completed, onboarding_step, subscription_plan,
	               subscription_status, session_data, session_type, version, created_at, updated_at,
	               last_activity, expires_at, ip_address, user_agent, last_activity
	        FROM sessions WHERE $1" >/dev/null
}
fingerprint() {
	psql_q "SELECT (SELECT count(*) || ':' || md5(coalesce(string_agg(id::text || expires_at::text || coalesce(revoked_at::text, ''), ',' ORDER BY id), '')) FROM sessions)
	        || ' ' || (SELECT count(*) || ':' || md5(coalesce(string_agg(token_hash::text, ',' ORDER BY token_hash), '')) FROM session_cache)
	        || ' ' || (SELECT count(*) || ':' || md5(coalesce(string_agg(id::text, ',' ORDER BY id), '')) FROM session_events)"
}
count_where() { psql_q "SELECT count(*) FROM $1"; }

# --- seed: grace 1 hour, event retention 30 days ------------------------------------------
seed_sessions exp 10000 "now() - interval '2 days' - i * interval '1 second'" NULL        # expired: delete
seed_sessions live 10000 "now() + interval '1 day'" NULL                                  # live: keep
seed_sessions rev 37 "now() + interval '1 day'" "now() - interval '2 hours'"              # revoked: delete
seed_sessions revexp 13 "now() - interval '4 days'" "now() - interval '2 hours'"          # revoked (and expired): delete, counts as revoked
seed_sessions lateexp 5 "now() - interval '3 days'" "now() - interval '10 minutes'"       # expired long ago, revoked in grace: delete, counts as expired
seed_sessions graceexp 20 "now() - interval '10 minutes'" NULL                            # expired within grace: keep
seed_sessions gracerev 15 "now() + interval '1 day'" "now() - interval '10 minutes'"      # revoked within grace: keep
cache_sessions "user_id LIKE 'exp-%' AND split_part(user_id, '-', 2)::int <= 1000"        # 1000 cache rows to go
cache_sessions "user_id LIKE 'rev-%' AND split_part(user_id, '-', 2)::int <= 10"          # 10 to go
cache_sessions "user_id LIKE 'live-%' AND split_part(user_id, '-', 2)::int <= 500"        # 500 to keep
cache_sessions "user_id LIKE 'graceexp-%'"                                                # 20 to keep
# Stray cache rows whose session is gone: 3 dead ones go, 2 unexpired ones stay.
psql_q "INSERT INTO session_cache (token_hash, id, user_id, needs_onboarding, onboarding_completed, subscription_plan,
        subscription_status, session_data, session_type, version, created_at, updated_at, last_activity, expires_at, flushed_activity)
        SELECT sha256(('stray-' || i)::bytea), gen_random_uuid(), 'stray-' || i, false, false, 'free', 'active', '{}', 'web', 1,
               now(), now(), now(), CASE WHEN i <= 3 THEN now() - interval '5 days' ELSE now() + interval '1 day' END, now()
        FROM generate_series(1, 5) i" >/dev/null
# Events: recent ones of sessions that will be deleted must stay; old ones go.
psql_q "INSERT INTO session_events (occurred_at, event, session_id, user_id)
        SELECT now() - interval '3 days', 'created', id, user_id FROM sessions
        WHERE user_id LIKE 'exp-%' AND split_part(user_id, '-', 2)::int <= 2000" >/dev/null      # 2000 keep
psql_q "INSERT INTO session_events (occurred_at, event, session_id, user_id)
        SELECT now() - interval '40 days', 'created', id, user_id FROM sessions
        WHERE user_id LIKE 'exp-%' AND split_part(user_id, '-', 2)::int > 9000" >/dev/null       # 1000 go
psql_q "INSERT INTO session_events (occurred_at, event, session_id, user_id)
        SELECT now() - interval '1 hour', 'updated', id, user_id FROM sessions
        WHERE user_id LIKE 'live-%' AND split_part(user_id, '-', 2)::int <= 1000" >/dev/null     # 1000 keep
psql_q "INSERT INTO session_events (occurred_at, event, session_id, user_id)
        SELECT now() - interval '2 hours', 'revoked', id, user_id FROM sessions WHERE user_id LIKE 'rev-%'" >/dev/null  # 37 keep
psql_q "INSERT INTO session_events (occurred_at, event, ip_address)
        SELECT now() - interval '60 days', 'auth_failed', '192.0.2.1' FROM generate_series(1, 200)" >/dev/null          # 200 go
oldest=$(psql_q "SELECT to_char(min(expires_at) AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"') FROM sessions WHERE user_id LIKE 'revexp-%'")
[ "$(count_where sessions)" = 20090 ] && pass "seeded 20090 sessions" || fail "seed: $(count_where sessions) sessions"

# --- --dry-run: exact counts, nothing changes ---------------------------------------------------
before=$(fingerprint)
run_cleanup --dry-run
expect_rc 0 "dry run succeeds"
expect_fact mode dry-run "dry run says so"
expect_fact sessions_expired 10005 "dry run: expired sessions"
expect_fact sessions_revoked 50 "dry run: revoked sessions"
expect_fact cache_rows 1013 "dry run: cache rows"
expect_fact events 1200 "dry run: events past retention"
expect_fact oldest_expiry "$oldest" "dry run: oldest expiry"
expect_fact status ok "dry run status line"
[ -z "$ERR" ] && pass "dry run writes nothing to stderr" || fail "dry run stderr: $ERR"
[ "$(fingerprint)" = "$before" ] && pass "dry run changes no row" || fail "dry run changed rows"
dry_out=$OUT
# One fact per line, always "cleanup key=value", in a fixed order.
if ! grep -qv '^cleanup [a-z_]*=[^ ]*$' <<<"$OUT"; then pass "every output line is 'cleanup key=value'"; else fail "bad lines: $(grep -v '^cleanup [a-z_]*=[^ ]*$' <<<"$OUT")"; fi
keys=$(sed 's/^cleanup \([a-z_]*\)=.*/\1/' <<<"$OUT" | tr '\n' ' ')
[ "$keys" = "mode cutoff event_cutoff sessions_expired sessions_revoked cache_rows oldest_expiry events gone_tokens logout_jtis status " ] &&
	pass "output keys in the documented order" || fail "keys: $keys"

run_cleanup --dry-run --verbose
expect_fact sessions_live 10000 "verbose dry run: live sessions"
expect_fact sessions_in_grace 35 "verbose dry run: dead sessions kept for the grace period"
[[ "$(fact elapsed_ms)" =~ ^[0-9]+$ ]] && pass "verbose adds timing" || fail "no elapsed_ms: $OUT"
[ "$(fingerprint)" = "$before" ] && pass "verbose dry run changes no row" || fail "verbose dry run changed rows"

# --- a run while another holds the lock exits at once with 3 ---------------------------------------
if [ "$(id -u)" -eq 0 ]; then as_pg=(runuser -u postgres --); else as_pg=(); fi
"${as_pg[@]}" psql -h "$PGSOCK" -U sessiond -d sessiond -qtAX \
	-c "SELECT pg_advisory_lock($LOCK_KEY)" -c "SELECT pg_sleep(30)" >/dev/null 2>&1 &
holder=$!
lock_granted() { [ "$(psql_q "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted AND objid = $1 % 4294967296")" = 1 ]; }
wait_until 30 lock_granted "$LOCK_KEY" || fail "the advisory lock was not taken"
start=$(date +%s%N)
run_cleanup
elapsed=$((($(date +%s%N) - start) / 1000000))
expect_rc 3 "a second run while the lock is held"
[[ "$ERR" == *"holds the lock"* ]] && pass "lock conflict explained on stderr" || fail "lock stderr: $ERR"
[ -z "$OUT" ] && pass "lock conflict prints nothing on stdout" || fail "lock stdout: $OUT"
# The holder keeps the lock 30 s: finishing well before that proves the run did not wait for it.
[ "$elapsed" -lt 15000 ] && pass "lock conflict does not wait for the holder (${elapsed} ms)" || fail "lock conflict took ${elapsed} ms"
[ "$(fingerprint)" = "$before" ] && pass "the locked-out run changed nothing" || fail "locked-out run changed rows"
run_cleanup --dry-run
expect_rc 0 "a dry run does not need the lock"
psql_q "SELECT pg_terminate_backend(pid) FROM pg_locks WHERE locktype = 'advisory' AND objid = $LOCK_KEY % 4294967296" >/dev/null
wait "$holder" 2>/dev/null

# --- an activity flush in progress does not lock cleanup out (one key per purpose) --------------------
[[ "$LOCK_KEY" =~ ^[0-9]+$ && "$FLUSH_KEY" =~ ^[0-9]+$ ]] && pass "cleanup key $LOCK_KEY and flush key $FLUSH_KEY found" ||
	fail "lock keys: cleanup '$LOCK_KEY', flush '$FLUSH_KEY'"
"${as_pg[@]}" psql -h "$PGSOCK" -U sessiond -d sessiond -qtAX \
	-c "BEGIN" -c "SELECT pg_advisory_xact_lock($FLUSH_KEY)" -c "SELECT pg_sleep(30)" >/dev/null 2>&1 &
holder=$!
wait_until 30 lock_granted "$FLUSH_KEY" || fail "the flush's advisory lock was not taken"

# --- the real run deletes exactly the dead rows --------------------------------------------------------
run_cleanup --batch-size 777
expect_rc 0 "real run succeeds"
[ "$(psql_q "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted AND objid = $FLUSH_KEY % 4294967296")" = 1 ] &&
	pass "the real run ran while an activity flush held its lock" || fail "the flush lock holder was gone during the run"
psql_q "SELECT pg_terminate_backend(pid) FROM pg_locks WHERE locktype = 'advisory' AND objid = $FLUSH_KEY % 4294967296" >/dev/null
wait "$holder" 2>/dev/null
expect_fact mode delete "real run says so"
for k in sessions_expired sessions_revoked cache_rows events oldest_expiry; do
	[ "$(fact $k)" = "$(sed -n "s/^cleanup $k=//p" <<<"$dry_out")" ] && pass "real run deleted what the dry run announced: $k=$(fact $k)" ||
		fail "$k: real $(fact $k), dry run $(sed -n "s/^cleanup $k=//p" <<<"$dry_out")"
done
[ -z "$ERR" ] && pass "real run writes nothing to stderr" || fail "real run stderr: $ERR"
for p in exp rev revexp lateexp; do
	n=$(count_where "sessions WHERE user_id LIKE '$p-%'")
	[ "$n" = 0 ] && pass "no $p session left" || fail "$n $p sessions left"
done
for p in live:10000 graceexp:20 gracerev:15; do
	n=$(count_where "sessions WHERE user_id LIKE '${p%%:*}-%'")
	[ "$n" = "${p#*:}" ] && pass "all ${p%%:*} sessions kept ($n)" || fail "${p%%:*}: $n left, want ${p#*:}"
done
n=$(count_where "session_cache c WHERE NOT EXISTS (SELECT 1 FROM sessions s WHERE s.id = c.id) AND c.user_id NOT LIKE 'stray-%'")
[ "$n" = 0 ] && pass "no cache row outlives its session" || fail "$n orphaned cache rows"
n=$(count_where "session_cache WHERE user_id LIKE 'live-%' OR user_id LIKE 'graceexp-%'")
[ "$n" = 520 ] && pass "cache rows of kept sessions kept (520)" || fail "kept cache rows: $n, want 520"
n=$(count_where "session_cache WHERE user_id LIKE 'stray-%'")
[ "$n" = 2 ] && pass "dead stray cache rows swept, live ones kept" || fail "stray cache rows left: $n, want 2"
n=$(count_where "session_events e WHERE NOT EXISTS (SELECT 1 FROM sessions s WHERE s.id = e.session_id) AND e.session_id IS NOT NULL")
[ "$n" = 2037 ] && pass "recent events of deleted sessions are kept (2037)" || fail "events of deleted sessions: $n, want 2037"
n=$(count_where "session_events WHERE occurred_at < now() - interval '30 days'")
[ "$n" = 0 ] && pass "no event past retention left" || fail "$n old events left"
n=$(count_where session_events)
[ "$n" = 3037 ] && pass "exactly the recent events remain (3037)" || fail "events left: $n, want 3037"

run_cleanup --verbose
expect_rc 0 "a second run succeeds"
expect_fact sessions_expired 0 "second run finds nothing expired"
expect_fact sessions_revoked 0 "second run finds nothing revoked"
expect_fact events 0 "second run finds no old event"
expect_fact oldest_expiry none "second run: no oldest expiry"
expect_fact sessions_live 10000 "verbose run counts live sessions"

# --- usage, configuration and store errors ------------------------------------------------------------
run_cleanup --no-such-option
expect_rc 2 "unknown option"
run_cleanup --batch-size 0
expect_rc 2 "--batch-size 0"
run_cleanup --batch-size 12x
expect_rc 2 "--batch-size not a number"
out=$("$CLEANUP" --help)
[ $? -eq 0 ] && [[ "$out" == *"--dry-run"* ]] && pass "--help" || fail "--help: $out"
printf 'jwt_issuer = https://x/\njwt_audience = a\ncleanup_grace = -5\n' >"$VAR/bad.conf"
OUT=$("$CLEANUP" --config "$VAR/bad.conf" 2>"$VAR/cleanup.err"); RC=$?; ERR=$(cat "$VAR/cleanup.err")
expect_rc 2 "bad configuration"
[[ "$ERR" == *"bad.conf:3:"* ]] && pass "bad configuration names file and line" || fail "bad config stderr: $ERR"
OUT=$(SESSIOND_DATABASE_URL="host=$VAR/nowhere dbname=sessiond" "$CLEANUP" --config "$CONF" 2>"$VAR/cleanup.err"); RC=$?
ERR=$(cat "$VAR/cleanup.err")
expect_rc 1 "store unreachable"
[[ "$ERR" == *"cannot connect"* ]] && pass "unreachable store explained on stderr" || fail "unreachable stderr: $ERR"

# --- a large cleanup while the API serves requests --------------------------------------------------------
seed_sessions bulk 200000 "now() - interval '1 day' - (i % 1000) * interval '1 second'" NULL
cache_sessions "user_id LIKE 'bulk-%' AND split_part(user_id, '-', 2)::int <= 50000"
# Real sessions through the API, read and patched while the cleanup runs.
api_tokens=()
for i in 1 2 3 4; do
	jwt=$(mint_jwt "$(std_claims "auth0|during-cleanup-$i")")
	req POST /api/sessions/create/ -H "Authorization: Bearer $jwt" -H 'Content-Type: application/json' -d '{}'
	api_tokens+=("$(jq_body .session_token)")
done
"$CLEANUP" --config "$CONF" --batch-size 500 --verbose >"$VAR/bulk.out" 2>"$VAR/bulk.err" &
cpid=$!
total=0
bad=0
while kill -0 "$cpid" 2>/dev/null; do
	code=$(curl -s -o /dev/null -m 5 -w '%{http_code}' "$BASE/api/sessions/health/")
	total=$((total + 1))
	[ "$code" = 200 ] || bad=$((bad + 1))
	t=${api_tokens[$((total % 4))]}
	code=$(curl -s -o /dev/null -m 5 -w '%{http_code}' -H "Authorization: Session $t" "$BASE/api/sessions/current/")
	[ "$code" = 200 ] || bad=$((bad + 1))
	code=$(curl -s -o /dev/null -m 5 -w '%{http_code}' -X PATCH -H "Authorization: Session $t" -H 'Content-Type: application/json' \
		-d "{\"session_data\":{\"n\":$total}}" "$BASE/api/sessions/current/")
	[ "$code" = 200 ] || bad=$((bad + 1))
	# Writes to live sessions, as the API makes them, must not wait on the cleanup either.
	if ! psql_q "SET lock_timeout = '1s'; UPDATE sessions SET last_activity = now() WHERE user_id = 'live-$((total % 10000 + 1))'" >/dev/null 2>&1; then
		bad=$((bad + 1))
	fi
done
wait "$cpid"
crc=$?
OUT=$(cat "$VAR/bulk.out")
[ "$crc" = 0 ] && pass "bulk cleanup succeeds" || fail "bulk cleanup exit $crc: $(cat "$VAR/bulk.err")"
expect_fact sessions_expired 200000 "bulk cleanup deleted every expired session"
expect_fact cache_rows 50000 "bulk cleanup deleted their cache rows"
[ "$total" -ge 5 ] && pass "requests served during the cleanup ($total, $(fact elapsed_ms) ms)" || fail "only $total requests overlapped the cleanup"
[ "$bad" = 0 ] && pass "no failed request during the cleanup" || fail "$bad of $total requests failed during the cleanup"
[ "$(count_where "sessions WHERE user_id LIKE 'live-%'")" = 10000 ] && pass "live sessions untouched by the bulk cleanup" || fail "live sessions lost"
