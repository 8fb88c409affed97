#!/usr/bin/env bash
# First reads (a miss in both caches, then the cache table's fill): a revoke, a
# rotation and a PATCH racing a fill, in both orders, driven by a row lock the
# test holds and observed in pg_stat_activity; then a PostgreSQL crash and
# 10,000 first reads through nginx, with what they cost the WAL counted
# (docs/invalidation.md, "First reads").
. "$(dirname "$0")/../lib.sh"
# The per-host cache off: every read below is a cache-table read or a fill, and
# what is served afterwards is what the cache table holds. A generous statement
# timeout: a fill waits on the test's lock while the test looks.
stack_up "auth_fail_limit = 0
workers = 4
local_cache_entries = 0
db_statement_timeout = 60000"
for PGBIN in /usr/lib/postgresql/*/bin; do :; done

# psql_bg NAME SQL: runs SQL in the background as application_name NAME; output in $VAR/NAME.out.
psql_bg() {
	local cmd=(env PGAPPNAME="$1" psql -h "$PGSOCK" -U sessiond -d sessiond -qtAX -c "$2")
	[ "$(id -u)" -eq 0 ] && cmd=(runuser -u postgres -- "${cmd[@]}")
	"${cmd[@]}" >"$VAR/$1.out" 2>&1 &
}
# wait_for WHAT SQL-CONDITION: polls pg_stat_activity until one backend matches (20 s at most).
wait_for() {
	for _ in $(seq 1 400); do
		[ "$(psql_q "SELECT count(*) FROM pg_stat_activity WHERE $2")" -ge 1 ] && return 0
		sleep 0.05
	done
	fail "$1: not seen in pg_stat_activity within 20 s: $(psql_q "SELECT string_agg(application_name || ' ' || state || ' ' || coalesce(wait_event, '-'), '; ') FROM pg_stat_activity WHERE datname = 'sessiond'")"
	return 1
}
# The holder: an open transaction holding the session's row lock, fed through a FIFO.
holder_start() {
	rm -f "$VAR/hold.in"
	mkfifo "$VAR/hold.in"
	chmod 666 "$VAR/hold.in"
	local cmd=(env PGAPPNAME=test-holder psql -h "$PGSOCK" -U sessiond -d sessiond -qtAX -f -)
	[ "$(id -u)" -eq 0 ] && cmd=(runuser -u postgres -- "${cmd[@]}")
	"${cmd[@]}" <"$VAR/hold.in" >"$VAR/holder.out" 2>&1 &
	HOLDER=$!
	exec 7>"$VAR/hold.in"
	echo "BEGIN; SELECT id FROM sessions WHERE id = '$1' FOR UPDATE;" >&7
	wait_for "the test's row lock" "application_name = 'test-holder' AND state = 'idle in transaction'"
}
holder_release() {
	echo "ROLLBACK;" >&7
	exec 7>&-
	wait "$HOLDER"
}
# fill_bg TOKEN: a first read through nginx in the background; status and body in $VAR/fill.{status,body}.
fill_bg() {
	curl -s -o "$VAR/fill.body" -w '%{http_code}' -H "Authorization: Session $1" "$BASE/api/sessions/current/" \
		>"$VAR/fill.status" &
	FILL=$!
}
# sessiond's statement text is longer than pg_stat_activity keeps; nothing else of
# sessiond's waits on a lock here.
FILL_WAITS="application_name = 'sessiond' AND wait_event_type = 'Lock' AND query LIKE 'SELECT id::text%'"
hash_of() { printf '%s' "$1" | sha256sum | cut -d' ' -f1; }
newtok() { openssl rand 32 | base64 | tr '+/' '-_' | tr -d '=\n'; }

seed_sessions "$VAR/race.txt" 6 'auth0|race' || { fail "seeding the race sessions"; exit 1; }
n=0
# race WRITER ORDER: one session, no cache row; the test holds its row lock; the
# writer (the SQL sessiond runs for it) and a first read both queue
# behind it, in ORDER (writer-first or fill-first); then the lock is released.
race() {
	local writer=$1 order=$2 tok id user sql new="" newhash="" fs wb
	n=$((n + 1))
	tok=$(sed -n "${n}p" "$VAR/race.txt")
	id=$(psql_q "SELECT id FROM sessions WHERE token_hash = '\\x$(hash_of "$tok")'")
	user=$(psql_q "SELECT user_id FROM sessions WHERE id = '$id'")
	psql_q "DELETE FROM session_cache WHERE id = '$id'"
	case $writer in
	revoke) sql="SELECT sessiond_revoke('$user', '$id', NULL, 'logout', '127.0.0.1')" ;;
	rotation)
		new=$(newtok)
		newhash=$(hash_of "$new")
		sql="SELECT status FROM sessiond_refresh('$id', 24, 2592000, '\\x$newhash', '127.0.0.1')" ;;
	# sessiond's own PATCH statement (one statement that keeps the cache row itself, sql/016), by token.
	patch) sql="PREPARE w AS $("$BUILD/tests/tools/statement" sess_patch);
		EXECUTE w('\\x$(hash_of "$tok")', 0, NULL, NULL, NULL, false, NULL, '{\"raced\":$n}', NULL, NULL, NULL, NULL, 65536, '127.0.0.1')" ;;
	esac
	holder_start "$id" || { holder_release; return; }
	if [ "$order" = writer-first ]; then
		psql_bg test-writer "$sql"
		wait_for "$writer waiting on the row lock" "application_name = 'test-writer' AND wait_event_type = 'Lock'" &&
			fill_bg "$tok" && wait_for "the fill paused inside its statement" "$FILL_WAITS" || { holder_release; wait; return; }
	else
		fill_bg "$tok"
		wait_for "the fill paused inside its statement" "$FILL_WAITS" && psql_bg test-writer "$sql" &&
			wait_for "$writer waiting on the row lock" "application_name = 'test-writer' AND wait_event_type = 'Lock'" ||
			{ holder_release; wait; return; }
	fi
	holder_release
	wait "$FILL"
	wait
	fs=$(cat "$VAR/fill.status")
	wb=$(tr -d '\n' <"$VAR/test-writer.out")
	case $writer in revoke) [ "$wb" = 1 ] ;; *) [ "${wb%%|*}" = ok ] ;; esac ||
		{ fail "$writer/$order: the write did not apply: $wb"; return; }
	# The fill's own answer says which side won the lock.
	case $writer/$order in
	*/fill-first) want=200 ;;
	patch/writer-first) want=200 ;;
	*) want=401 ;;
	esac
	[ "$fs" = "$want" ] && pass "$writer/$order: the racing first read answered $fs" ||
		fail "$writer/$order: the racing first read answered $fs, want $want: $(head -c 200 "$VAR/fill.body")"
	if [ "$writer/$order" = patch/writer-first ]; then
		[ "$(jq -r '.session_data.raced' "$VAR/fill.body")" = "$n" ] &&
			pass "patch/writer-first: the fill, whose snapshot predates the PATCH's commit, read the PATCHed row" ||
			fail "patch/writer-first: the fill read $(head -c 300 "$VAR/fill.body")"
	fi
	# What the cache table holds afterwards: nothing, or the session's current row.
	local stale
	stale=$(psql_q "SELECT count(*) FROM session_cache c LEFT JOIN sessions s ON s.id = c.id
		WHERE c.id = '$id' AND (s.id IS NULL OR s.revoked_at IS NOT NULL OR c.token_hash <> s.token_hash
		OR c.version <> s.version OR c.session_data <> s.session_data)")
	[ "$stale" = 0 ] && pass "$writer/$order: no revoked, rotated or stale row left in the cache table ($(psql_q "SELECT count(*) FROM session_cache WHERE id = '$id'") current)" ||
		fail "$writer/$order: the cache table holds a stale row: $(psql_q "SELECT encode(c.token_hash, 'hex'), c.version, s.version, s.revoked_at FROM session_cache c JOIN sessions s ON s.id = c.id WHERE c.id = '$id'")"
	# And what is served afterwards, twice (the second read finds the cache row, if one was left).
	for k in 1 2; do
		as "$tok" GET /api/sessions/current/
		case $writer in
		revoke) expect_error 401 invalid_session "$writer/$order: the revoked session is refused (read $k)" ;;
		rotation)
			expect_error 401 invalid_session "$writer/$order: the old token is refused (read $k)"
			as "$new" GET /api/sessions/current/
			expect_json .version "$(psql_q "SELECT version FROM sessions WHERE id = '$id'")" "$writer/$order: the new token reads the rotated session (read $k)" ;;
		patch)
			expect_json .session_data.raced "$n" "$writer/$order: the PATCHed data is served (read $k)"
			expect_json .version "$(psql_q "SELECT version FROM sessions WHERE id = '$id'")" "$writer/$order: at the current version (read $k)" ;;
		esac
	done
}
for w in revoke rotation patch; do
	race "$w" writer-first
	race "$w" fill-first
