#!/usr/bin/env bash
# Faults around the per-host cache (4 workers): a worker SIGKILLed or stopped
# while it holds a slot lock does not stop the host; a listener whose
# PostgreSQL connection stalls stops vouching for the cache within about 2 s;
# it warns once per outage, not every 250 ms, and starts empty after a
# reconnect; a revocation by an upper-case id invalidates on this host by
# itself. The lock faults come from sessiond's test-only fault hook
# (SESSIOND_TEST_LCACHE_FAULT_DIR, see include/lcache.h).
. "$(dirname "$0")/../lib.sh"
stack_up "workers = 4
auth_fail_limit = 0
touch_interval = 60"
grep -qa SESSIOND_TEST_LCACHE_FAULT_DIR "$BUILD/sessiond" ||
	{ fail "$BUILD/sessiond was built without the test fault hooks (make test builds them in; by hand: make FAULT_HOOKS=1 all tools)"; exit 1; }
FD=$VAR/faults
mkdir -p "$FD"
export SESSIOND_TEST_LCACHE_FAULT_DIR=$FD
sessiond_restart || { fail "sessiond restarted with the fault hook armed"; exit 1; }
LOG=$VAR/log/sessiond.log

metric() { curl -s -m 3 "$BASE/api/sessions/metrics/" | awk -v n="$1" '$1 == n { print $2 }'; }
# hammer TOKEN PATH N: N parallel GETs, each given 3 s; prints the distinct statuses (000: no answer in time).
# (Waits for its own curls only: sessiond_restart made sessiond a child of this shell.)
hammer() {
	local f=$VAR/hammer.$RANDOM pids=()
	for _ in $(seq 1 "$3"); do
		curl -s -m 3 -o /dev/null -w '%{http_code}\n' -H "Authorization: Session $1" "$BASE$2" >>"$f" &
		pids+=($!)
	done
	wait "${pids[@]}"
	sort -u "$f" | paste -sd, -
}
# health N: N parallel health checks, 3 s each.
health() {
	local f=$VAR/health.$RANDOM pids=()
	for _ in $(seq 1 "$1"); do curl -s -m 3 -o /dev/null -w '%{http_code}\n' "$BASE/api/sessions/health/" >>"$f" & pids+=($!); done
	wait "${pids[@]}"
	sort -u "$f" | paste -sd, -
}
listening_at_least() { [ "$(grep -c "event=cache_listener_listening" "$LOG")" -ge "$1" ]; }
wait_listening() { wait_until 30 listening_at_least "$1"; }
wait_listening 1 || fail "listener listening"

# --- item 1: a worker SIGKILLed holding a slot lock ------------------------------------------------------
create 'auth0|cf1'; K=$TOKEN
touch "$FD/lcache_put_kill"
as "$K" GET /api/sessions/current/ -m 5 >/dev/null     # a miss: its fill dies holding the slot's lock
killed_in_put() { [ ! -e "$FD/lcache_put_kill" ] && grep -q 'event=worker_died .*signal=9' "$LOG"; }
wait_until 30 killed_in_put &&
	pass "the fault hook killed a worker inside lcache_put" || fail "the kill fault did not fire"
four_workers() { [ "$(worker_pids | wc -l)" -eq 4 ]; }
wait_until 30 four_workers
t0=$(date +%s%N)
h=$(health 16)
g=$(hammer "$K" /api/sessions/current/ 24)
create 'auth0|cf1b'; c=$STATUS
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
[ "$h" = 200 ] && [ "$g" = 200 ] && [ "$c" = 201 ] &&
	pass "after the kill: 16 health, 24 GETs of the same slot and a create all answered (${ms} ms)" ||
	fail "after the kill: health $h, GET $g, create $c"
grep -q 'event=cache_slot_recovered' "$LOG" && pass "the dead writer's slot was taken over (cache_slot_recovered)" ||
	fail "no cache_slot_recovered logged"
h0=$(metric sessiond_local_cache_hits_total)
g=$(hammer "$K" /api/sessions/current/ 16)
h1=$(metric sessiond_local_cache_hits_total)
[ "$g" = 200 ] && [ $((h1 - h0)) -ge 8 ] && pass "the slot serves from the cache again ($((h1 - h0)) of 16 hits)" ||
	fail "slot after recovery: $g, $((h1 - h0)) hits"
