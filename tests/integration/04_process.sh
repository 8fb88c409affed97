#!/usr/bin/env bash
# Process start-up and the store's error semantics: a second start leaves the
# running service alone (socket check, locked pid file), no database password
# in any log, error or --check-config output, a write whose result was lost is
# never applied twice (503, not a retry), deadlocks and serialization failures
# are a retryable 503, and the smaller start-up defects of issue 13.
. "$(dirname "$0")/../lib.sh"
stack_up "auth_fail_limit = 0"
SOCK=$VAR/run/sessiond.sock
PW=Pw-DoNotLog-7f3a9c2e41
secret_note "$PW"

create() { # sub: sets TOKEN (and STATUS/BODY)
	local jwt
	jwt=$(mint_jwt "$(std_claims "$1")")
	req POST /api/sessions/create/ -H "Authorization: Bearer $jwt" -H 'Content-Type: application/json' -d '{}'
	TOKEN=$(jq_body '.session_token // empty')
}
as() { local t=$1 m=$2 p=$3; shift 3; req "$m" "$p" -H "Authorization: Session $t" "$@"; }
master() { cat "$VAR/run/sessiond.pid"; }

# restart_env VAR=value...: restarts sessiond with extra environment; waits for its socket.
restart_env() {
	local pid
	pid=$(master)
	kill -TERM "$pid"
	gone() { ! kill -0 "$pid" 2>/dev/null; }
	wait_until 30 gone
	env "$@" "$BUILD/sessiond" --config "$CONF" </dev/null >>"$VAR/log/sessiond.log" 2>&1 &
	echo $! >"$VAR/run/sessiond.pid"
	ready() { [ -S "$SOCK" ] && grep -q "event=worker_ready" <(tail -n 20 "$VAR/log/sessiond.log"); }
	wait_until 30 ready
}

# --- item 9: a second start refuses and leaves the running service alone ------------------------
inode=$(stat -c %i "$SOCK")
first=$(master)
out=$("$BUILD/sessiond" --config "$CONF" </dev/null 2>&1)
rc=$?
[ "$rc" -ne 0 ] && [[ "$out" == *"another sessiond is listening on $SOCK"* ]] &&
	pass "a second sessiond on the same socket refuses to start" || fail "second start: rc=$rc out=$out"
[ "$(stat -c %i "$SOCK" 2>/dev/null)" = "$inode" ] && pass "the live socket was not replaced" || fail "socket replaced or removed"
kill -0 "$first" && pass "the first master still runs" || fail "first master gone"
req GET /api/sessions/health/
expect_status 200 "the service still answers after the refused start"

# A socket left by a crash (nobody listening) is taken over.
stale=$VAR/run/stale.sock
python3 -c 'import socket,sys; s=socket.socket(socket.AF_UNIX); s.bind(sys.argv[1])' "$stale"
[ -S "$stale" ] || fail "could not make a stale socket"
SESSIOND_LISTEN=$stale SESSIOND_WORKERS=2 "$BUILD/sessiond" --config "$CONF" </dev/null >"$VAR/log/stale.log" 2>&1 &
spid=$!
ok=0
wait_until 30 grep -q event=worker_ready "$VAR/log/stale.log" && ok=1
[ "$ok" = 1 ] && pass "a stale socket (nobody listening) is replaced" || fail "stale socket: $(cat "$VAR/log/stale.log")"
kill -TERM "$spid"; wait "$spid" 2>/dev/null

# pid_file: locked while the master runs; a second start with the same file refuses.
pidf=$VAR/run/locked.pid
SESSIOND_LISTEN=$VAR/run/a.sock SESSIOND_PID_FILE=$pidf "$BUILD/sessiond" --config "$CONF" </dev/null >"$VAR/log/pidfile.log" 2>&1 &
apid=$!
wait_until 30 test -S "$VAR/run/a.sock"
[ "$(cat "$pidf" 2>/dev/null)" = "$apid" ] && pass "pid_file holds the master's pid" || fail "pid_file: '$(cat "$pidf" 2>/dev/null)' want $apid"
out=$(SESSIOND_LISTEN=$VAR/run/b.sock SESSIOND_PID_FILE=$pidf "$BUILD/sessiond" --config "$CONF" </dev/null 2>&1)
rc=$?
[ "$rc" -ne 0 ] && [[ "$out" == *"another sessiond (pid $apid) is running with pid_file $pidf"* ]] &&
	pass "a second start with the same pid_file refuses, naming the pid" || fail "pid_file second start: rc=$rc $out"
