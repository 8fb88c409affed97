# shellcheck shell=bash
# make bench, write path and worker count (sourced by tests/bench/bench.sh, on
# its stack, after its own cases; docs/invalidation.md explains the figures):
#   W1 pgbench: a one-row durable UPDATE per transaction, 8 clients, same cluster (the store's write ceiling)
#   W2 pgbench: the same UPDATE and a pg_notify() in the transaction (what a NOTIFY in the write's transaction costs)
#   W3 sessiond PATCH /current/, 8 workers, BENCH_WRITE_CONNECTIONS (32) connections
#   W4 sessiond POST /create/, 8 workers, same connections
#   W5 sessiond GET /current/, 8 workers, same connections
#   W6 sessiond GET /current/, 2 workers, same connections
#   W7 pgbench: the UPDATE, then pg_notify() in a transaction of its own (sessiond's write and ring)
#   W8 pgbench: the statement a PATCH runs (sess_patch, printed by tests/tools/statement), prepared, 8 clients
# Ratios, all from this one run (issue 23's goals): W3 >= W4 (PATCH no dearer than create),
# W3 >= 0.35x W1, W4 >= 0.5x W1, PATCH p99 <= 3x its p50, W5 against W6 (goal >= 0.95).
# CPU per request: PostgreSQL's (every process of the cluster: the postmaster's
# own and reaped children's times, plus its live children's utime+stime from
# /proc, so backends that exit meanwhile still count) for W1, W3 and W4, goal
# W3 <= 2x W1; and the whole stack's (nginx, sessiond, PostgreSQL) beside it.
# Uses bench.sh's SECS, ROUNDS, VAR, CONF, BASE, PGSOCK, wrk_stats and its wrk scripts.

WCONNS=${BENCH_WRITE_CONNECTIONS:-32}

# cpu_ticks MASTER_PID...: CPU clock ticks used so far by each master, its
# reaped children and its live children (utime+stime+cutime+cstime).
cpu_ticks() {
	local m p t=0
	for m in "$@"; do
		for p in "$m" $(pgrep -P "$m"); do
			t=$((t + $(awk '{ print $14 + $15 + $16 + $17 }' "/proc/$p/stat" 2>/dev/null || echo 0)))
		done
	done
	echo "$t"
}
pg_master() { head -1 "$VAR/pg/data/postmaster.pid"; }
stack_masters() { pg_master; cat "$VAR/run/sessiond.pid" "$VAR/nginx/nginx.pid"; }
TICK_US=$((1000000 / $(getconf CLK_TCK)))
declare -A PGT WHT NREQ
# measured KEY REQUESTS PG0 ALL0: adds this run's CPU ticks since PG0/ALL0 to case KEY.
measured() {
	PGT[$1]=$((${PGT[$1]:-0} + $(cpu_ticks "$(pg_master)") - $3))
	WHT[$1]=$((${WHT[$1]:-0} + $(cpu_ticks $(stack_masters)) - $4))
	NREQ[$1]=$((${NREQ[$1]:-0} + $2))
}
cpu_us() { # ticks requests -> microseconds per request
	echo "scale=0; $1 * $TICK_US / ($2 + (($2 == 0)))" | bc
}

