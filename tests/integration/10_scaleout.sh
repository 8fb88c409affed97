#!/usr/bin/env bash
# Scale-out: two independent sessiond masters (host A: the stack's, host B: a
# second one with its own socket, config and workers) behind one nginx
# upstream (the shipped conf/nginx/sessiond-upstream.conf), one PostgreSQL.
# Sessions, PATCHes and every kind of revocation cross hosts on the very next
# request — directly on PostgreSQL and through PgBouncer in transaction
# pooling mode with db_prepared_statements off and on — and killing host B under
# load leaves host A serving through the upstream.
. "$(dirname "$0")/../lib.sh"
stack_up "auth_fail_limit = 0
touch_interval = 0"
CONF_B=$VAR/sessiond2.conf
SOCK_A=$VAR/run/sessiond.sock
SOCK_B=$VAR/run/sessiond2.sock
PID_B=$VAR/run/sessiond2.pid
N2=$VAR/nginx2
ACCESS2=$VAR/log/nginx2-access.log
PGB=$VAR/pgbouncer
BASE_A=$BASE

as_pg() { if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }

# --- host B: a second sessiond master with its own config copy ------------------------------
start_b() {
	"$BUILD/sessiond" --config "$CONF_B" </dev/null >>"$VAR/log/sessiond2.log" 2>&1 &
	echo $! >"$PID_B"
	disown   # no "Killed" job notice when the test SIGKILLs it
	wait_health "$BASE_B"
}
stop_b() {
	local pid
	[ -f "$PID_B" ] || return 0
	pid=$(cat "$PID_B")
	kill -TERM "$pid" 2>/dev/null
	for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.05; done
	kill -KILL "$pid" 2>/dev/null
	rm -f "$PID_B"
}
stop_pgbouncer() {
	local pid
	[ -f "$PGB/pgbouncer.pid" ] || return 0
	pid=$(cat "$PGB/pgbouncer.pid")
	kill -TERM "$pid" 2>/dev/null
	wait_until 10 eval "! kill -0 $pid 2>/dev/null"
}
teardown() {
	[ -f "$N2/nginx.pid" ] && nginx -p "$N2" -c "$N2/nginx.conf" -s stop 2>/dev/null
	stop_b
	stop_pgbouncer
	stack_down
}
trap teardown EXIT

sed "s|^listen = .*|listen = $SOCK_B|" "$CONF" >"$CONF_B"

# --- nginx 2: the shipped upstream site (U) plus one server per host (A, B) --------------------
PORT_U=$(free_port)
PORT_B=$(free_port)
BASE_U="http://127.0.0.1:$PORT_U"
BASE_B="http://127.0.0.1:$PORT_B"
mkdir -p "$N2"
cp /etc/nginx/fastcgi_params "$N2/fastcgi_params"
sed -e "s|unix:/run/sessiond/sessiond.sock|unix:$SOCK_A|" \
    -e "s|unix:/run/sessiond2/sessiond.sock|unix:$SOCK_B|" \
    -e "s|listen 127.0.0.1:8080;|listen 127.0.0.1:$PORT_U;|" \
    "$TOP/conf/nginx/sessiond-upstream.conf" >"$N2/upstream.conf"
nginx_conf "$N2" "$VAR/log/nginx2-error.log" 1024 <<CONF
    log_format up '\$status "\$upstream_addr" "\$upstream_status" \$request_method \$request_uri';
    access_log $ACCESS2 up;
    include $N2/upstream.conf;
    # Host B alone (host A alone is the stack's own nginx on \$PORT).
$(nginx_fcgi_server "$PORT_B" "$SOCK_B")
CONF
nginx -p "$N2" -c "$N2/nginx.conf" -t >"$VAR/nginx2-t.log" 2>&1 && nginx -p "$N2" -c "$N2/nginx.conf" &&
	pass "nginx with the shipped upstream site (2 hosts) and a server for host B started" ||
	{ cat "$VAR/nginx2-t.log"; fail "nginx 2 started"; exit 1; }