[ ! -e "$VAR/run/b.sock" ] && pass "the refused start opened no socket" || fail "b.sock exists"
[ "$(cat "$pidf")" = "$apid" ] && pass "pid_file unchanged by the refused start" || fail "pid_file overwritten"
kill -TERM "$apid"; wait "$apid" 2>/dev/null
[ ! -e "$pidf" ] && pass "pid_file removed at exit" || fail "pid_file left behind"
echo 999999 >"$pidf"
SESSIOND_LISTEN=$VAR/run/a.sock SESSIOND_PID_FILE=$pidf "$BUILD/sessiond" --config "$CONF" </dev/null >>"$VAR/log/pidfile.log" 2>&1 &
apid=$!
wait_until 30 test -S "$VAR/run/a.sock"
[ "$(cat "$pidf" 2>/dev/null)" = "$apid" ] && pass "a pid_file left by a crash (unlocked) is taken over" || fail "stale pid_file not taken over"
kill -TERM "$apid"; wait "$apid" 2>/dev/null

# --- item 10: no database password in any output -------------------------------------------------
good_url="host=$PGSOCK dbname=sessiond user=sessiond password=$PW"
out=$(SESSIOND_DATABASE_URL="$good_url" SESSIOND_LISTEN_DATABASE_URL="postgresql://sessiond:$PW@localhost/sessiond" \
	"$BUILD/sessiond" --config "$CONF" --check-config 2>&1)
[[ "$out" != *"$PW"* ]] && grep -q '^listen_database_url = postgresql://sessiond:\*\*\*@localhost/sessiond$' <<<"$out" &&
	grep -q '^database_url = .*password=\*\*\*' <<<"$out" &&
	pass "--check-config masks the password of database_url and listen_database_url" || fail "check-config: $(grep database_url <<<"$out")"
for url in "postgresql://sessiond:$PW@[bad/sessiond" "host=$PGSOCK password=$PW nosuchkey=1" \
	"postgresql://sessiond:$PW@127.0.0.1:1/sessiond?password=$PW" "host=x password='$PW"; do
	out=$(SESSIOND_DATABASE_URL="$url" "$BUILD/sessiond" --config "$CONF" --migrate --sql-dir "$TOP/sql" 2>&1)
	rc=$?
	[ "$rc" -ne 0 ] && [[ "$out" == *"cannot connect to the store"* && "$out" != *"$PW"* ]] &&
		pass "--migrate error without the password: ${out:0:90}" || fail "--migrate with a bad url: rc=$rc $out"
	out=$(SESSIOND_DATABASE_URL="$url" "$BUILD/cleanup_sessions" --config "$CONF" 2>&1)
	[[ "$out" != *"$PW"* ]] && pass "cleanup_sessions error without the password" || fail "cleanup_sessions: $out"
done
# The running service with a malformed URL: every worker's and the listener's connect failure is logged.
restart_env SESSIOND_DATABASE_URL="postgresql://sessiond:$PW@[bad/sessiond" || fail "restart with a bad url"
for _ in 1 2 3 4; do req GET /api/sessions/health/; done
expect_status 503 "health with a malformed database_url"
wait_until 30 grep -q 'event=store_connect_failed' "$VAR/log/sessiond.log"
n=$(grep -c 'event=store_connect_failed' "$VAR/log/sessiond.log")
[ "$n" -ge 1 ] && ! grep -qF "$PW" "$VAR/log/sessiond.log" &&
	pass "$n store_connect_failed lines, none with the password" || fail "connect failures: $n lines; password in log: $(grep -cF "$PW" "$VAR/log/sessiond.log")"
restart_env || fail "restart with the right url"
req GET /api/sessions/health/
expect_status 200 "healthy again with the right url"

# --- item 11: a write whose result is lost is not applied twice ------------------------------------
create 'auth0|retry'
expect_status 201 "create before the faults"
T=$TOKEN
sid=$(jq_body '.session.id')
grep -qa SESSIOND_TEST_DROP_AFTER "$BUILD/sessiond" ||
	fail "$BUILD/sessiond was built without the test fault hooks (make test builds them in; by hand: make FAULT_HOOKS=1 all tools)"