pgbench_tps() { # clients script [query mode] -> "tps p50_ms p99_ms transactions"
	local bin out mode=${3:-simple}
	for bin in /usr/lib/postgresql/*/bin; do :; done
	if [ "$(id -u)" -eq 0 ]; then
		# application_name sessiond, as the workers: the trigger then leaves the ring to the caller.
		out=$(runuser -u postgres -- env PGAPPNAME=sessiond "$bin/pgbench" -h "$PGSOCK" -U sessiond -n -M "$mode" -c "$1" -j 2 -T "$SECS" -l \
			--log-prefix="$VAR/pgb/log" -f "$2" sessiond 2>&1)
	else
		out=$(PGAPPNAME=sessiond "$bin/pgbench" -h "$PGSOCK" -U sessiond -n -M "$mode" -c "$1" -j 2 -T "$SECS" -l --log-prefix="$VAR/pgb/log" \
			-f "$2" sessiond 2>&1)
	fi
	# Per-transaction latencies (microseconds, 3rd column) from the pgbench logs, then the logs go.
	cat "$VAR"/pgb/log.* 2>/dev/null | awk '{ print $3 }' | sort -n >"$VAR/pgb/lat"
	rm -f "$VAR"/pgb/log.*
	awk -v tps="$(awk '/^tps = / { print $3; exit }' <<<"$out")" '
		{ v[NR] = $1 } END { if (NR == 0) { print tps, 0, 0, 0; exit }
		printf "%s %.2f %.2f %d\n", tps, v[int(NR * 0.5) + 1] / 1000, v[int(NR * 0.99) + 1] / 1000, NR }' "$VAR/pgb/lat"
}

wrk_case() { # script -> "rps p50 p99 requests"
	wrk -t2 -c"$WCONNS" -d"$SECS"s --latency -s "$1" "$BASE" | wrk_stats "$1"
}

with_workers() { # n: restarts sessiond with n workers and warms every worker's statements and cache
	SESSIOND_WORKERS=$1 sessiond_restart || { echo "bench: sessiond did not restart with $1 workers" >&2; return 1; }
	for _ in $(seq 1 100); do [ "$(worker_pids | wc -l)" -eq "$1" ] && break; sleep 0.05; done
	wrk -t2 -c"$WCONNS" -d2s -s "$VAR/current.lua" "$BASE" >/dev/null
}

mkdir -p "$VAR/pgb"
[ "$(id -u)" -eq 0 ] && chown postgres "$VAR/pgb"
psql_q "CREATE TABLE IF NOT EXISTS bench_rows (id int PRIMARY KEY, v bigint NOT NULL DEFAULT 0);
	INSERT INTO bench_rows (id) SELECT g FROM generate_series(1, 10000) g ON CONFLICT DO NOTHING" >/dev/null
printf '\\set id random(1, 10000)\nUPDATE bench_rows SET v = v + 1 WHERE id = :id;\n' >"$VAR/pgb/update.sql"
psql_q "SET client_min_messages = warning; DROP TABLE IF EXISTS bench_ids; CREATE TABLE bench_ids AS SELECT row_number() OVER () AS n, id, token_hash FROM sessions
	WHERE user_id LIKE 'auth0|bench%' AND revoked_at IS NULL" >/dev/null
# W8: sessiond's own PATCH statement, its parameters as a PATCH of session_data sends them ($1 a
# random bench session's token hash, idle_timeout 0, no If-Match, {"k": 1}, 65536 bytes at most). A
# colon before a letter or digit would be a pgbench variable: the timestamps' format quotes its own.
{
	printf '\\set n random(1, %s)\n' "$(psql_q "SELECT count(*) FROM bench_ids")"
	"$BUILD/tests/tools/statement" sess_patch | tr '\n' ' ' | perl -pe '
		my %v = (1 => "(SELECT token_hash FROM bench_ids WHERE n = :n)", 2 => "0", 6 => "false",
			8 => "\x27{\"k\": 1}\x27", 13 => "65536", 14 => "\x27127.0.0.1\x27");
		s/\$(\d+)\b/exists $v{$1} ? $v{$1} : "NULL"/ge; s/HH24:MI:SS/HH24":"MI":"SS/g'
	echo ';'
} >"$VAR/pgb/patch_fn.sql"
printf '\\set id random(1, 10000)\nUPDATE bench_rows SET v = v + 1 WHERE id = :id;\nSELECT pg_notify('"'"'bench'"'"', '"'"''"'"');\n' \
	>"$VAR/pgb/update_ring.sql"
printf '\\set id random(1, 10000)\nBEGIN;\nUPDATE bench_rows SET v = v + 1 WHERE id = :id;\nSELECT pg_notify('"'"'bench'"'"', '"'"''"'"');\nEND;\n' \
	>"$VAR/pgb/update_notify.sql"

wnames=("pgbench one-row UPDATE, 8 clients" "pgbench UPDATE + pg_notify in the transaction, 8 clients"
	"sessiond PATCH /current/, 8 workers" "sessiond POST /create/, 8 workers"
	"sessiond GET /current/, 8 workers" "sessiond GET /current/, 2 workers"
	"pgbench UPDATE, then pg_notify() in its own transaction, 8 clients"
	"pgbench sess_patch (a PATCH's statement, prepared), 8 clients")
declare -A WRPS WP50 WP99
keep_best() { # case rps p50 p99
	if [ -z "${WRPS[$1]:-}" ] || [ "$(echo "$2 > ${WRPS[$1]}" | bc)" = 1 ]; then
		WRPS[$1]=$2; WP50[$1]=$3; WP99[$1]=$4
	fi
}
for r in $(seq 1 "$ROUNDS"); do
	pg0=$(cpu_ticks "$(pg_master)"); all0=$(cpu_ticks $(stack_masters))
	read -r rps p50 p99 n <<<"$(pgbench_tps 8 "$VAR/pgb/update.sql")"; keep_best 0 "$rps" "$p50" "$p99"
	measured 0 "$n" "$pg0" "$all0"
	read -r rps p50 p99 _ <<<"$(pgbench_tps 8 "$VAR/pgb/update_notify.sql")"; keep_best 1 "$rps" "$p50" "$p99"
	read -r rps p50 p99 _ <<<"$(pgbench_tps 8 "$VAR/pgb/update_ring.sql")"; keep_best 6 "$rps" "$p50" "$p99"
	read -r rps p50 p99 _ <<<"$(pgbench_tps 8 "$VAR/pgb/patch_fn.sql" prepared)"; keep_best 7 "$rps" "$p50" "$p99"
	with_workers 8 || break
	pg0=$(cpu_ticks "$(pg_master)"); all0=$(cpu_ticks $(stack_masters))
	read -r rps p50 p99 n <<<"$(wrk_case "$VAR/patch.lua")"; keep_best 2 "$rps" "$p50" "$p99"
	measured 2 "$n" "$pg0" "$all0"
	pg0=$(cpu_ticks "$(pg_master)"); all0=$(cpu_ticks $(stack_masters))
	read -r rps p50 p99 n <<<"$(wrk_case "$VAR/create.lua")"; keep_best 3 "$rps" "$p50" "$p99"
	measured 3 "$n" "$pg0" "$all0"
	read -r rps p50 p99 _ <<<"$(wrk_case "$VAR/current.lua")"; keep_best 4 "$rps" "$p50" "$p99"
	with_workers 2 || break
	read -r rps p50 p99 _ <<<"$(wrk_case "$VAR/current.lua")"; keep_best 5 "$rps" "$p50" "$p99"
done
printf '\nWrite path and worker count: %s connections to sessiond, pgbench 8 clients, %ss x %s rounds (best round shown)\n\n' \
	"$WCONNS" "$SECS" "$ROUNDS"
printf '| # | case | req/s (tps) | p50 ms | p99 ms | ratio |\n|---|---|---|---|---|---|\n'
for c in 0 1 2 3 4 5 6 7; do
	case $c in
	0) ratio="1.00 (reference)" ;;
	1 | 2 | 3 | 6 | 7) ratio="$(echo "scale=2; ${WRPS[$c]:-0} / ${WRPS[0]:-1}" | bc) x W1" ;;
	4) ratio="$(echo "scale=2; ${WRPS[4]:-0} / ${WRPS[5]:-1}" | bc) x W6" ;;
	5) ratio="1.00 (reference for W5)" ;;
	esac
	printf '| W%d | %s | %.0f | %.2f | %.2f | %s |\n' $((c + 1)) "${wnames[$c]}" "${WRPS[$c]:-0}" "${WP50[$c]:-0}" "${WP99[$c]:-0}" "$ratio"
done
printf '\nPATCH p99 / p50 at 8 workers: %s (goal <= 3)\n' "$(echo "scale=2; ${WP99[2]:-0} / ${WP50[2]:-1}" | bc)"
printf 'PATCH / create at 8 workers (W3 / W4): %s (goal >= 1)\n' "$(echo "scale=2; ${WRPS[2]:-0} / ${WRPS[3]:-1}" | bc)"
printf 'PATCH / one-row UPDATE (W3 / W1): %s (goal >= 0.35); create / UPDATE (W4 / W1): %s (goal >= 0.5)\n' \
	"$(echo "scale=2; ${WRPS[2]:-0} / ${WRPS[0]:-1}" | bc)" "$(echo "scale=2; ${WRPS[3]:-0} / ${WRPS[0]:-1}" | bc)"
printf '\nCPU per request, microseconds (all rounds; PostgreSQL = every process of the cluster; whole stack = PostgreSQL, sessiond, nginx; pgbench itself not counted)\n\n'
printf '| case | PostgreSQL CPU us/request | whole-stack CPU us/request | requests |\n|---|---|---|---|\n'
for c in 0 2 3; do
	printf '| W%d %s | %s | %s | %s |\n' $((c + 1)) "${wnames[$c]}" "$(cpu_us "${PGT[$c]:-0}" "${NREQ[$c]:-0}")" \
		"$(cpu_us "${WHT[$c]:-0}" "${NREQ[$c]:-0}")" "${NREQ[$c]:-0}"
done
printf '\nPostgreSQL CPU per PATCH / per one-row UPDATE: %s (goal <= 2)\n' \
	"$(echo "scale=2; ($(cpu_us "${PGT[2]:-0}" "${NREQ[2]:-0}")) / ($(cpu_us "${PGT[0]:-0}" "${NREQ[0]:-0}") + 0.0001)" | bc)"
printf 'PATCH over HTTP vs its own statement alone (W3 / W8): %s\n' "$(echo "scale=2; ${WRPS[2]:-0} / ${WRPS[7]:-1}" | bc)"
psql_q "DROP TABLE IF EXISTS bench_rows, bench_ids" >/dev/null
