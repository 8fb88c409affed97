#!/usr/bin/env bash
# make bench still runs: every script under tests/bench (make bench's and the others) starts from its run bit
# in a short mode (1 s per case, one round, a few thousand sessions) and prints
# every row of its result tables with a number in each figure's column. No
# rate is asserted here: rates are what make bench reports, not what a test checks.
. "$(dirname "$0")/../lib.sh"
BENCH=$TOP/tests/bench
OUT=$(itest_mkdir 22_bench_smoke)
LOGS=$TOP/build/test-logs/22_bench_smoke
mkdir -p "$LOGS"
trap 'rm -rf "$OUT"' EXIT
export SESSIOND_BUILD=$BUILD BENCH_SECONDS=1 BENCH_ROUNDS=1

num='-?([0-9]+(\.[0-9]*)?|\.[0-9]+)'  # bc prints .97 for 0.97
# rows LOG PREFIX COUNT COLS: COUNT lines of LOG begin with PREFIX, and in each
# the |-separated fields COLS (1 = first after the leading |) are numbers.
# Thousands separators (printf %'d in a locale that has them) are dropped first.
plain() { sed -E 's/([0-9]),([0-9])/\1\2/g' "$1"; }
rows() {
	local log=$1 prefix=$2 want=$3 cols=$4 got bad
	got=$(plain "$log" | grep -c -F -- "$prefix")
	bad=$(plain "$log" | grep -F -- "$prefix" | awk -F'|' -v cols="$cols" -v re="^ *$num *\$" '
		{ n = split(cols, c, " "); for (i = 1; i <= n; i++) if ($(c[i] + 1) !~ re) { print; break } }')
	[ "$got" = "$want" ] && [ -z "$bad" ]
}
# run NAME CMD...: runs a bench script directly (its run bit), its output in $OUT/NAME.log.
run() {
	local name=$1 t0 rc
	shift
	t0=$(date +%s)
	"$@" >"$OUT/$name.log" 2>&1
	rc=$?
	cp "$OUT/$name.log" "$LOGS/"
	[ "$rc" = 0 ] && pass "$name exits 0 ($(($(date +%s) - t0)) s)" || fail "$name exit $rc: $(tail -5 "$OUT/$name.log")"
}

# Every script is executable in the tree and in git (a 100644 script is "Permission denied" for make bench).
for f in "$BENCH"/*.sh; do
	b=${f#"$TOP"/}
	[ "$b" = tests/bench/write_path.sh ] && continue # sourced by bench.sh, never run
	mode=$(git -C "$TOP" ls-files -s -- "$b" | cut -d' ' -f1)
	[ -x "$f" ] && [ "$mode" != 100644 ] && pass "$b is executable (git mode ${mode:-untracked})" ||
		fail "$b is not executable (git mode $mode)"
done

# --- make bench: bench.sh (with write_path.sh), then scale.sh -----------------------------------
run bench.sh env BENCH_WRITE_CONNECTIONS=8 "$BENCH/bench.sh"
L=$OUT/bench.sh.log
for c in 1 2 3 4 5 6; do
	rows "$L" "| $c | " 1 "3 4 5 6 7" && pass "bench.sh case $c: a row with req/s, p50, p99 and both ratios" ||
		fail "bench.sh case $c row: $(grep -F "| $c | " "$L")"
done
for c in 1 2 3 4 5 6 7 8; do
	rows "$L" "| W$c | " 1 "3 4 5" && pass "write_path W$c: a row with req/s, p50 and p99" ||
		fail "write_path W$c row: $(grep -F "| W$c | " "$L")"
done
grep -Eq "^WAL written by GET /current/ reads: [0-9]+ bytes per 10,000 requests" "$L" &&
	grep -Eq "^worker RSS \(largest\): [0-9]+ KiB before, [0-9]+ KiB after" "$L" &&
	pass "bench.sh: WAL per read and worker RSS lines" || fail "bench.sh WAL/RSS lines: $(grep -E '^(WAL|worker RSS)' "$L")"
grep -q 'had errors' "$L" && fail "bench.sh: a case had non-2xx answers: $(grep 'had errors' "$L")" ||
	pass "bench.sh: no case had a non-2xx answer"

run scale.sh env BENCH_SCALE=smoke BENCH_CLIENTS=64 "$BENCH/scale.sh"
L=$OUT/scale.sh.log
for n in 1000 4000; do
	rows "$L" "| $n | " 1 "2 3 4 5 6" && pass "scale.sh growth at $n sessions: req/s, p50, p99, errors, CPU" ||
		fail "scale.sh growth $n row: $(grep -F "| $n | " "$L")"
done
for r in "FastCGI ceiling)" "warm (500 sessions" "cold (8000 sessions" "first reads (2000 never-read" \
	"first reads after a crash (8000 sessions" \
	"as configured: worker_connections" "| worker_connections 1024 |" "| listen_backlog 128 |"; do
	rows "$L" "$r" 1 "2 3 4 5 6 7" && pass "scale.sh row '$r': every figure a number" ||
		fail "scale.sh row '$r': $(grep -F -- "$r" "$L")"
done
grep -Eq "^Memory: largest worker PSS [0-9]+ KiB before the cold/clients cases, [0-9]+ KiB after" "$L" &&
	pass "scale.sh: the memory line" || fail "scale.sh memory line: $(grep '^Memory' "$L")"
n=$(plain "$L" | grep -Ec "^Cleanup: cleanup_sessions deleted 2000 expired sessions among [0-9]+ live in [0-9]+ ms \(exit 0, 0 left\)")
[ "$n" = 1 ] &&
	pass "scale.sh: cleanup deleted every expired session" || fail "scale.sh cleanup line: $(grep '^Cleanup' "$L")"

# --- make bench: restart_gap.sh (spawn-fcgi and Apache mod_fcgid restarted under load) ----------
run restart_gap.sh "$BENCH/restart_gap.sh"
L=$OUT/restart_gap.sh.log
for r in "R1 spawn-fcgi unit restart" "R2 spawn-fcgi SIGUSR2" "R3 mod_fcgid apache2 -k graceful" "R4 mod_fcgid stop + start"; do
	rows "$L" "| $r |" 1 "2 3 4 5 6" && pass "restart_gap.sh row '$r': requests, non-2xx, socket errors, longest latency, duration" ||
		fail "restart_gap.sh row '$r': $(grep -F -- "| $r |" "$L")"
done
grep -Eq "^load average \(1/5/15 min\): [0-9.]+ [0-9.]+ [0-9.]+ at the start" "$L" &&
	pass "restart_gap.sh: the machine's load average" || fail "restart_gap.sh load line: $(grep '^load average' "$L")"

# --- make bench: window.sh (the cross-host invalidation window, two hosts) ------------------------
run window.sh env WINDOW_ROUNDS=5 "$BENCH/window.sh"
grep -Eq "^\| cross-host window .* \| 5 rounds \| p50 $num ms \| p99 $num ms \| max $num ms \| first read on B stale in [0-9]+ of 5 \|$" "$OUT/window.sh.log" &&
	pass "window.sh: p50, p99 and max over 5 rounds, and the stale first reads" || fail "window.sh: $(tail -3 "$OUT/window.sh.log")"

# --- the scripts outside make bench -------------------------------------------------------------
run migrate_1m.sh "$BENCH/migrate_1m.sh" 2000
want=$(($(ls "$TOP"/sql/[0-9][0-9][0-9]_*.sql | wc -l) - 1))
[ "$(grep -cE '^\| [0-9]{3}_[a-z0-9_]+\.sql \| [0-9]+ ms \|$' "$OUT/migrate_1m.sh.log")" = "$want" ] &&
	pass "migrate_1m.sh: a time for each of the $want migrations after 001, applied to seeded rows" ||
	fail "migrate_1m.sh: $(tail -5 "$OUT/migrate_1m.sh.log")"

run cleanup_1m.sh "$BENCH/cleanup_1m.sh" 2000
grep -Eq "^exit 0; sessions left: 10000 \(10000 live expected\)" "$OUT/cleanup_1m.sh.log" &&
	pass "cleanup_1m.sh: its report, 10000 live left" || fail "cleanup_1m.sh: $(tail -3 "$OUT/cleanup_1m.sh.log")"

run keepalive.sh "$BENCH/keepalive.sh" 2 2 4 1
[ "$(grep -cE "^Requests/sec: +$num" "$OUT/keepalive.sh.log")" = 2 ] &&
	[ "$(grep -cE "^ +99(\.0+)?% +$num(us|ms|s)" "$OUT/keepalive.sh.log")" = 2 ] &&
	pass "keepalive.sh: requests/s and p99 for both variants" || fail "keepalive.sh: $(cat "$OUT/keepalive.sh.log")"

run sizing.sh env SIZING_N=400 SIZING_API=8 "$BENCH/sizing.sh"
for t in sessions session_cache session_events; do
	grep -Eq "^$t +[0-9]+ rows +avg row +[0-9]+ B +table\+indexes +[0-9]+ B/row" "$OUT/sizing.sh.log" &&
		pass "sizing.sh: bytes per row of $t" || fail "sizing.sh $t: $(cat "$OUT/sizing.sh.log")"
done

run soak.sh env SOAK_REQUESTS=1 SOAK_CHUNK_SECONDS=1 "$BENCH/soak.sh"
grep -Eq "^1 [0-9]+ [0-9]+ [0-9]+ [0-9]+ [0-9]+ [0-9]+$" "$OUT/soak.sh.log" &&
	grep -Eq "^soak: [0-9]+ requests, 0 errors" "$OUT/soak.sh.log" &&
	grep -q "^workers: the same processes throughout" "$OUT/soak.sh.log" &&
	pass "soak.sh: a chunk line of numbers, 0 errors, same workers" || fail "soak.sh: $(tail -5 "$OUT/soak.sh.log")"
