#!/usr/bin/env bash
# Foundation: health, error shapes, store outage, worker supervision, SIGTERM,
# configuration errors, migrations, config example and README reference.
. "$(dirname "$0")/../lib.sh"
stack_up

# The schema the migrations build is the one sql/schema.sql shows (scripts/gen-schema).
if [ "$(id -u)" -eq 0 ]; then
	runuser -u postgres -- "$TOP/scripts/gen-schema" -h "$PGSOCK" -U sessiond -d sessiond >"$VAR/schema.sql"
else
	"$TOP/scripts/gen-schema" -h "$PGSOCK" -U sessiond -d sessiond >"$VAR/schema.sql"
fi
if diff -u "$TOP/sql/schema.sql" "$VAR/schema.sql" >"$VAR/schema.diff"; then
	pass "sql/schema.sql is the migrated schema"
else
	fail "sql/schema.sql is out of date (regenerate with scripts/gen-schema): $(head -c 600 "$VAR/schema.diff")"
fi

req GET /api/sessions/health/
expect_status 200 "health"
expect_json '.status + "/" + .store' "ok/ok" "health body"
expect_header Cache-Control '^no-store$' "health has Cache-Control: no-store"
expect_header Content-Type '^application/json; charset=utf-8$' "health content type"

req GET /api/sessions/no-such-route/
expect_error 404 not_found "unknown route"
req GET /elsewhere
[ "$STATUS" = 404 ] && pass "paths outside /api/sessions/ are not served" || fail "outside path: $STATUS"
req DELETE /api/sessions/health/
expect_error 405 method_not_allowed "wrong method"
expect_header Allow '^GET$' "405 names the allowed methods"
expect_header Cache-Control '^no-store$' "errors have Cache-Control: no-store"

# --- the store goes away and comes back --------------------------------------
before=$(worker_pids)
pg_ctl_as -m fast -w stop >/dev/null
req GET /api/sessions/health/
expect_status 503 "health while PostgreSQL is stopped"
expect_header Retry-After '^[0-9]+$' "503 carries Retry-After"
req GET /api/sessions/health/
expect_status 503 "health still 503, no hang"
pg_ctl_as -l "$VAR/log/postgresql.log" -w start >/dev/null
ok=0
healthy() { req GET /api/sessions/health/; [ "$STATUS" = 200 ]; }
wait_until 30 healthy && ok=1
[ "$ok" = 1 ] && pass "health 200 again after PostgreSQL restarts" || fail "health did not recover: $STATUS"
for _ in 1 2 3 4; do req GET /api/sessions/health/; done
expect_status 200 "every worker reconnected"
[ "$before" = "$(worker_pids)" ] && pass "no worker crashed during the outage" || fail "worker pids changed: $before -> $(worker_pids)"
grep -q 'event=store_reconnected' "$VAR/log/sessiond.log" && pass "reconnect is logged" || fail "no reconnect log line"

# --- worker supervision ---------------------------------------------------------
victim=$(worker_pids | head -1)
kill -KILL "$victim"
replaced=0
victim_replaced() { local now; now=$(worker_pids); ! grep -qx "$victim" <<<"$now" && [ "$(wc -l <<<"$now")" -eq 2 ]; }
wait_until 30 victim_replaced && replaced=1
[ "$replaced" = 1 ] && pass "a SIGKILLed worker is replaced" || fail "worker not replaced: $(worker_pids)"
grep -q "event=worker_died worker_pid=$victim signal=9" "$VAR/log/sessiond.log" && pass "worker death logged with pid and signal" || fail "no worker_died line"
for _ in 1 2 3 4; do req GET /api/sessions/health/; done
expect_status 200 "service continues after a worker dies"

# --- configuration errors name the file and line -------------------------------------
bad=$VAR/bad.conf
printf '# comment\njwt_issuer = https://x/\nworkers = many\n' >"$bad"
out=$("$BUILD/sessiond" --check-config --config "$bad" 2>&1)
rc=$?
[ "$rc" -ne 0 ] && [[ "$out" == *"$bad:3:"*workers* ]] && pass "bad value names file and line" || fail "bad value: rc=$rc out=$out"
printf 'jwt_issuer = https://x/\njwt_audience = a\nno_such_key = 1\n' >"$bad"
out=$("$BUILD/sessiond" --check-config --config "$bad" 2>&1)
[[ "$out" == *"$bad:3: unknown key 'no_such_key'"* ]] && pass "unknown key names file and line" || fail "unknown key: $out"
printf 'jwt_issuer = https://x/\njwt_audience = a\ncookie_domain = example.com\n' >"$bad"
out=$("$BUILD/sessiond" --check-config --config "$bad" 2>&1)
[[ "$out" == *"__Host-"* ]] && pass "__Host- cookie with a domain is refused" || fail "__Host- + domain: $out"
out=$(SESSIOND_WORKERS=0 "$BUILD/sessiond" --check-config --config "$CONF" 2>&1)
[[ "$out" == *"SESSIOND_WORKERS"* ]] && pass "bad environment override is named" || fail "env override: $out"
out=$(SESSIOND_WORKERS=7 "$BUILD/sessiond" --check-config --config "$CONF" 2>&1)
grep -qx 'workers = 7' <<<"$out" && pass "environment overrides the file" || fail "env override not applied"
grep -q 'database_url' <<<"$out" && pass "--check-config prints the effective configuration" || fail "check-config output"
"$BUILD/sessiond" --version | grep -Eq '^sessiond [0-9]+\.[0-9]+\.[0-9]+$' && pass "--version" || fail "--version"