done

# --- after a crash: 10,000 first reads through nginx --------------------------------------------------------
N=10000
REVOKED=1000
seed_sessions "$VAR/crash.txt" "$N" 'auth0|crash' || { fail "seeding $N sessions"; exit 1; }
head -n "$REVOKED" "$VAR/crash.txt" >"$VAR/revoked.txt"
tail -n +"$((REVOKED + 1))" "$VAR/crash.txt" >"$VAR/live.txt"
# The revoked ones by hash, as an operator would; the others read once in SQL, so each has its cache row.
psql_q "UPDATE sessions SET revoked_at = now(), revoked_reason = 'logout', version = version + 1
	WHERE token_hash IN (SELECT sha256(convert_to(t, 'UTF8')) FROM unnest(string_to_array('$(paste -sd, "$VAR/revoked.txt")', ',')) t)" >/dev/null
psql_q "SELECT count(sessiond_cache_put(s)) FROM sessions s WHERE user_id LIKE 'auth0|crash%' AND revoked_at IS NULL" >/dev/null
[ "$(psql_q "SELECT count(*) FROM sessions WHERE user_id LIKE 'auth0|crash%' AND revoked_at IS NOT NULL")" = "$REVOKED" ] &&
	pass "$N sessions seeded, $REVOKED of them revoked" || fail "seeding: revoked count"

