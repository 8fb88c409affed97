#!/usr/bin/env bash
# make bench: sessiond side by side with its ceilings, measured with wrk on
# loopback in one run, the cases alternated so machine drift hits all alike.
#   1 nginx `return 200` with a session-sized JSON body       (proxy ceiling)
#   2 nginx -> fcgi_ceiling, a minimal preforked libfcgi responder, same worker count (FastCGI ceiling)
#   3 sessiond GET /api/sessions/current/ (warm, many distinct tokens)
#   4 sessiond GET /api/sessions/auth/
#   5 sessiond POST /api/sessions/create/ (RS256 verification + durable commit)
#   6 sessiond PATCH /api/sessions/current/
#   then tests/bench/write_path.sh: pgbench write ceiling, PATCH and create at 8 workers, GET at 8 vs 2 workers
# Environment: BENCH_SECONDS (per case per round, default 5), BENCH_ROUNDS (2),
# BENCH_CONNECTIONS (8), BENCH_WORKERS (2), BENCH_SESSIONS (2000).
set -uo pipefail
TOP=$(cd "$(dirname "$0")/../.." && pwd)
BUILD=${SESSIOND_BUILD:-$TOP/build}
SECS=${BENCH_SECONDS:-5}
ROUNDS=${BENCH_ROUNDS:-2}
CONNS=${BENCH_CONNECTIONS:-8}
WORKERS=${BENCH_WORKERS:-2}
NSESS=${BENCH_SESSIONS:-2000}
TEST_NAME=bench
. "$TOP/tests/lib.sh"
BUILD=${SESSIOND_BUILD:-$TOP/build}

stack_up "workers = $WORKERS
auth_fail_limit = 0
log_level = warn"
trap 'kill -TERM -- -$CEIL_PGID 2>/dev/null; stack_down' EXIT

# --- the ceilings ---------------------------------------------------------------------------
setsid "$BUILD/tests/tools/fcgi_ceiling" "$VAR/run/ceiling.sock" "$WORKERS" &
CEIL_PGID=$!
body=$(tr -d '\n' <<'JSON'
{"id":"9f0c4b2e-1d3a-4c5b-8e6f-7a8b9c0d1e2f","user":{"id":"auth0|bench","email":"ada@example.com","name":"Ada","picture":null},"tenant":{"id":"t-1","name":"Acme"},"needs_onboarding":true,"onboarding_completed":false,"onboarding_step":"business_info","subscription_plan":"free","subscription_status":"active","session_data":{},"session_type":"web","is_active":true,"is_expired":false,"created_at":"2026-11-28T12:00:00Z","updated_at":"2026-11-28T12:00:00Z","last_activity":"2026-11-28T12:00:00Z","expires_at":"2026-11-29T12:00:00Z","version":3}
JSON
)
CPORT=$(free_port)
cat >"$VAR/nginx/ceilings.conf" <<CONF
server {
    listen 127.0.0.1:$CPORT;
    access_log off;
    location = /static { default_type "application/json; charset=utf-8"; add_header Cache-Control no-store; return 200 '$body'; }
    location = /fcgi { include fastcgi_params; fastcgi_pass unix:$VAR/run/ceiling.sock; }
}
CONF
sed -i "s|include $VAR/nginx/site.conf;|include $VAR/nginx/site.conf; include $VAR/nginx/ceilings.conf;|; s|access_log $VAR/log/nginx-access.log;|access_log off;|" "$VAR/nginx/nginx.conf"
nginx -p "$VAR/nginx" -c "$VAR/nginx/nginx.conf" -s reload
sleep 0.5