# --- migrations are idempotent --------------------------------------------------------
schema1=$(psql_q "SELECT string_agg(table_name || '.' || column_name, ',' ORDER BY table_name, column_name) FROM information_schema.columns WHERE table_schema = 'public'")
out=$("$BUILD/sessiond" --config "$CONF" --migrate --sql-dir "$TOP/sql")
[[ "$out" == *"(0 applied)"* ]] && pass "second migrate applies nothing" || fail "second migrate: $out"
schema2=$(psql_q "SELECT string_agg(table_name || '.' || column_name, ',' ORDER BY table_name, column_name) FROM information_schema.columns WHERE table_schema = 'public'")
[ "$schema1" = "$schema2" ] && pass "schema unchanged by a second migrate" || fail "schema changed"
n=$(psql_q "SELECT count(*) FROM schema_migrations")
m=$(ls "$TOP"/sql/[0-9][0-9][0-9]_*.sql | wc -l)
[ "$n" = "$m" ] && pass "every migration recorded once ($n)" || fail "schema_migrations has $n rows for $m files"
[ "$(psql_q "SELECT relpersistence FROM pg_class WHERE relname = 'session_cache'")" = u ] && pass "session_cache is UNLOGGED" || fail "session_cache persistence"

# --- the shipped example and docs/configuration.md follow the key table -----------------------------
example=$TOP/conf/sessiond.conf.example
"$BUILD/sessiond" --config-reference >"$VAR/ref.md"
missing=""
for k in $(sed -n 's/^| `\([a-z_]*\)`.*/\1/p' "$VAR/ref.md"); do
	grep -Eq "^#? ?$k = " "$example" || missing="$missing $k"
done
[ -z "$missing" ] && pass "every key is documented in sessiond.conf.example" || fail "keys missing from the example:$missing"
extra=$(sed -n 's/^#\? \?\([a-z_]*\) = .*/\1/p' "$example" | while read -r k; do grep -q "^| \`$k\`" "$VAR/ref.md" || echo "$k"; done)
[ -z "$extra" ] && pass "the example names no unknown key" || fail "unknown keys in the example: $extra"
# (Its jwks_file is the production path; --check-config loads the keys, so point it at the stack's.)
out=$(env -u SESSIOND_CONF_EXTRA SESSIOND_JWKS_FILE="$KEYS/jwks.json" "$BUILD/sessiond" --check-config --config "$example" 2>&1)
[ $? -eq 0 ] && pass "the example passes --check-config" || fail "example: $out"
if [ "$(grep -Fxc -f "$VAR/ref.md" "$TOP/docs/configuration.md")" -eq "$(wc -l <"$VAR/ref.md")" ]; then
	pass "docs/configuration.md's reference matches the key table"
else
	fail "docs/configuration.md's reference is out of date (run: build/sessiond --config-reference)"
fi

# --- sessiond unreachable: nginx answers in sessiond's error shape --------------------------------
mv "$VAR/run/sessiond.sock" "$VAR/run/sessiond.sock.away"
req GET /api/sessions/health/
expect_error 503 service_unavailable "sessiond unreachable: the shipped site answers JSON 503"
expect_header Retry-After '^1$' "with Retry-After"
mv "$VAR/run/sessiond.sock.away" "$VAR/run/sessiond.sock"
req GET /api/sessions/health/
expect_status 200 "and recovers when the socket is back"

# --- SIGTERM: the master stops its workers and exits 0 --------------------------------------
pid=$(cat "$VAR/run/sessiond.pid")
kill -TERM "$pid"
master_gone() { ! kill -0 "$pid" 2>/dev/null; }
wait_until 30 master_gone
kill -0 "$pid" 2>/dev/null && fail "master still running after SIGTERM" || pass "master exits after SIGTERM"
[ -z "$(pgrep -f "$BUILD/sessiond --config $CONF")" ] && pass "no worker left behind" || fail "workers left: $(pgrep -f "$BUILD/sessiond --config $CONF")"
[ ! -e "$VAR/run/sessiond.sock" ] && pass "listen socket removed at exit" || fail "socket left behind"
grep -q 'event=master_exit' "$VAR/log/sessiond.log" && pass "clean exit logged" || fail "no master_exit"