pg_ctl_as -m immediate stop >/dev/null
pg_ctl_as -l "$VAR/log/postgresql.log" -w start >/dev/null
wait_health "$BASE" || fail "healthy after the crash"
[ "$(psql_q "SELECT count(*) FROM session_cache")" = 0 ] && pass "the crash emptied the cache table" || fail "the cache table survived the crash"

# The WAL writer's timer at its maximum (10 s) for the count, so its clock adds at most
# one flush per 10 s; a read that waits for a flush of its own is counted whatever the timer.
psql_q "ALTER SYSTEM SET wal_writer_delay = '10s'" >/dev/null
psql_q "SELECT pg_reload_conf()" >/dev/null
# Backends report their WAL counters when idle for a while or when they exit: sessiond's
# connections are closed before each reading of pg_stat_wal (the workers reconnect).
flush_stats() {
	psql_q "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name LIKE 'sessiond%'" >/dev/null
	for _ in $(seq 1 400); do
		[ "$(psql_q "SELECT count(*) FROM pg_stat_activity WHERE application_name LIKE 'sessiond%'")" = 0 ] && return 0
		sleep 0.05
	done
	return 1
}
flush_stats
lsn0=$(psql_q "SELECT pg_current_wal_lsn()")
sync0=$(psql_q "SELECT wal_sync FROM pg_stat_wal")
# read_all FILE: GET /current/ once with each token of FILE, 16 at a time; one status a line.
read_all() {
	awk -v u="$BASE/api/sessions/current/" '{ if (NR != 1) print "next"
		printf "url = \"%s\"\nheader = \"Authorization: Session %s\"\noutput = \"/dev/null\"\nwrite-out = \"%%{http_code}\\n\"\n", u, $0 }' \
		"$1" >"$VAR/curl.conf"
	curl -s --parallel --parallel-max 16 -K "$VAR/curl.conf" 2>>"$VAR/curl.err"
}
t0=$(date +%s%N)
read_all "$VAR/live.txt" >"$VAR/live.status"
read_all "$VAR/revoked.txt" >"$VAR/revoked.status"
ms=$((($(date +%s%N) - t0) / 1000000))
lsn1=$(psql_q "SELECT pg_current_wal_lsn()")
flush_stats || fail "sessiond's connections closed for the WAL counters"
sync1=$(psql_q "SELECT wal_sync FROM pg_stat_wal")
live_ok=$(grep -cx 200 "$VAR/live.status")
revoked_ok=$(grep -cx 401 "$VAR/revoked.status")
[ "$live_ok" = $((N - REVOKED)) ] && pass "after the crash: all $live_ok live sessions served, each read once ($N reads in $ms ms)" ||
	fail "after the crash: $live_ok of $((N - REVOKED)) live sessions served: $(sort "$VAR/live.status" | uniq -c | tr '\n' ' ')"