as "$K" PATCH /api/sessions/current/ -H 'Content-Type: application/json' -d '{"session_data":{"after":"kill"}}'
stale=0
for _ in $(seq 1 8); do as "$K" GET /api/sessions/current/ -m 3; [ "$(jq_body .session_data.after)" = kill ] || stale=$((stale + 1)); done
[ "$stale" = 0 ] && pass "a write to the recovered slot is seen by every next read" || fail "$stale stale reads after the PATCH"

# --- item 1: a worker stopped (SIGSTOP) holding a slot lock ---------------------------------------------
create 'auth0|cf2'; P=$TOKEN
touch "$FD/lcache_put_stop"
curl -s -m 20 -o /dev/null -H "Authorization: Session $P" "$BASE/api/sessions/current/" &
HUNG=$!
stopped=""
find_stopped() { for w in $(worker_pids); do [ "$(ps -o stat= -p "$w" | cut -c1)" = T ] && stopped=$w; done; [ -n "$stopped" ]; }
wait_until 30 find_stopped
[ -n "$stopped" ] && pass "the fault hook stopped worker $stopped inside lcache_put" || fail "the stop fault did not fire"
t0=$(date +%s%N)
h=$(health 16)
g=$(hammer "$P" /api/sessions/current/ 24)
a=$(hammer "$P" /api/sessions/auth/ 8)
create 'auth0|cf2b'; c=$STATUS
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
[ "$h" = 200 ] && [ "$g" = 200 ] && [ "$a" = 204 ] && [ "$c" = 201 ] &&
	pass "with a writer stopped in the slot: health, GET, auth and create all answered by the other workers (${ms} ms)" ||
	fail "with a stopped writer: health $h, GET $g, auth $a, create $c"
as "$P" PATCH /api/sessions/current/ -H 'Content-Type: application/json' -d '{"session_data":{"after":"stop"}}' -m 3
expect_status 200 "a PATCH of that session while its slot is held"
stale=0
for _ in $(seq 1 8); do as "$P" GET /api/sessions/current/ -m 3; [ "$(jq_body .session_data.after)" = stop ] || stale=$((stale + 1)); done
[ "$stale" = 0 ] && pass "its invalidation did not wait for the stopped holder: every next read shows the PATCH" ||
	fail "$stale stale reads while the holder is stopped"
[ -n "$stopped" ] && kill -CONT "$stopped"
wait "$HUNG"   # its response is written after its (dropped) fill: no delay needed
stale=0
for _ in $(seq 1 8); do as "$P" GET /api/sessions/current/ -m 3; [ "$(jq_body .session_data.after)" = stop ] || stale=$((stale + 1)); done
[ "$stale" = 0 ] && pass "the resumed writer's stale fill was dropped" || fail "$stale stale reads after the writer resumed"

# --- item 3: revoking by an upper-case id invalidates this host's cache by itself ---------------------------
touch "$FD/listener_deaf"          # the listener beats but applies nothing: only the route's own invalidation acts
# (No wait: a read sent before the DELETE below cannot hold its row, one sent after checks the file first.)
create 'auth0|cf3'; R1=$TOKEN
create 'auth0|cf3'; R2=$TOKEN; R2ID=$SID
[ "$(hammer "$R2" /api/sessions/auth/ 16)" = 204 ] || fail "warm-up of the session to revoke"
UP=$(printf '%s' "$R2ID" | tr 'a-f' 'A-F')
as "$R1" DELETE "/api/sessions/$UP/"
expect_status 200 "DELETE /api/sessions/<UPPER-CASE ID>/"
[ "$(hammer "$R2" /api/sessions/auth/ 16)" = 401 ] && pass "then /auth/ with the revoked token: 401 on every worker" ||
	fail "the session revoked by an upper-case id is still served"
rm -f "$FD/listener_deaf"

# --- item 2: the listener's PostgreSQL backend stalls ------------------------------------------------------
create 'auth0|cf4'; S=$TOKEN; SSID=$SID
create 'auth0|cf4b'; L=$TOKEN
hammer "$S" /api/sessions/current/ 8 >/dev/null
hammer "$L" /api/sessions/current/ 8 >/dev/null
BACKEND=$(psql_q "SELECT pid FROM pg_stat_activity WHERE application_name = 'sessiond-cache'")
[ -n "$BACKEND" ] && pass "the listener's backend is visible as application_name sessiond-cache (pid $BACKEND)" ||
	fail "no sessiond-cache backend"
