#!/usr/bin/env bash
# make bench, part 2 (after bench.sh): how reads hold with more sessions, more
# clients and time. One stack (2 workers, PostgreSQL, nginx from the shipped
# site) and the FastCGI ceiling, wrk on loopback; nothing here is a pass/fail
# assertion, every figure is printed for docs/performance.md.
#
#   growth   GET /current/ p50/p99 at 10k, 100k (and 1M with BENCH_SCALE=full)
#            live sessions, random tokens, per-host cache and activity touches
#            off so every read is exactly one store read (the token_hash index
#            lookup in session_cache)
#   cold     200,000 live sessions read uniformly at random with the per-host
#            cache on (4,096 entries: ~2% hits), against the warm case (2,000
#            sessions, all cached) and the FastCGI ceiling, rounds alternated
#   fill     first reads of 100,000 never-read sessions (the cache-table fill), and
#            the same right after an immediate restart (crash) of PostgreSQL, which
#            empties the cache table: the 200,000 cold sessions, each read once
#   clients  1,000 concurrent connections through nginx
#   memory   per-worker PSS (/proc/PID/smaps_rollup) before and after
#   cleanup  cleanup_sessions on 100,000 expired rows among the live ones
#
# Environment: BENCH_SCALE (quick = growth to 100k, the default; full = also 1M:
# seeding 800k more sessions takes about 5 min on a loaded 2-core machine),
# BENCH_SECONDS (per case per round, 5), BENCH_ROUNDS (2),
# BENCH_CONNECTIONS (8), BENCH_WORKERS (2), BENCH_CLIENTS (1000).
set -uo pipefail
TOP=$(cd "$(dirname "$0")/../.." && pwd)
SCALE=${BENCH_SCALE:-quick}
SECS=${BENCH_SECONDS:-5}
ROUNDS=${BENCH_ROUNDS:-2}
CONNS=${BENCH_CONNECTIONS:-8}
WORKERS=${BENCH_WORKERS:-2}
CLIENTS=${BENCH_CLIENTS:-1000}
TEST_NAME=bench-scale
. "$TOP/tests/lib.sh"
BUILD=${SESSIOND_BUILD:-$TOP/build}
case $SCALE in full | quick) ;; *) echo "BENCH_SCALE must be full or quick" >&2; exit 2 ;; esac

stack_up "workers = $WORKERS
auth_fail_limit = 0
log_level = warn"
trap 'kill -TERM -- -$CEIL_PGID 2>/dev/null; stack_down' EXIT
CONF0=$VAR/sessiond.conf.base
cp "$CONF" "$CONF0"

setsid "$BUILD/tests/tools/fcgi_ceiling" "$VAR/run/ceiling.sock" "$WORKERS" &
CEIL_PGID=$!
CPORT=$(free_port)
cat >"$VAR/nginx/ceilings.conf" <<CONF
server {
    listen 127.0.0.1:$CPORT;
    access_log off;
    location = /fcgi { include fastcgi_params; fastcgi_pass unix:$VAR/run/ceiling.sock; }
}
CONF
sed -i "s|include $VAR/nginx/site.conf;|include $VAR/nginx/site.conf; include $VAR/nginx/ceilings.conf;|; s|access_log $VAR/log/nginx-access.log;|access_log off;|" "$VAR/nginx/nginx.conf"
nginx -p "$VAR/nginx" -c "$VAR/nginx/nginx.conf" -s reload
sleep 0.5