start_b && pass "host B: a second sessiond master (own socket, config, workers) is up" || { fail "host B started"; exit 1; }
b_workers() { comm -23 <(pgrep -P "$(cat "$PID_B")" | sort) <(pgrep -P "$(cat "$PID_B")" -x sessiond-cache | sort) | wc -l; }
[ "$(b_workers)" -eq 2 ] && [ "$(worker_pids | wc -l)" -eq 2 ] &&
	pass "each host runs its own 2 workers" || fail "workers: A $(worker_pids | wc -l), B $(b_workers)"
[ -n "$(pgrep -P "$(cat "$PID_B")" -x sessiond-cache)" ] && [ -n "$(listener_pid)" ] &&
	pass "each host runs its own cache listener" || fail "cache listeners missing"

# on / create_on / as_on (tests/lib.sh) take host A, B or the upstream U.
json_on() { local h=$1 t=$2 m=$3 p=$4 d=$5; on "$h" "$m" "$p" -H "Authorization: Session $t" -H 'Content-Type: application/json' -d "$d"; }
# burst HOST TOKEN: 20 parallel GET /current/ on HOST; prints the distinct statuses.
burst() {
	local base
	case $1 in A) base=$BASE_A ;; B) base=$BASE_B ;; U) base=$BASE_U ;; esac
	for _ in $(seq 1 20); do
		curl -s -o /dev/null -w '%{http_code}\n' -H "Authorization: Session $2" "$base/api/sessions/current/" &
	done | sort -u | tr '\n' ' ' | sed 's/ $//'
	wait
}

# cross_checks LABEL: every state change on one host is seen by the other on the next request.
cross_checks() {
	local L=$1 u="auth0|x$RANDOM" T1 S1 T2 S2 T3 T4 T5 T6 T7 NEW v
	create_on A "$u"; T1=$TOKEN; S1=$SID
	[ -n "$T1" ] && pass "$L: session created through host A" || fail "$L: create on A: $STATUS $BODY"
	as_on B "$T1" GET /api/sessions/current/
	expect_status 200 "$L: the session created on A is served by B"
	expect_json '.id' "$S1" "$L: B returns the same session"
	json_on A "$T1" PATCH /api/sessions/current/ '{"session_data":{"step":"'"$L"'"},"onboarding_step":"plan"}'
	expect_status 200 "$L: PATCH on A"
	v=$(jq_body .version)
	as_on B "$T1" GET /api/sessions/current/
	expect_json '[.session_data.step, .onboarding_step, .version] | join(",")' "$L,plan,$v" "$L: B sees the new session_data and version $v at once"
	as_on A "$T1" DELETE /api/sessions/current/
	expect_status 200 "$L: logout on A"
	as_on B "$T1" GET /api/sessions/current/
	expect_error 401 invalid_session "$L: the next request on B after the logout on A"

	create_on B "$u"; T2=$TOKEN; S2=$SID
	create_on A "$u"; T3=$TOKEN
	as_on A "$T2" GET /api/sessions/current/
	expect_status 200 "$L: the session created on B is served by A"
	as_on B "$T3" DELETE "/api/sessions/$S2/"
	expect_status 200 "$L: revoke one session on B"
	as_on A "$T2" GET /api/sessions/current/
	expect_error 401 invalid_session "$L: the next request on A after the revoke on B"
	[ "$(burst A "$T2")" = 401 ] && pass "$L: 20 parallel requests on A right after: all 401" || fail "$L: burst after revoke"

	create_on B "$u"; T4=$TOKEN
	create_on U "$u"; T5=$TOKEN
	for t in "$T3" "$T4" "$T5"; do as_on B "$t" GET /api/sessions/current/ >/dev/null; done
	json_on A "$T3" POST /api/sessions/invalidate-all/ '{}'
	expect_status 200 "$L: invalidate-all on A"
	expect_json .count 3 "$L: invalidate-all revoked the user's 3 live sessions"
	bad=0
	for t in "$T3" "$T4" "$T5"; do as_on B "$t" GET /api/sessions/current/; [ "$STATUS" = 401 ] || bad=$((bad + 1)); done
	[ "$bad" = 0 ] && pass "$L: after invalidate-all on A, every session is 401 on B" || fail "$L: $bad sessions still served by B"

	create_on A "$u"; T6=$TOKEN
	as_on A "$T6" GET /api/sessions/current/ >/dev/null
	json_on B "$T6" POST /api/sessions/refresh/ '{"rotate":true}'
	expect_status 200 "$L: rotation on B"
	NEW=$(jq_body '.session_token // empty')
	as_on A "$T6" GET /api/sessions/current/
	expect_error 401 invalid_session "$L: the old token on A after the rotation on B"
	as_on A "$NEW" GET /api/sessions/current/
	expect_status 200 "$L: the new token on A"
	[ "$(burst A "$T6")" = 401 ] && pass "$L: 20 parallel requests with the old token on A: all 401" || fail "$L: burst after rotation"

	# Through the upstream (session affinity): one token's requests stay on one host.
	create_on U "$u"; T7=$TOKEN
	: >"$ACCESS2"
	[ "$(burst U "$T7")" = 200 ] && pass "$L: 20 parallel requests through the upstream: all 200" || fail "$L: upstream burst"
	# nginx logs a request after its answer: wait for the 20 lines, not a fixed delay.
	logged20() { [ "$(awk '$5 == "/api/sessions/current/"' "$ACCESS2" | wc -l)" -ge 20 ]; }
	wait_until 10 logged20 || fail "$L: the upstream burst's 20 lines never reached the access log"
	hosts=$(awk '$5 == "/api/sessions/current/" {print $2}' "$ACCESS2" | sort -u | wc -l)
	[ "$hosts" = 1 ] && pass "$L: the upstream kept one token's requests on one host (affinity)" || fail "$L: one token's requests went to $hosts hosts"
}