n_stop=$(grep -c 'event=cache_listener_listening' "$LOG")
kill -STOP "$BACKEND"
psql_q "UPDATE sessions SET revoked_at = now(), version = version + 1 WHERE id = '$SSID'" >/dev/null
t0=$(date +%s%N)   # committed
s=""
while :; do
	s=$(curl -s -m 3 -o /dev/null -w '%{http_code}' -H "Authorization: Session $S" "$BASE/api/sessions/current/")
	ms=$(( ($(date +%s%N) - t0) / 1000000 ))
	[ "$s" = 401 ] || [ "$ms" -gt 10000 ] && break
	sleep 0.05   # poll interval
done
# Documented bound 2 s (docs/invalidation.md); a test bound is a liveness bound, 5x that.
[ "$s" = 401 ] && [ "$ms" -le 10000 ] && pass "backend stopped, session revoked by SQL: 401 after ${ms} ms" ||
	fail "backend stopped: $s after ${ms} ms"
[ "$(hammer "$S" /api/sessions/current/ 16)" = 401 ] && pass "and on every worker" || fail "revocation not seen everywhere"
[ "$(hammer "$L" /api/sessions/current/ 16)" = 200 ] && pass "other sessions are read from PostgreSQL meanwhile" || fail "reads failed"
grep -q 'event=cache_listener_lost reason=read_timeout' "$LOG" && pass "the listener gave up on its stalled connection" ||
	fail "no read_timeout logged"
kill -CONT "$BACKEND"
listening_since_stop() { [ "$(grep -c 'event=cache_listener_listening' "$LOG")" -gt "$n_stop" ]; }
wait_until 30 listening_since_stop || fail "the listener did not listen again within 30 s"
h0=$(metric sessiond_local_cache_hits_total)
hammer "$L" /api/sessions/current/ 16 >/dev/null
h1=$(metric sessiond_local_cache_hits_total)
[ $((h1 - h0)) -ge 8 ] && pass "on a new connection the cache serves again ($((h1 - h0)) of 16 hits)" || fail "no hits after the reconnect"

# --- the cache starts empty after a reconnect -------------------------------------------------------------
hammer "$L" /api/sessions/current/ 8 >/dev/null
n0=$(grep -c 'event=cache_listener_listening' "$LOG")
psql_q "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'sessiond-cache'" >/dev/null
wait_listening $((n0 + 1))
h0=$(metric sessiond_local_cache_hits_total)
as "$L" GET /api/sessions/current/
h1=$(metric sessiond_local_cache_hits_total)
[ "$STATUS" = 200 ] && [ "$h1" = "$h0" ] && grep -q 'event=cache_listener_listening after_failures=' "$LOG" &&
	pass "after the listener reconnected, the first read came from PostgreSQL (cache flushed)" ||
	fail "after reconnect: $STATUS, hits $h0 → $h1"

# --- while PostgreSQL is down the listener warns once, not every 250 ms -----------------------------------
w0=$(grep -c 'event=cache_listener_connect_failed' "$LOG")
pg_ctl_as -m fast -w stop >/dev/null
warned() { [ "$(grep -c 'event=cache_listener_connect_failed' "$LOG")" -gt "$w0" ]; }
wait_until 30 warned || fail "no listener warning 30 s into the outage"
sleep 4   # the warning rate is what is checked: a fixed span of outage (reconnect attempts every 250 ms)
w1=$(grep -c 'event=cache_listener_connect_failed' "$LOG")
[ $((w1 - w0)) -ge 1 ] && [ $((w1 - w0)) -le 2 ] && pass "4 s more of PostgreSQL down: $((w1 - w0)) listener warning(s)" ||
	fail "4 s more of PostgreSQL down: $((w1 - w0)) listener warnings"
n0=$(grep -c 'event=cache_listener_listening' "$LOG")
pg_ctl_as -l "$VAR/log/postgresql.log" -w start >/dev/null
wait_listening $((n0 + 1))
grep 'event=cache_listener_listening' "$LOG" | tail -1 | grep -qE 'after_failures=[1-9][0-9]* down_ms=[0-9]+' &&
	pass "back: one line with the number of failed attempts and the outage length" || fail "no recovery line"
req GET /api/sessions/health/
expect_status 200 "health after PostgreSQL is back"