# --- sessions: tokens made here, only their hashes stored ------------------------------------
tokens=$VAR/tokens.txt
seed_sessions "$tokens" "$NSESS" 'auth0|bench' || { echo "bench: seeding failed"; exit 1; }
lua_tokens() { echo 'local tokens = {'; sed 's/.*/"&",/' "$tokens"; echo '}'; }
{ lua_tokens; cat <<'LUA'
local i = 0
request = function() i = i + 1
  return wrk.format("GET", "/api/sessions/current/", { ["Authorization"] = "Session " .. tokens[(i % #tokens) + 1] }) end
LUA
} >"$VAR/current.lua"
sed 's|/api/sessions/current/|/api/sessions/auth/|' "$VAR/current.lua" >"$VAR/auth.lua"
{ lua_tokens; cat <<'LUA'
-- Each wrk thread starts at its own offset: two threads walking the tokens in
-- step would PATCH the same session at the same time and wait on its row lock.
local i = 0
local threads = 0
setup = function(thread) threads = threads + 1; thread:set("offset", threads * 997) end
init = function() i = offset or 0 end
request = function() i = i + 1
  local body = '{"session_data":{"k' .. (i % 8) .. '":' .. i .. '}}'
  return wrk.format("PATCH", "/api/sessions/current/", { ["Authorization"] = "Session " .. tokens[(i % #tokens) + 1],
    ["Content-Type"] = "application/json" }, body) end
LUA
} >"$VAR/patch.lua"
jwt=$(mint_jwt "$(std_claims 'auth0|bench-create')")
cat >"$VAR/create.lua" <<LUA
request = function()
  return wrk.format("POST", "/api/sessions/create/", { ["Authorization"] = "Bearer $jwt", ["Content-Type"] = "application/json" }, "{}")
end
LUA
# Warm every cache row (and every worker's statements) before measuring.
wrk -t2 -c"$CONNS" -d2s -s "$VAR/current.lua" "$BASE" >/dev/null

rss_before=$(worker_rss_kib); uss_before=$(worker_private_kib)
names=("nginx return 200 (proxy ceiling)" "nginx -> minimal libfcgi (FastCGI ceiling)" "sessiond GET /current/" "sessiond GET /auth/" "sessiond POST /create/" "sessiond PATCH /current/")
# wrk_stats LABEL: wrk --latency output on stdin -> "rps p50_ms p99_ms requests"; non-2xx answers reported on stderr.
wrk_stats() {
	local out
	out=$(cat)
	if grep -q 'Non-2xx' <<<"$out"; then echo "bench: $1 had errors: $(grep Non-2xx <<<"$out")" >&2; fi
	awk '
	function ms(v) { if (v ~ /us$/) return v / 1000; if (v ~ /ms$/) return v + 0; if (v ~ /s$/) return v * 1000; return v }
	/Requests\/sec/ { rps = $2 }
	/^ +50%/ { p50 = ms($2) }
	/^ +99%/ { p99 = ms($2) }
	/requests in/ { n = $1 }
	END { printf "%s %s %s %s\n", rps, p50, p99, n }' <<<"$out"
}
run_case() { # n -> "rps p50_ms p99_ms requests"
	local out
	case $1 in
	0) out=$(wrk -t2 -c"$CONNS" -d"$SECS"s --latency "http://127.0.0.1:$CPORT/static") ;;
	1) out=$(wrk -t2 -c"$CONNS" -d"$SECS"s --latency "http://127.0.0.1:$CPORT/fcgi") ;;
	2) out=$(wrk -t2 -c"$CONNS" -d"$SECS"s --latency -s "$VAR/current.lua" "$BASE") ;;
	3) out=$(wrk -t2 -c"$CONNS" -d"$SECS"s --latency -s "$VAR/auth.lua" "$BASE") ;;
	4) out=$(wrk -t2 -c"$CONNS" -d"$SECS"s --latency -s "$VAR/create.lua" "$BASE") ;;
	5) out=$(wrk -t2 -c"$CONNS" -d"$SECS"s --latency -s "$VAR/patch.lua" "$BASE") ;;
	esac
	wrk_stats "case $1" <<<"$out"
}
declare -A RPS P50 P99
wal_bytes=0; wal_reqs=0
for r in $(seq 1 "$ROUNDS"); do
	for c in 0 1 2 3 4 5; do
		[ "$c" = 2 ] && lsn0=$(psql_q "SELECT pg_current_wal_lsn()")
		read -r rps p50 p99 n <<<"$(run_case $c)"
		if [ "$c" = 2 ]; then
			lsn1=$(psql_q "SELECT pg_current_wal_lsn()")
			wal_bytes=$((wal_bytes + $(psql_q "SELECT pg_wal_lsn_diff('$lsn1', '$lsn0')::bigint")))
			wal_reqs=$((wal_reqs + n))
		fi
		# Keep the best round of each case (the least disturbed by the machine).
		if [ -z "${RPS[$c]:-}" ] || [ "$(echo "$rps > ${RPS[$c]}" | bc)" = 1 ]; then
			RPS[$c]=$rps; P50[$c]=$p50; P99[$c]=$p99
		fi
	done
done
rss_after=$(worker_rss_kib); uss_after=$(worker_private_kib)
printf '\nsessiond make bench: %s cores, %s workers, %s connections, %ss x %s rounds per case (best round shown)\n\n' \
	"$(nproc)" "$WORKERS" "$CONNS" "$SECS" "$ROUNDS"
printf '| # | case | req/s | p50 ms | p99 ms | vs proxy | vs FastCGI |\n|---|---|---|---|---|---|---|\n'
for c in 0 1 2 3 4 5; do
	v1=$(echo "scale=2; ${RPS[$c]} / ${RPS[0]}" | bc)
	v2=$(echo "scale=2; ${RPS[$c]} / ${RPS[1]}" | bc)
	printf '| %d | %s | %.0f | %.2f | %.2f | %s | %s |\n' $((c + 1)) "${names[$c]}" "${RPS[$c]}" "${P50[$c]}" "${P99[$c]}" "$v1" "$v2"
done
printf '\nGET /current/ p99 vs FastCGI ceiling p99: %s x\n' "$(echo "scale=2; ${P99[2]} / ${P99[1]}" | bc)"
printf 'WAL written by GET /current/ reads: %s bytes per 10,000 requests (%s requests, touch_interval 60 s)\n' \
	"$(echo "$wal_bytes * 10000 / $wal_reqs" | bc)" "$wal_reqs"
printf 'worker RSS (largest): %s KiB before, %s KiB after; private (not shared) %s KiB before, %s KiB after\n' \
	"$rss_before" "$rss_after" "$uss_before" "$uss_after"

# Write path and worker count (issue 19 goals 1 and 2): its own section and file.
. "$TOP/tests/bench/write_path.sh"