# affinity_checks: through the load-balancing nginx, each client's PATCH then an immediate GET is never
# stale (both land on its host), clients spread over both hosts; records each token's host in AFF_*.
AFF_TOKENS=()
AFF_HOSTS=()
last_upstream() { tail -1 "$ACCESS2" | awk '{print $2}' | tr -d '"'; }
affinity_checks() {
	local i T v stale=0 hosts_seen h
	for i in $(seq 1 16); do
		create_on U "auth0|aff$i$RANDOM"; T=$TOKEN
		as_on U "$T" GET /api/sessions/current/ >/dev/null
		: >"$ACCESS2"
		for r in 1 2 3; do
			json_on U "$T" PATCH /api/sessions/current/ '{"session_data":{"r":'"$r"'}}'
			v=$(jq_body .version)
			as_on U "$T" GET /api/sessions/current/
			[ "$(jq_body '[.session_data.r, .version] | map(tostring) | join(",")')" = "$r,$v" ] || stale=$((stale + 1))
		done
		h=$(awk '{print $2}' "$ACCESS2" | sort -u | tr -d '"' | paste -sd' ')
		AFF_TOKENS+=("$T")
		AFF_HOSTS+=("$h")
	done
	[ "$stale" = 0 ] && pass "affinity: 48 PATCHes through the upstream, each GET right after showed its version (0 stale)" ||
		fail "affinity: $stale of 48 GETs right after a PATCH through the upstream were stale"
	hosts_seen=$(printf '%s\n' "${AFF_HOSTS[@]}" | sort -u)
	[ "$(printf '%s\n' "${AFF_HOSTS[@]}" | grep -c ' ')" = 0 ] && [ "$(printf '%s\n' "$hosts_seen" | wc -l)" = 2 ] &&
		pass "affinity: each client stayed on one host, and the clients spread over both hosts" ||
		fail "affinity: hosts per client: $(printf '%s|' "${AFF_HOSTS[@]}")"
}
# affinity_after_loss GONE-SOCKET: the clients of the lost host are served by the other, with their data.
affinity_after_loss() {
	local i moved=0 bad=0
	for i in "${!AFF_TOKENS[@]}"; do
		[ "${AFF_HOSTS[$i]}" = "unix:$1" ] || continue
		as_on U "${AFF_TOKENS[$i]}" GET /api/sessions/current/
		if [ "$STATUS" = 200 ] && [ "$(jq_body .session_data.r)" = 3 ]; then moved=$((moved + 1)); else bad=$((bad + 1)); fi
	done
	[ "$moved" -gt 0 ] && [ "$bad" = 0 ] && pass "affinity: the $moved clients of the lost host moved to the other, with their data" ||
		fail "affinity after the loss: $moved moved, $bad not"
}

