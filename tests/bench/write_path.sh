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
#   W8 pgbench: sessiond_patch() itself, the statement a PATCH runs, 8 clients (the store's cost of this write)
# Ratios: W3 and W4 against W1 (goal >= 0.7, PATCH p99 <= 3x its p50), W5 against W6 (goal >= 0.95).
# Uses bench.sh's SECS, ROUNDS, VAR, CONF, BASE, PGSOCK, wrk_stats and its wrk scripts.

WCONNS=${BENCH_WRITE_CONNECTIONS:-32}

pgbench_tps() { # clients script -> "tps p50_ms p99_ms"
	local bin out
	for bin in /usr/lib/postgresql/*/bin; do :; done
	if [ "$(id -u)" -eq 0 ]; then
		# application_name sessiond, as the workers: the trigger then leaves the ring to the caller.
		out=$(runuser -u postgres -- env PGAPPNAME=sessiond "$bin/pgbench" -h "$PGSOCK" -U sessiond -n -c "$1" -j 2 -T "$SECS" -l \
			--log-prefix="$VAR/pgb/log" -f "$2" sessiond 2>&1)
	else
		out=$(PGAPPNAME=sessiond "$bin/pgbench" -h "$PGSOCK" -U sessiond -n -c "$1" -j 2 -T "$SECS" -l --log-prefix="$VAR/pgb/log" \
			-f "$2" sessiond 2>&1)
	fi
	# Per-transaction latencies (microseconds, 3rd column) from the pgbench logs, then the logs go.
	cat "$VAR"/pgb/log.* 2>/dev/null | awk '{ print $3 }' | sort -n >"$VAR/pgb/lat"
	rm -f "$VAR"/pgb/log.*
	awk -v tps="$(awk '/^tps = / { print $3; exit }' <<<"$out")" '
		{ v[NR] = $1 } END { if (NR == 0) { print tps, 0, 0; exit }
		printf "%s %.2f %.2f\n", tps, v[int(NR * 0.5) + 1] / 1000, v[int(NR * 0.99) + 1] / 1000 }' "$VAR/pgb/lat"
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
psql_q "SET client_min_messages = warning; DROP TABLE IF EXISTS bench_ids; CREATE TABLE bench_ids AS SELECT row_number() OVER () AS n, id FROM sessions
	WHERE user_id LIKE 'auth0|bench%' AND revoked_at IS NULL" >/dev/null
printf '\\set n random(1, %s)\nSELECT r.status FROM bench_ids b, sessiond_patch(b.id, NULL, NULL, NULL, false, NULL, %s, NULL, NULL, 65536, %s) r WHERE b.n = :n;\n' \
	"$(psql_q "SELECT count(*) FROM bench_ids")" "'{\"k\":1}'::jsonb" "'127.0.0.1'::inet" >"$VAR/pgb/patch_fn.sql"
printf '\\set id random(1, 10000)\nUPDATE bench_rows SET v = v + 1 WHERE id = :id;\nSELECT pg_notify('"'"'bench'"'"', '"'"''"'"');\n' \
	>"$VAR/pgb/update_ring.sql"
printf '\\set id random(1, 10000)\nBEGIN;\nUPDATE bench_rows SET v = v + 1 WHERE id = :id;\nSELECT pg_notify('"'"'bench'"'"', '"'"''"'"');\nEND;\n' \
	>"$VAR/pgb/update_notify.sql"

wnames=("pgbench one-row UPDATE, 8 clients" "pgbench UPDATE + pg_notify in the transaction, 8 clients"
	"sessiond PATCH /current/, 8 workers" "sessiond POST /create/, 8 workers"
	"sessiond GET /current/, 8 workers" "sessiond GET /current/, 2 workers"
	"pgbench UPDATE, then pg_notify() in its own transaction, 8 clients"
	"pgbench sessiond_patch() (a PATCH's statement), 8 clients")
declare -A WRPS WP50 WP99
keep_best() { # case rps p50 p99
	if [ -z "${WRPS[$1]:-}" ] || [ "$(echo "$2 > ${WRPS[$1]}" | bc)" = 1 ]; then
		WRPS[$1]=$2; WP50[$1]=$3; WP99[$1]=$4
	fi
}
for r in $(seq 1 "$ROUNDS"); do
	read -r rps p50 p99 <<<"$(pgbench_tps 8 "$VAR/pgb/update.sql")"; keep_best 0 "$rps" "$p50" "$p99"
	read -r rps p50 p99 <<<"$(pgbench_tps 8 "$VAR/pgb/update_notify.sql")"; keep_best 1 "$rps" "$p50" "$p99"
	read -r rps p50 p99 <<<"$(pgbench_tps 8 "$VAR/pgb/update_ring.sql")"; keep_best 6 "$rps" "$p50" "$p99"
	read -r rps p50 p99 <<<"$(pgbench_tps 8 "$VAR/pgb/patch_fn.sql")"; keep_best 7 "$rps" "$p50" "$p99"
	with_workers 8 || break
	read -r rps p50 p99 _ <<<"$(wrk_case "$VAR/patch.lua")"; keep_best 2 "$rps" "$p50" "$p99"
	read -r rps p50 p99 _ <<<"$(wrk_case "$VAR/create.lua")"; keep_best 3 "$rps" "$p50" "$p99"
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
printf 'PATCH over HTTP vs its own statement alone (W3 / W8): %s\n' "$(echo "scale=2; ${WRPS[2]:-0} / ${WRPS[7]:-1}" | bc)"
psql_q "DROP TABLE IF EXISTS bench_rows, bench_ids" >/dev/null