[ "$revoked_ok" = "$REVOKED" ] && pass "after the crash: all $REVOKED revoked sessions 401" ||
	fail "after the crash: $revoked_ok of $REVOKED revoked sessions 401: $(sort "$VAR/revoked.status" | uniq -c | tr '\n' ' ')"
cached=$(psql_q "SELECT count(*) FROM session_cache c JOIN sessions s ON s.id = c.id WHERE s.user_id LIKE 'auth0|crash%'")
bad=$(psql_q "SELECT count(*) FROM session_cache c JOIN sessions s ON s.id = c.id WHERE s.revoked_at IS NOT NULL OR c.version <> s.version")
[ "$cached" = $((N - REVOKED)) ] && [ "$bad" = 0 ] && pass "the first reads cached every live session ($cached rows) and no revoked one" ||
	fail "cache table after the first reads: $cached rows, $bad revoked or stale"

# What those reads cost the WAL.
psql_q "SELECT pg_switch_wal()" >/dev/null
dboid=$(psql_q "SELECT oid FROM pg_database WHERE datname = current_database()")
rel=$(psql_q "SELECT reltablespace FROM pg_class WHERE relname = 'sessions'")
[ "$rel" = 0 ] && rel=$(psql_q "SELECT oid FROM pg_tablespace WHERE spcname = 'pg_default'")
rel="$rel/$dboid/$(psql_q "SELECT pg_relation_filenode('sessions')")"
waldump=("$PGBIN/pg_waldump" -p "$VAR/pg/data/pg_wal" -s "$lsn0" -e "$lsn1" -r Heap -R "$rel")
[ "$(id -u)" -eq 0 ] && waldump=(runuser -u postgres -- "${waldump[@]}")
"${waldump[@]}" >"$VAR/wal.txt" 2>"$VAR/waldump.err"
locks=$(grep -c 'desc: LOCK' "$VAR/wal.txt")
fpi=$(grep 'desc: LOCK' "$VAR/wal.txt" | grep -c 'FPW')
bytes=$(psql_q "SELECT pg_wal_lsn_diff('$lsn1', '$lsn0')::bigint")
syncs=$((sync1 - sync0))
echo "WAL of $N first reads after a crash: $locks HEAP LOCK records on sessions ($fpi with a full-page image), $bytes bytes in all, wal_sync +$syncs in $ms ms"
# One row lock per read that found a row: no read locks twice, none skips the lock.
[ "$locks" -ge $((N - REVOKED)) ] && [ "$locks" -le "$N" ] &&
	pass "$locks HEAP LOCK records on sessions for $N first reads (one per read that found its row)" ||
	fail "$locks HEAP LOCK records on sessions for $N first reads: $(head -c 300 "$VAR/waldump.err")"
# The bound does not grow with N: the WAL writer's timer (at most one flush per 10 s
# here) and its 1 MB threshold, never one flush per read (10,000 before migration 012,
# less what group commit shared).
[ "$syncs" -le 50 ] && pass "WAL flushes during the $N first reads: $syncs (bound 50, whatever N)" ||
	fail "WAL flushes during the $N first reads: $syncs, more than 50: first reads still wait for flushes"