# patch_seen_on_b LABEL: a session in host B's per-host cache, PATCHed on host A, 20 times in a row:
# once B's listener has read the invalidation log, B's next read shows each new version, and B did serve it from its cache.
hits_b() { curl -s "$BASE_B/api/sessions/metrics/" | awk '$1 == "sessiond_local_cache_hits_total" { print $2 }'; }
patch_seen_on_b() {
	local L=$1 T v stale=0 cached_miss=0 lagging=0 h0 h1 i
	create_on A "auth0|pb$RANDOM"; T=$TOKEN
	for i in $(seq 1 20); do
		h0=$(hits_b)
		as_on B "$T" GET /api/sessions/current/ >/dev/null
		as_on B "$T" GET /api/sessions/current/ >/dev/null
		h1=$(hits_b)
		json_on A "$T" PATCH /api/sessions/current/ '{"session_data":{"i":'"$i"'}}'
		v=$(jq_body .version)
		# The promise is one listener read after the ring, not before B's next request: wait for that read.
		wait_listeners_applied || lagging=$((lagging + 1))
		as_on B "$T" GET /api/sessions/current/
		[ "$(jq_body '[.session_data.i, .version] | map(tostring) | join(",")')" = "$i,$v" ] || stale=$((stale + 1))
		[ $((h1 - h0)) -ge 1 ] || cached_miss=$((cached_miss + 1))
	done
	[ "$lagging" = 0 ] && pass "$L: after each PATCH, the cache listeners applied a read of the invalidation log sent after it (within 30 s)" ||
		fail "$L: the cache listeners did not apply a read within 30 s after $lagging of 20 PATCHes"
	[ "$stale" = 0 ] && pass "$L: 20 PATCHes on A of a session cached on B: B's next read after its listener's read showed each (0 stale)" ||
		fail "$L: $stale of 20 reads on B after a PATCH on A and B's listener's read were stale"
	[ "$cached_miss" -le 2 ] && pass "$L: B served the session from its per-host cache before each PATCH" ||
		fail "$L: B's cache did not serve the session in $cached_miss of 20 rounds"
}

cross_checks direct
patch_seen_on_b direct
affinity_checks

# --- the same through PgBouncer 1.18, transaction pooling, db_prepared_statements = off -----------
# Statement timeouts come from the role (PgBouncer ignores the options startup parameter).
psql_q "ALTER ROLE sessiond SET statement_timeout = '5s'" >/dev/null
PGB_PORT=$(free_port)
mkdir -p "$PGB"
printf '"sessiond" ""\n' >"$PGB/userlist.txt"
cat >"$PGB/pgbouncer.ini" <<INI
[databases]
sessiond = host=$PGSOCK dbname=sessiond user=sessiond

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = $PGB_PORT
unix_socket_dir = $PGB
auth_type = trust
auth_file = $PGB/userlist.txt
pool_mode = transaction
; fewer server connections than the 4 workers: they really share them
default_pool_size = 2
max_client_conn = 100
stats_users = sessiond
admin_users = sessiond
ignore_startup_parameters = extra_float_digits,options
logfile = $VAR/log/pgbouncer.log
pidfile = $PGB/pgbouncer.pid
INI
touch "$VAR/log/pgbouncer.log"
[ "$(id -u)" -eq 0 ] && chown -R postgres "$PGB" "$VAR/log/pgbouncer.log"
as_pg pgbouncer -d "$PGB/pgbouncer.ini" >>"$VAR/log/pgbouncer.log" 2>&1
for _ in $(seq 1 50); do [ -s "$PGB/pgbouncer.pid" ] && break; sleep 0.1; done
PGB_URL="host=127.0.0.1 port=$PGB_PORT dbname=sessiond user=sessiond"
[ "$(psql "$PGB_URL" -qtAX -c 'SHOW statement_timeout' 2>&1)" = 5s ] &&
	pass "pgbouncer (transaction pooling) is up; server connections get statement_timeout from the role" ||
	fail "pgbouncer: $(tail -3 "$VAR/log/pgbouncer.log")"