ms() { echo $((($(date +%s%N) - $1) / 1000000)); }
# with_cache on|off: restart sessiond as configured, or with the per-host cache
# and the activity touch off (each read is one store read, nothing else).
with_cache() {
	cp "$CONF0" "$CONF"
	[ "$1" = off ] && printf 'local_cache_entries = 0\ntouch_interval = 86400\n' >>"$CONF"
	sessiond_restart || { echo "bench-scale: sessiond did not restart" >&2; exit 1; }
}
# rand_lua TOKENS_FILE: a wrk script reading a random token of the file per request
# (each wrk thread loads the file and seeds its own generator).
rand_lua() {
	cat <<LUA
local tokens = {}
for line in io.lines("$1") do tokens[#tokens + 1] = line end
local n, threads = #tokens, 0
function setup(thread) threads = threads + 1; thread:set("seed", os.time() * 100 + threads) end
function init(args) math.randomseed(seed) end
request = function()
  return wrk.format("GET", "/api/sessions/current/", { ["Authorization"] = "Session " .. tokens[math.random(n)] })
end
LUA
}
# The CPU time of every server process of the stack (nginx, sessiond, PostgreSQL,
# the FastCGI ceiling; not wrk), in clock ticks. CPU per request does not depend
# on what else the machine runs, unlike req/s and latency on a shared machine.
TICK_US=$((1000000 / $(getconf CLK_TCK)))
stack_pids() {
	local m
	for m in $(cat "$VAR/nginx/nginx.pid" "$VAR/run/sessiond.pid") $(head -1 "$VAR/pg/data/postmaster.pid") "$CEIL_PGID"; do
		echo "$m"
		pgrep -P "$m"
	done
}
stack_ticks() {
	local p
	for p in $(stack_pids); do sed 's/.*) //' "/proc/$p/stat" 2>/dev/null; done | awk '{ s += $12 + $13 } END { print s + 0 }'
}
# wrk_run CONNECTIONS SECONDS URL [wrk args]: "rps p50_ms p99_ms requests errors cpu_us_per_request"
wrk_run() {
	local c=$1 d=$2 url=$3 out t0
	shift 3
	t0=$(stack_ticks)
	out=$(wrk -t2 -c"$c" -d"$d"s --latency "$@" "$url")
	awk -v ticks=$(($(stack_ticks) - t0)) -v tick_us="$TICK_US" '
	function ms(v) { if (v ~ /us$/) return v / 1000; if (v ~ /ms$/) return v + 0; if (v ~ /s$/) return v * 1000; return v }
	/Requests\/sec/ { rps = $2 }
	/^ +50%/ { p50 = ms($2) }
	/^ +99%/ { p99 = ms($2) }
	/requests in/ { n = $1 }
	/Non-2xx/ { err += $NF }
	/Socket errors/ { gsub(",", ""); err += $4 + $6 + $8 + $10 }
	END { printf "%s %s %s %s %d %.0f\n", rps, p50, p99, n, err, n ? ticks * tick_us / n : 0 }' <<<"$out"
}
# best CASE... : runs every case ROUNDS times, alternated, keeping each one's best round
# in RPS/P50/P99/CPU[case] (errors summed over rounds). A case is a function printing wrk_run's line.
declare -A RPS P50 P99 ERR CPU
best() {
	local c rps p50 p99 n err cpu
	for _ in $(seq 1 "$ROUNDS"); do
		for c in "$@"; do
			read -r rps p50 p99 n err cpu <<<"$($c)"
			ERR[$c]=$((${ERR[$c]:-0} + err))
			if [ -z "${RPS[$c]:-}" ] || [ "$(echo "$rps > ${RPS[$c]}" | bc)" = 1 ]; then
				RPS[$c]=$rps; P50[$c]=$p50; P99[$c]=$p99
			fi
			# The least CPU per request of the rounds: the least disturbed one.
			if [ -z "${CPU[$c]:-}" ] || [ "$cpu" -lt "${CPU[$c]}" ]; then CPU[$c]=$cpu; fi
		done
	done
}
row() { # label case [ratio-base-case]
	local v="" w=""
	[ -n "${3:-}" ] && v=$(echo "scale=2; ${RPS[$2]} / ${RPS[$3]}" | bc) && w=$(echo "scale=2; ${CPU[$3]} / ${CPU[$2]}" | bc)
	printf '| %s | %.0f | %.2f | %.2f | %s | %s | %s | %s |\n' "$1" "${RPS[$2]}" "${P50[$2]}" "${P99[$2]}" "${ERR[$2]}" "${CPU[$2]}" "$v" "$w"
}
# explain_read TOKEN: the plan and buffers of the hot-path statement's lookup.
explain_read() {
	psql_q "EXPLAIN (ANALYZE, BUFFERS, COSTS OFF, TIMING OFF, SUMMARY OFF)
	        SELECT * FROM session_cache WHERE token_hash = sha256(convert_to('$1', 'UTF8'))" |
		awk 'NR == 1 || (/Buffers/ && !b++)' | tr -s ' ' | paste -sd';' -
}
ALL=$VAR/all.txt
: >"$ALL"
live() { wc -l <"$ALL" | tr -d ' '; }
# grow N: seed until N live sessions, each read once (its cache-table row filled).
grow() {
	local add=$(($1 - $(live))) t0
	t0=$(date +%s%N)
	seed_sessions "$VAR/new.txt" "$add" "auth0|s$1-" || { echo "bench-scale: seeding $add failed" >&2; exit 1; }
	psql_q "SELECT count(sessiond_cache_put(s)) FROM sessions s WHERE user_id LIKE 'auth0|s$1-%'" >/dev/null
	psql_q "VACUUM ANALYZE sessions" >/dev/null
	psql_q "VACUUM ANALYZE session_cache" >/dev/null
	cat "$VAR/new.txt" >>"$ALL"
	echo "seeded $add sessions (and their cache-table rows) in $(ms "$t0") ms: $(live) live" >&2
}

declare -A GROWTH_LINE
growth_at() { # N
	grow "$1"
	rand_lua "$ALL" >"$VAR/rand.lua"
	eval "g$1() { wrk_run $CONNS $SECS $BASE -s $VAR/rand.lua; }"
	best "g$1"
	GROWTH_LINE[$1]="| $(printf "%'d" "$1") | $(printf '%.0f | %.2f | %.2f' "${RPS[g$1]}" "${P50[g$1]}" "${P99[g$1]}") | ${ERR[g$1]} | ${CPU[g$1]} | $(explain_read "$(shuf -n1 "$ALL")") |"
}

T0=$(date +%s%N)
echo "bench-scale ($SCALE): growth, per-host cache and touches off" >&2
with_cache off
growth_at 10000
growth_at 100000

# --- cold reads: 200k live, per-host cache on -------------------------------------------------
with_cache on
grow 200000
head -n 2000 "$ALL" >"$VAR/warm.txt"
rand_lua "$VAR/warm.txt" >"$VAR/warm.lua"
rand_lua "$ALL" >"$VAR/cold.lua"
ceiling() { wrk_run "$CONNS" "$SECS" "http://127.0.0.1:$CPORT/fcgi"; }
warm() { wrk_run "$CONNS" "$SECS" "$BASE" -s "$VAR/warm.lua"; }
cold() { wrk_run "$CONNS" "$SECS" "$BASE" -s "$VAR/cold.lua"; }
metric() { curl -s "$BASE/api/sessions/metrics/" | awk -v n="$1" '$1 == n { s += $2 } END { print s + 0 }'; }
wrk -t2 -c"$CONNS" -d2s -s "$VAR/warm.lua" "$BASE" >/dev/null # every warm session cached, every statement prepared
read -r pss0 pssx0 shm0 <<<"$(worker_pss_kib)"
lookups() { echo "$(metric sessiond_local_cache_hits_total) $(($(metric sessiond_cache_hits_total) + $(metric sessiond_cache_misses_total)))"; }
read -r h0 m0 <<<"$(lookups)"
best ceiling warm cold
read -r h1 m1 <<<"$(lookups)"

# First reads: sessions never read since the cache table was emptied take the fill path.
seed_sessions "$VAR/fresh.txt" 100000 "auth0|fresh-" || exit 1
rand_lua "$VAR/fresh.txt" >"$VAR/fresh.lua"
fill_rows0=$(psql_q "SELECT count(*) FROM session_cache")
read -r f_rps f_p50 f_p99 _ f_err f_cpu <<<"$(wrk_run "$CONNS" "$SECS" "$BASE" -s "$VAR/fresh.lua")"
fill_rows=$(($(psql_q "SELECT count(*) FROM session_cache") - fill_rows0))
# After a crash: every session's next read is a first read. The cold sessions (all
# with their cache-table row until now), walked in order, each thread its own half.
pg_ctl_as -m immediate stop >/dev/null
pg_ctl_as -l "$VAR/log/postgresql.log" -w start >/dev/null
wait_health "$BASE" || { echo "bench-scale: no health after the crash" >&2; exit 1; }
cat >"$VAR/crash.lua" <<LUA
local tokens = {}
for line in io.lines("$ALL") do tokens[#tokens + 1] = line end
local threads = 0
function setup(thread) threads = threads + 1; thread:set("start", (threads - 1) * math.floor(#tokens / 2)) end
function init(args) i = start end
request = function() i = i + 1
  return wrk.format("GET", "/api/sessions/current/", { ["Authorization"] = "Session " .. tokens[(i % #tokens) + 1] })
end
LUA
crash_sync0=$(psql_q "SELECT wal_sync FROM pg_stat_wal")
read -r x_rps x_p50 x_p99 x_n x_err x_cpu <<<"$(wrk_run "$CONNS" "$SECS" "$BASE" -s "$VAR/crash.lua")"
crash_rows=$(psql_q "SELECT count(*) FROM session_cache")
crash_syncs=$(($(psql_q "SELECT wal_sync FROM pg_stat_wal") - crash_sync0))

# --- 1,000 clients through nginx ----------------------------------------------------------------
# As configured (scripts/stack: worker_connections 4096, listen_backlog 1024), then
# with each limit too small, to show what it costs: nginx's Debian-like 1024
# connections, and a listen backlog of 128 (an old kernel's somaxconn).
NGX=$VAR/nginx/nginx.conf
limit_errs() { grep -c -E 'worker_connections are not enough|Resource temporarily unavailable|Too many open files' "$VAR/log/nginx-error.log"; }
clients() { wrk_run "$CLIENTS" "$SECS" "$BASE" -s "$VAR/warm.lua" --timeout 10s; }
small_wc() { wrk_run "$CLIENTS" "$SECS" "$BASE" -s "$VAR/warm.lua" --timeout 10s; }
small_backlog() { wrk_run "$CLIENTS" "$SECS" "$BASE" -s "$VAR/warm.lua" --timeout 10s; }
ROUNDS_SAVE=$ROUNDS; ROUNDS=1
e0=$(limit_errs)
best clients
nginx_errs=$(($(limit_errs) - e0))
read -r pss1 pssx1 shm1 <<<"$(worker_pss_kib)"
wc_conf=$(grep -o 'worker_connections [0-9]*' "$NGX" | cut -d' ' -f2)
sed -i "s/worker_connections $wc_conf;/worker_connections 1024;/" "$NGX"
nginx -p "$VAR/nginx" -c "$NGX" -s reload; sleep 1
e0=$(limit_errs)
best small_wc
small_wc_errs=$(($(limit_errs) - e0))
sed -i "s/worker_connections 1024;/worker_connections $wc_conf;/" "$NGX"
nginx -p "$VAR/nginx" -c "$NGX" -s reload; sleep 1
cp "$CONF0" "$CONF"; echo "listen_backlog = 128" >>"$CONF"
sessiond_restart || exit 1
wrk -t2 -c"$CONNS" -d1s -s "$VAR/warm.lua" "$BASE" >/dev/null
e0=$(limit_errs)
best small_backlog
small_backlog_errs=$(($(limit_errs) - e0))
ROUNDS=$ROUNDS_SAVE

if [ "$SCALE" = full ]; then
	with_cache off
	growth_at 1000000
fi

# --- cleanup_sessions: 100,000 expired rows among the live ones -------------------------------
seed_sessions "$VAR/expired.txt" 100000 "auth0|expired-" "now() - interval '1 hour'" || exit 1
psql_q "VACUUM ANALYZE sessions" >/dev/null
live_now=$(psql_q "SELECT count(*) FROM sessions WHERE expires_at > now()")
t0=$(date +%s%N)
clean_out=$("$BUILD/cleanup_sessions" --config "$CONF" --verbose 2>&1)
clean_rc=$?
clean_ms=$(ms "$t0")
left=$(psql_q "SELECT count(*) FROM sessions WHERE user_id LIKE 'auth0|expired-%'")

# --- report ---------------------------------------------------------------------------------------
printf '\nsessiond make bench (scale, %s): %s cores, %s workers, %s connections, %ss x %s rounds per case (best round shown)\n' \
	"$SCALE" "$(nproc)" "$WORKERS" "$CONNS" "$SECS" "$ROUNDS"
printf '\nGrowth: GET /current/, tokens at random among all live sessions, per-host cache and touches off (every read is one store read)\n\n'
printf '| live sessions | req/s | p50 ms | p99 ms | errors | server CPU µs/request | plan of the lookup (one random token) |\n|---|---|---|---|---|---|---|\n'
for n in 10000 100000 1000000; do [ -n "${GROWTH_LINE[$n]:-}" ] && echo "${GROWTH_LINE[$n]}"; done
hits=$((h1 - h0)); misses=$((m1 - m0))
printf '\nCold reads: %s live sessions, per-host cache on (%s entries)\n\n' "$(printf "%'d" 200000)" \
	"$(awk -F' *= *' '$1 == "local_cache_entries" { v = $2 } END { print v ? v : 4096 }' "$CONF0")"
printf '| case | req/s | p50 ms | p99 ms | errors | server CPU µs/request | req/s vs FastCGI ceiling | CPU/request: ceiling / case |\n|---|---|---|---|---|---|---|---|\n'
row "nginx -> minimal libfcgi (FastCGI ceiling)" ceiling ceiling
row "GET /current/ warm (2,000 sessions, all cached)" warm ceiling
row "GET /current/ cold (200,000 sessions, uniform)" cold ceiling
printf '| GET /current/ first reads (100,000 never-read sessions, one %ss run) | %.0f | %.2f | %.2f | %s | %s | %s | %s |\n' \
	"$SECS" "$f_rps" "$f_p50" "$f_p99" "$f_err" "$f_cpu" "$(echo "scale=2; $f_rps / ${RPS[ceiling]}" | bc)" \
	"$(echo "scale=2; ${CPU[ceiling]} / $f_cpu" | bc)"
printf '| GET /current/ first reads after a crash (200,000 sessions, each read once, one %ss run) | %.0f | %.2f | %.2f | %s | %s | %s | %s |\n' \
	"$SECS" "$x_rps" "$x_p50" "$x_p99" "$x_err" "$x_cpu" "$(echo "scale=2; $x_rps / ${RPS[ceiling]}" | bc)" \
	"$(echo "scale=2; ${CPU[ceiling]} / $x_cpu" | bc)"
printf '\nfirst reads vs cold reads (same run): %s x req/s; after a crash: %s x; %s reads after the crash filled %s cache-table rows; wal_sync +%s (reported by then)\n' \
	"$(echo "scale=2; $f_rps / ${RPS[cold]}" | bc)" "$(echo "scale=2; $x_rps / ${RPS[cold]}" | bc)" "$x_n" "$crash_rows" "$crash_syncs"
printf '\ncold vs warm: %s x req/s, p99 %s x, CPU per request %s x; per-host cache hits during the three cases: %s of %s lookups; first-read run filled %s cache-table rows\n' \
	"$(echo "scale=2; ${RPS[cold]} / ${RPS[warm]}" | bc)" "$(echo "scale=2; ${P99[cold]} / ${P99[warm]}" | bc)" \
	"$(echo "scale=2; ${CPU[cold]} / ${CPU[warm]}" | bc)" \
	"$hits" "$((hits + misses))" "$fill_rows"
printf '\nClients: %s concurrent connections through nginx, GET /current/ warm, %ss, net.core.somaxconn %s\n\n' \
	"$CLIENTS" "$SECS" "$(cat /proc/sys/net/core/somaxconn)"
printf '| case | req/s | p50 ms | p99 ms | errors | server CPU µs/request | req/s vs FastCGI ceiling | nginx limit errors logged |\n|---|---|---|---|---|---|---|---|\n'
crow() { printf '| %s | %.0f | %.2f | %.2f | %s | %s | %s | %s |\n' "$1" "${RPS[$2]}" "${P50[$2]}" "${P99[$2]}" "${ERR[$2]}" "${CPU[$2]}" \
	"$(echo "scale=2; ${RPS[$2]} / ${RPS[ceiling]}" | bc)" "$3"; }
crow "as configured: worker_connections $wc_conf, listen_backlog 1024" clients "$nginx_errs"
crow "worker_connections 1024" small_wc "$small_wc_errs"
crow "listen_backlog 128" small_backlog "$small_backlog_errs"
printf '\nMemory: largest worker PSS %s KiB before the cold/clients cases, %s KiB after; beyond the shared region (PSS - Pss_Shmem) %s KiB before, %s KiB after; its share of the shared region %s -> %s KiB\n' \
	"$pss0" "$pss1" "$pssx0" "$pssx1" "$shm0" "$shm1"
printf '\nCleanup: cleanup_sessions deleted 100,000 expired sessions among %s live in %s ms (exit %s, %s left)\n' \
	"$(printf "%'d" "$live_now")" "$clean_ms" "$clean_rc" "$left"
printf '%s\n' "$clean_out" | sed 's/^/  /'
printf '\nbench-scale took %s s\n' "$(($(ms "$T0") / 1000))"