restart_env SESSIOND_TEST_DROP_AFTER=sess_patch,sess_create || fail "restart with the fault hook"
as "$T" PATCH /api/sessions/current/ -H 'Content-Type: application/json' -H 'If-Match: "1"' -d '{"onboarding_step":"lost"}'
expect_error 503 store_unavailable "PATCH committed but its result lost: 503, not a retry"
expect_header Retry-After '^[0-9]+$' "with Retry-After"
[ "$(psql_q "SELECT version || ':' || onboarding_step FROM sessions WHERE id = '$sid'")" = "2:lost" ] &&
	pass "the PATCH was applied exactly once (version 1 -> 2)" || fail "after the lost PATCH: $(psql_q "SELECT version || ':' || onboarding_step FROM sessions WHERE id = '$sid'")"
before=$(psql_q "SELECT count(*) FROM sessions WHERE user_id = 'auth0|retry2'")
create 'auth0|retry2'
expect_error 503 store_unavailable "create committed but its result lost: 503, not a conflict or 500"
[ "$before:$(psql_q "SELECT count(*) FROM sessions WHERE user_id = 'auth0|retry2'")" = "0:1" ] &&
	pass "the create was applied exactly once" || fail "sessions of retry2: $before -> $(psql_q "SELECT count(*) FROM sessions WHERE user_id = 'auth0|retry2'")"
grep -q 'event=store_unavailable' "$VAR/log/sessiond.log" && pass "the lost result is logged as unavailable" || fail "no store_unavailable line"
restart_env || fail "restart without the fault hook"
as "$T" PATCH /api/sessions/current/ -H 'Content-Type: application/json' -H 'If-Match: "2"' -d '{"onboarding_step":"after"}'
expect_status 200 "the client's retry with the version it now reads succeeds"
expect_json '.version' '3' "version 3 after the retry"
# A read on a connection the server dropped while idle is still retried transparently.
# drop_idle_connections: terminates sessiond's backends and waits until they are gone.
drop_idle_connections() {
	local pids
	pids=$(psql_q "SELECT coalesce(string_agg(pid::text, ','), '0') FROM pg_stat_activity WHERE application_name = 'sessiond'")
	psql_q "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE pid IN ($pids)" >/dev/null
	terminated() { [ "$(psql_q "SELECT count(*) FROM pg_stat_activity WHERE pid IN ($pids)")" = 0 ]; }
	wait_until 30 terminated
}
drop_idle_connections
as "$T" GET /api/sessions/current/
expect_status 200 "a read after the server dropped idle connections"
# And a write on such a connection: the dead connection is found before sending, so it is sent once.
drop_idle_connections
as "$T" PATCH /api/sessions/current/ -H 'Content-Type: application/json' -H 'If-Match: "3"' -d '{"onboarding_step":"idle"}'
expect_status 200 "a write after the server dropped idle connections"
expect_json '.version' '4' "applied once (version 4)"

# --- item 16: deadlock and serialization failure are a retryable 503 -----------------------------------
for state in 40P01 40001; do
	# A real PostgreSQL error with that SQLSTATE, raised inside the PATCH's transaction.
	psql_q "CREATE OR REPLACE FUNCTION test_fail() RETURNS trigger LANGUAGE plpgsql AS \$\$ BEGIN RAISE EXCEPTION 'injected' USING ERRCODE = '$state'; END \$\$;
		CREATE TRIGGER zz_fail BEFORE UPDATE ON sessions FOR EACH ROW EXECUTE FUNCTION test_fail()" >/dev/null
	as "$T" PATCH /api/sessions/current/ -H 'Content-Type: application/json' -d '{"onboarding_step":"x"}'
	expect_error 503 store_unavailable "SQLSTATE $state is a retryable 503"
	expect_header Retry-After '^[0-9]+$' "SQLSTATE $state carries Retry-After"
	psql_q "DROP TRIGGER zz_fail ON sessions; DROP FUNCTION test_fail()" >/dev/null
done
as "$T" PATCH /api/sessions/current/ -H 'Content-Type: application/json' -d '{"onboarding_step":"y"}'
expect_status 200 "the same PATCH succeeds once the conflict is gone"
grep -q 'event=store_retryable sqlstate=40P01' "$VAR/log/sessiond.log" && pass "logged as retryable" || fail "no store_retryable line"

# --- item 16: --check-config loads the keys and says what it found --------------------------------------
out=$("$BUILD/sessiond" --config "$CONF" --check-config 2>&1)
rc=$?
[ "$rc" = 0 ] && grep -qx "jwks: 1 key from $KEYS/jwks.json" <<<"$out" && grep -qx 'service key: none (the internal route is disabled)' <<<"$out" &&
	pass "--check-config reports the JWKS key count and the service key" || fail "check-config keys: rc=$rc $(tail -4 <<<"$out")"