use_pgbouncer() { # conf-file prepared(on|off)
	sed -i -e "s|^database_url = .*|database_url = $PGB_URL|" -e '/^db_prepared_statements/d' -e '/^listen_database_url/d' "$1"
	echo "db_prepared_statements = $2" >>"$1"
	# The per-host cache's LISTEN needs a session of its own: straight to PostgreSQL.
	echo "listen_database_url = host=$PGSOCK dbname=sessiond user=sessiond" >>"$1"
}
use_pgbouncer "$CONF" off
use_pgbouncer "$CONF_B" off
sessiond_restart && stop_b && start_b && pass "both hosts restarted on pgbouncer with db_prepared_statements = off" ||
	fail "restart on pgbouncer"
cross_checks pgbouncer
patch_seen_on_b pgbouncer
clients=$(psql "host=127.0.0.1 port=$PGB_PORT dbname=pgbouncer user=sessiond" -qtAX -c 'SHOW CLIENTS' 2>/dev/null | grep -c '^C|sessiond|sessiond|')
servers=$(psql_q "SELECT count(*) FROM pg_stat_activity WHERE datname = 'sessiond' AND backend_type = 'client backend' AND pid <> pg_backend_pid() AND application_name <> 'sessiond-cache'")
[ "$clients" -ge 4 ] && [ "$servers" -le 2 ] &&
	pass "the 4 workers went through pgbouncer ($clients clients) over at most 2 server connections ($servers)" ||
	fail "pooling: $clients pgbouncer clients, $servers server connections"

# With prepared statements on, transaction pooling hands a worker's next
# transaction to a server connection where its statements were never prepared
# (26000) or where another worker prepared them (42P05): sessiond falls back to
# unnamed statements for that connection, logs it once, and answers.
pgb_admin() { psql "host=127.0.0.1 port=$PGB_PORT dbname=pgbouncer user=sessiond" -qtAX -c "$1" 2>&1; }
pgb_clients_at_least() { [ "$(pgb_admin 'SHOW CLIENTS' | grep -c '^C|sessiond|sessiond|')" -ge "$1" ]; }
# 26000 made certain: host B alone prepares (one worker, so no 42P05 at start),
# then pgbouncer's RECONNECT replaces every server connection: B's next
# statement is missing wherever it lands, and is sent again unnamed.
use_pgbouncer "$CONF_B" on
stop_b
off_b=$(wc -l <"$VAR/log/sessiond2.log")
SESSIOND_WORKERS=1 start_b || fail "host B (1 worker) on pgbouncer with db_prepared_statements = on"
wait_until 30 pgb_clients_at_least 3 || fail "host B's worker did not connect to pgbouncer"
pgb_admin 'RECONNECT sessiond' >"$VAR/pgb-reconnect.txt"
pu="auth0|prep$RANDOM"
create_on B "$pu"
expect_status 201 "db_prepared_statements = on behind transaction pooling: the first request after RECONNECT (a create)"
[ "$(psql_q "SELECT count(*) FROM sessions WHERE user_id = '$pu'")" = 1 ] && pass "the create was applied exactly once" ||
	fail "sessions of $pu: $(psql_q "SELECT count(*) FROM sessions WHERE user_id = '$pu'")"
# Met by the create itself or, when it ran first, by the worker's own
# background statements between requests (the activity flush, the gauge
# sample): either way on B's one connection after the RECONNECT, logged once.
[ "$(tail -n +"$((off_b + 1))" "$VAR/log/sessiond2.log" | grep -c 'event=store_prepared_fallback sqlstate=26000')" -eq 1 ] &&
	pass "the missing prepared statement (26000) was met after the RECONNECT and logged once" ||
	fail "26000 fallbacks logged after the RECONNECT: $(tail -n +"$((off_b + 1))" "$VAR/log/sessiond2.log" | grep -c 'event=store_prepared_fallback sqlstate=26000'), want 1 ($(cat "$VAR/pgb-reconnect.txt"))"