mkdir -p "$VAR/k2"
"$MINT" keygen --out "$VAR/k2" --kid k2 >/dev/null
"$MINT" jwks --out "$VAR/two.json" "dev=$KEYS/dev.pub.pem" "k2=$VAR/k2/k2.pub.pem"
skey=$(openssl rand -hex 24)
secret_note "$skey"
printf '%s\n' "$skey" >"$VAR/service.key"
out=$(SESSIOND_JWKS_FILE=$VAR/two.json SESSIOND_SERVICE_KEY_FILE=$VAR/service.key "$BUILD/sessiond" --config "$CONF" --check-config 2>&1)
rc=$?
[ "$rc" = 0 ] && grep -qx "jwks: 2 keys from $VAR/two.json" <<<"$out" && grep -qx "service key: 48 bytes from $VAR/service.key" <<<"$out" &&
	[[ "$out" != *"$skey"* ]] && pass "two keys and a 48-byte service key found (the key itself not shown)" || fail "check-config two keys: rc=$rc $(tail -4 <<<"$out")"
printf '{"keys": [' >"$VAR/broken.json"
out=$(SESSIOND_JWKS_FILE=$VAR/broken.json "$BUILD/sessiond" --config "$CONF" --check-config 2>&1)
rc=$?
[ "$rc" = 1 ] && [[ "$out" == *"cannot load the JWKS"*"$VAR/broken.json"* ]] && [[ "$out" != *"configuration ok"* ]] &&
	pass "an unusable JWKS fails --check-config, naming the file" || fail "broken JWKS: rc=$rc $(tail -2 <<<"$out")"
printf 'short\n' >"$VAR/short.key"
out=$(SESSIOND_SERVICE_KEY_FILE=$VAR/short.key "$BUILD/sessiond" --config "$CONF" --check-config 2>&1)
rc=$?
[ "$rc" = 1 ] && [[ "$out" == *"service_key_file $VAR/short.key: shorter than 16 bytes"* ]] &&
	pass "a too-short service key fails --check-config" || fail "short service key: rc=$rc $(tail -2 <<<"$out")"

# --- item 16: no configuration file at all is said plainly ------------------------------------------------
if [ -e /etc/sessiond/sessiond.conf ]; then
	fail "cannot check the no-configuration message: /etc/sessiond/sessiond.conf exists on this machine"
else
	out=$(env -i PATH="$PATH" "$BUILD/sessiond" --check-config 2>&1)
	rc=$?
	[ "$rc" = 1 ] && [[ "$out" == *"no configuration file was read"*"/etc/sessiond/sessiond.conf does not exist"* ]] &&
		pass "without any configuration file sessiond says none was read" || fail "no config: rc=$rc $out"
fi

# --- item 9/16: scripts/stack status asks sessiond itself; make start notices a changed configuration ----------
out=$("$TOP/scripts/stack" status 2>&1)
rc=$?
[ "$rc" = 0 ] && grep -q "^sessiond: running (pid $(master)), healthy on $SOCK$" <<<"$out" &&
	pass "stack status: sessiond healthy on its socket" || fail "stack status: rc=$rc $out"
mv "$SOCK" "$SOCK.away"
out=$("$TOP/scripts/stack" status 2>&1)
rc=$?
[ "$rc" = 1 ] && grep -q "^sessiond: running (pid $(master)) but not healthy" <<<"$out" &&
	pass "stack status: a running pid that does not answer is reported, exit 1" || fail "stack status without socket: rc=$rc $out"
mv "$SOCK.away" "$SOCK"
old=$(master)
out=$(SESSIOND_WORKERS=3 "$TOP/scripts/stack" status 2>&1)
[[ "$out" == *"restart needed"* ]] && pass "stack status says a changed configuration needs a restart" || fail "status with changed config: $out"
SESSIOND_WORKERS=3 "$TOP/scripts/stack" start >"$VAR/restart.log" 2>&1
new=$(master)
[ "$new" != "$old" ] && kill -0 "$new" && ! kill -0 "$old" 2>/dev/null && grep -q 'configuration changed' "$VAR/restart.log" &&
	pass "make start with a changed configuration restarts sessiond (and says so)" || fail "no restart: $old -> $new; $(cat "$VAR/restart.log")"