on B GET /api/sessions/health/
expect_status 200 "the next request on that connection (unnamed statements)"
# Both hosts, 2 workers each, concurrently: whatever each meets, every request is answered.
use_pgbouncer "$CONF" on
off_a=$(wc -l <"$VAR/log/sessiond.log")
sessiond_restart && stop_b && start_b && pass "both hosts restarted on pgbouncer with db_prepared_statements = on" ||
	fail "restart on pgbouncer with prepared statements"
logged_since() { tail -n +"$((off_a + 1))" "$VAR/log/sessiond.log"; tail -n +"$((off_b + 1))" "$VAR/log/sessiond2.log"; }
wait_until 30 pgb_clients_at_least 4 || fail "the 4 workers did not all connect to pgbouncer"
pgb_admin 'RECONNECT sessiond' >>"$VAR/pgb-reconnect.txt"
: >"$VAR/on.txt"
pids=()
for h in "$BASE_A" "$BASE_B"; do
	for _ in $(seq 1 12); do
		curl -s -m 10 -o /dev/null -w '%{http_code}\n' "$h/api/sessions/health/" >>"$VAR/on.txt" &
		pids+=($!)
	done
done
wait "${pids[@]}"
[ "$(sort -u "$VAR/on.txt" | tr '\n' ' ')" = "200 " ] &&
	pass "db_prepared_statements = on through transaction pooling: 24 concurrent requests on both hosts all 200" ||
	fail "prepared statements through transaction pooling: $(sort "$VAR/on.txt" | uniq -c | awk '{printf "%s:%s ", $2, $1}')"
twice=$(logged_since | grep 'event=store_prepared_fallback' | grep -o 'pid=[0-9]*' | sort | uniq -d | tr '\n' ' ')
[ -z "$twice" ] && pass "each worker logged its fallback once at most ($(logged_since | grep -c 'event=store_prepared_fallback') lines)" ||
	fail "fallback logged more than once by: $twice"
cross_checks pgbouncer-prepared
patch_seen_on_b pgbouncer-prepared
[ "$(logged_since | grep -cE 'event=store_(error|prepare_failed|unavailable)')" = 0 ] &&
	pass "with prepared statements through pgbouncer, no statement failed or was refused" ||
	fail "$(logged_since | grep -E 'event=store_(error|prepare_failed|unavailable)' | head -3)"
use_pgbouncer "$CONF" off
use_pgbouncer "$CONF_B" off
sessiond_restart && stop_b && start_b || fail "both hosts back with db_prepared_statements = off"

# --- cleanup_sessions with several hosts: one runner, straight to PostgreSQL ------------------------
# Both hosts' cron fires at once, each with its own config pointed past
# pgbouncer at PostgreSQL: the advisory lock lets one run; the other exits 3
# (or finds the lock free again and runs after it).
cp "$CONF_B" "$VAR/cleanup-b.conf"
sed -i "s|^database_url = .*|database_url = host=$PGSOCK dbname=sessiond user=sessiond|" "$VAR/cleanup-b.conf"
runs=()
for i in 1 2; do
	{ SESSIOND_DATABASE_URL="host=$PGSOCK dbname=sessiond user=sessiond" "$BUILD/cleanup_sessions" --config "$CONF" \
		>"$VAR/cleanup.$i.out" 2>&1; echo $? >"$VAR/cleanup.$i.rc"; } &
	runs+=($!)
	{ "$BUILD/cleanup_sessions" --config "$VAR/cleanup-b.conf" >"$VAR/cleanup.b$i.out" 2>&1; echo $? >"$VAR/cleanup.b$i.rc"; } &
	runs+=($!)
done
wait "${runs[@]}"
codes=$(cat "$VAR"/cleanup.*.rc | sort | tr '\n' ' ')
[ "$(cat "$VAR"/cleanup.*.rc | sort -u | tr -d '\n' | tr -d 03)" = "" ] && grep -qx 0 "$VAR"/cleanup.*.rc &&
	pass "cleanup_sessions started 4 times at once from both hosts, direct to PostgreSQL: exit codes $codes (0 ran, 3 lock held)" ||
	fail "cleanup: codes $codes: $(cat "$VAR"/cleanup.*.out)"