[ "$(worker_pids | wc -l)" = 3 ] && pass "the new configuration is in effect (3 workers)" || fail "workers: $(worker_pids | wc -l)"
"$TOP/scripts/stack" start >"$VAR/restart.log" 2>&1
again=$(master)
[ "$again" != "$new" ] && [ "$(worker_pids | wc -l)" = 2 ] && pass "and back to 2 workers" || fail "not restarted back: $(worker_pids | wc -l) workers"
"$TOP/scripts/stack" start >"$VAR/restart.log" 2>&1
[ "$(master)" = "$again" ] && ! grep -q 'configuration changed' "$VAR/restart.log" &&
	pass "make start with an unchanged configuration leaves sessiond running" || fail "restarted without a change"
req GET /api/sessions/health/
expect_status 200 "healthy after the restarts"

# --- item 16: SIGHUP's effect is documented identically in docs/deployment.md and sessiond(8) ------------
flat() { tr '\n' ' ' | sed -e 's/\\-/-/g' -e 's/  */ /g'; }
sighup=$(sed -n '/^\.B SIGHUP$/,/^\.[TP]P$/p' "$TOP/man/sessiond.8" | sed '1d;$d' | flat | sed 's/ $//')
[[ "$sighup" == "SIGHUP: "*"Nothing else is re-read"* ]] && [[ "$(sed 's/^  //' "$TOP/docs/deployment.md" | flat)" == *"$sighup"* ]] &&
	pass "SIGHUP: docs/deployment.md says word for word what sessiond(8) says" || fail "SIGHUP text differs: man: '$sighup'"
# And it does what it says: a new service key file is used after SIGHUP, without a restart.
restart_env SESSIOND_SERVICE_KEY_FILE="$VAR/service.key" || fail "restart with a service key"
svc() { req PATCH "/api/sessions/internal/users/auth0%7Chup/" -H "Authorization: Service $1" -H 'Content-Type: application/json' -d '{"subscription_plan":"pro"}'; }
svc "$skey"
expect_status 200 "the service key read at start works"
skey2=$(openssl rand -hex 24)
secret_note "$skey2"
printf '%s\n' "$skey2" >"$VAR/service.key"
n_reload=$(grep -c 'event=reload$' "$VAR/log/sessiond.log")
kill -HUP "$(master)"
# Every worker logs its reload (event=reload) once it has re-read the key.
all_reloaded() { [ "$(grep -c 'event=reload$' "$VAR/log/sessiond.log")" -ge $((n_reload + $(worker_pids | wc -l))) ]; }
wait_until 30 all_reloaded || fail "not every worker logged its reload within 30 s"
for _ in 1 2 3 4; do svc "$skey"; [ "$STATUS" = 401 ] || break; done
expect_error 401 invalid_service_key "after SIGHUP every worker refuses the old service key"
for _ in 1 2 3 4; do svc "$skey2"; [ "$STATUS" = 200 ] || break; done
expect_status 200 "after SIGHUP every worker accepts the new one"
restart_env || fail "restart without the service key"