# --- host B SIGKILLed (master and workers) under load through the upstream -----------------------------
tokens=()
for i in $(seq 1 20); do create_on U "auth0|load$i"; tokens+=("$TOKEN"); done
{
	echo 'local tokens = {'
	for t in "${tokens[@]}"; do echo "  \"$t\","; done
	cat <<'LUA'
}
local i = 0
request = function()
  i = i + 1
  return wrk.format("GET", "/api/sessions/current/", { ["Authorization"] = "Session " .. tokens[(i % #tokens) + 1] })
end
LUA
} >"$VAR/load.lua"
: >"$ACCESS2"
# wrk runs until stopped (SIGINT: it prints its summary): the kill waits for
# host B to have served, the stop for host A to have served alone after it.
wrk -t2 -c8 -d300s --timeout 5s -s "$VAR/load.lua" "$BASE_U" >"$VAR/wrk.txt" 2>&1 &
LOAD=$!
served_by_b_at_least() { [ "$(grep -c "unix:$SOCK_B" "$ACCESS2")" -ge "$1" ]; }
wait_until 60 served_by_b_at_least 20
before_b=$(grep -c "unix:$SOCK_B" "$ACCESS2")
b_master=$(cat "$PID_B")
b_workers=$(pgrep -P "$b_master" | tr '\n' ' ')
# shellcheck disable=SC2086
kill -KILL "$b_master" $b_workers
kill_line=$(wc -l <"$ACCESS2")
lines_after_kill_at_least() { [ "$(wc -l <"$ACCESS2")" -ge $((kill_line + $1)) ]; }
wait_until 60 lines_after_kill_at_least 300
kill -INT "$LOAD"
wait "$LOAD"
rm -f "$PID_B"
total=$(awk '$1 != 499' "$ACCESS2" | wc -l)
ok=$(awk '$1 == 200' "$ACCESS2" | wc -l)
bad=$((total - ok))
statuses=$(awk '{print $1}' "$ACCESS2" | sort | uniq -c | awk '{printf "%s:%s ", $2, $1}')
[ "$before_b" -ge 20 ] && pass "host B served its share before the kill ($before_b requests)" || fail "host B served $before_b before the kill (60 s)"
[ "$total" -ge $((before_b + 200)) ] && pass "load ran through the upstream ($total requests)" || fail "too little load in 60 s: $total"
[ "$bad" -le 2 ] && pass "host B killed under load: $bad failed (at most its 2 in-flight requests): $statuses" ||
	fail "kill: $bad failed: $statuses"
# Requests in flight on B when it died are logged when their retry on A
# finishes; after the last line that mentions B, host A alone serves (499:
# wrk closed a connection with a request in flight when it was stopped).
last_b=$(grep -n "unix:$SOCK_B" "$ACCESS2" | tail -1 | cut -d: -f1)
after=$(tail -n +$((last_b + 1)) "$ACCESS2" | awk '$1 != 499' | wc -l)
after_a=$(tail -n +$((last_b + 1)) "$ACCESS2" | awk '$1 == 200 && $2 == "\"unix:'"$SOCK_A"'\""' | wc -l)
[ "$last_b" -le $((kill_line + 100)) ] && [ "$after" -gt 100 ] && [ "$after_a" -eq "$after" ] &&
	pass "nginx stopped trying host B at once (last attempt $((last_b - kill_line)) log lines after the kill); then host A alone served $after_a/$after" ||
	fail "after the kill: last B attempt at line $last_b (kill at $kill_line), then $after_a of $after served by A alone"
grep -qE 'Socket errors:.*(connect [1-9]|read [1-9]|write [1-9]|timeout [1-9])' "$VAR/wrk.txt" &&
	fail "wrk saw socket errors: $(grep 'Socket errors' "$VAR/wrk.txt")" || pass "no client-side errors"
on U GET /api/sessions/health/
expect_status 200 "the upstream still answers with host B gone"
affinity_after_loss "$SOCK_B"