# --- item 16: statements that lock several sessions rows lock them in id order ----------------------------
# A row in the middle of a user's sessions is held by another transaction; the
# statement under test then waits on it, holding exactly the rows before it in
# id order (pgrowlocks shows which), never one after it.
psql_q "CREATE EXTENSION IF NOT EXISTS pgrowlocks" >/dev/null
if [ "$(id -u)" -eq 0 ]; then as_pg=(runuser -u postgres --); else as_pg=(); fi
# lock_order_check USER DESC COMMAND...: runs COMMAND in the background while
# the user's 5th session by id is held, waits (up to 120 s: a liveness bound,
# the holder keeps the row for 600 s and the statement timeout is 300 s) until
# the statement waits on it, then compares the rows it holds with the rows
# before the held one. Not seeing it wait is a failure, not a reason to retry.
lock_order_check() {
	local user=$1 desc=$2 ids mid want got holder bg waiting=0
	shift 2
	# The held row is one the statement must lock (not the session invalidate-all keeps): else it never waits.
	ids=$(psql_q "SELECT id FROM sessions WHERE user_id = '$user' AND revoked_at IS NULL AND ${LOCK_ORDER_WANT:-true} ORDER BY id")
	mid=$(sed -n 5p <<<"$ids")
	"${as_pg[@]}" psql -h "$PGSOCK" -U sessiond -d sessiond -qtAX -c "BEGIN" \
		-c "SELECT 1 FROM sessions WHERE id = '$mid' FOR UPDATE" -c "SELECT pg_sleep(600)" >/dev/null 2>&1 &
	holder=$!
	# Start the statement only once the row is really held (a slow machine may
	# take seconds to start psql), then wait until it waits on the row.
	row_held() { [ "$(psql_q "SELECT count(*) FROM pg_stat_activity WHERE query LIKE '%pg_sleep(600)%' AND state = 'active' AND pid <> pg_backend_pid()")" = 1 ]; }
	statement_waits() { [ "$(psql_q "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'sessiond' AND wait_event_type = 'Lock'")" -ge 1 ]; }
	wait_until 120 row_held || fail "$desc: the holding transaction never started"
	"$@" &
	bg=$!
	wait_until 120 statement_waits && waiting=1
	# What the backends were doing, for the message.
	local seen
	seen=$(psql_q "SELECT string_agg(application_name || ':' || coalesce(state, '') || ':' || coalesce(wait_event_type, '') || ':' || left(query, 40), ' | ')
		FROM pg_stat_activity WHERE datname = 'sessiond' AND pid <> pg_backend_pid()")
	want=$(psql_q "SELECT coalesce(string_agg(id::text, ',' ORDER BY id), '') FROM sessions WHERE user_id = '$user' AND id < '$mid' AND ${LOCK_ORDER_WANT:-true}")
	got=$(psql_q "SELECT coalesce(string_agg(s.id::text, ',' ORDER BY s.id), '') FROM pgrowlocks('sessions') r
		JOIN sessions s ON s.ctid = r.locked_row
		WHERE s.user_id = '$user' AND s.id <> '$mid'
		  AND EXISTS (SELECT 1 FROM pg_stat_activity a WHERE a.application_name = 'sessiond' AND a.pid = ANY (r.pids))")
	psql_q "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE query LIKE '%pg_sleep(600)%' AND pid <> pg_backend_pid()" >/dev/null
	wait "$holder" 2>/dev/null
	wait "$bg" 2>/dev/null
	[ "$waiting" = 1 ] && [ -n "$want" ] && [ "$got" = "$want" ] &&
		pass "$desc locks the user's rows in id order (holds the $(tr -cd , <<<"$want," | wc -c) before the held row, none after)" ||
		{ fail "$desc: waiting=$waiting; locked '$got', want '$want'; backends: $seen"; return 1; }
}
# A loaded machine may be slow to look: give the waiting statements time (statement timeout 300 s).
restart_env SESSIOND_DB_STATEMENT_TIMEOUT=300000 || fail "restart with a 300 s statement timeout"
ou="auth0|order"
for i in $(seq 1 8); do create "$ou"; done
O1=$TOKEN
LOCK_ORDER_WANT="id <> '$(psql_q "SELECT id FROM sessions WHERE token_hash = sha256(convert_to('$O1', 'UTF8'))")'" \
	lock_order_check "$ou" "invalidate-all (sessiond_revoke)" \
	curl -s -o "$VAR/inv.out" -X POST -H "Authorization: Session $O1" -H 'Content-Type: application/json' -d '{"keep_current":true}' "$BASE/api/sessions/invalidate-all/"
[ "$(psql_q "SELECT count(*) FROM sessions WHERE user_id = '$ou' AND revoked_at IS NULL")" = 1 ] &&
	pass "invalidate-all completed once the row was released" || fail "invalidate-all did not complete: $(cat "$VAR/inv.out")"

# The activity flush: touched cache rows, flushed every second.
restart_env SESSIOND_ACTIVITY_FLUSH_INTERVAL=1 SESSIOND_DB_STATEMENT_TIMEOUT=300000 || fail "restart with a 1 s flush"
# Touched only once the row is held, so the next flush (within a second) meets it.
touch_flush() { psql_q "UPDATE session_cache SET flushed_activity = last_activity, last_activity = last_activity + interval '1 second' WHERE user_id = '$fu'" >/dev/null; }
fu="auth0|flush"
for i in $(seq 1 8); do create "$fu"; done
lock_order_check "$fu" "the activity flush" touch_flush
[ "$(psql_q "SELECT count(*) FROM sessions s JOIN session_cache c USING (id) WHERE s.user_id = '$fu' AND s.last_activity = c.last_activity")" = 8 ] &&
	pass "the flush copied every touched activity once the row was released" || fail "flush incomplete"
restart_env || fail "restart with the default flush"
