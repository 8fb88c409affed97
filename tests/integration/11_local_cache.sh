#!/usr/bin/env bash
# The per-host shared-memory cache (4 workers): reads are served from it,
# every write on this host is seen by every worker on the very next request,
# a change made directly in PostgreSQL (another host, an operator) arrives by
# NOTIFY within milliseconds, and without its listener the cache is bypassed.
. "$(dirname "$0")/../lib.sh"
stack_up "workers = 4
auth_fail_limit = 0
max_sessions_per_user = 3
touch_interval = 60"

metric() { curl -s "$BASE/api/sessions/metrics/" | awk -v n="$1" '$1 == n { print $2 }'; }
# hammer TOKEN PATH N: N parallel GETs (spread over the workers); prints the distinct statuses.
hammer() {
	local f=$VAR/hammer.$RANDOM
	for _ in $(seq 1 "$3"); do
		curl -s -o /dev/null -w '%{http_code}\n' -H "Authorization: Session $1" "$BASE$2" >>"$f" &
	done
	wait
	sort -u "$f" | paste -sd, -
}

[ -n "$(listener_pid)" ] && pass "the master runs a cache listener" || fail "no sessiond-cache process"
wait_until 30 grep -q 'event=cache_listener_listening' "$VAR/log/sessiond.log" || fail "the cache listener is not listening after 30 s"

# --- reads come from the cache ---------------------------------------------------------------
create 'auth0|lc1'; T1=$TOKEN; S1=$SID
as "$T1" GET /api/sessions/current/
first=$BODY
h0=$(metric sessiond_local_cache_hits_total)
[ "$(hammer "$T1" /api/sessions/current/ 40)" = 200 ] && pass "40 parallel reads all 200" || fail "reads failed"
h1=$(metric sessiond_local_cache_hits_total)
[ $((h1 - h0)) -ge 30 ] && pass "reads answered by the per-host cache ($((h1 - h0)) of 40)" || fail "local hits moved by $((h1 - h0))"
as "$T1" GET /api/sessions/current/
[ "$BODY" = "$first" ] && pass "a cached read returns the same object as the store read" || fail "cached body differs"
req GET /api/sessions/auth/ -H "Authorization: Session $T1"
expect_status 204 "auth_request from the cache"
[ "$(header X-Session-Id)" = "$S1" ] && [ "$(header X-Session-User)" = 'auth0|lc1' ] && pass "auth_request headers from the cache" || fail "auth headers: $(header X-Session-Id) $(header X-Session-User)"

# --- writes on this host: every worker sees them on the very next request --------------------------
as "$T1" PATCH /api/sessions/current/ -H 'Content-Type: application/json' -d '{"session_data":{"n":1}}'
expect_status 200 "patch"
stale=0
for _ in 1 2 3 4 5 6 7 8; do
	as "$T1" GET /api/sessions/current/
	[ "$(jq_body '.session_data.n')" = 1 ] || stale=$((stale + 1))
done
[ "$stale" = 0 ] && pass "after PATCH every read shows the change" || fail "$stale reads served the old session_data"
as "$T1" POST /api/sessions/refresh/ -H 'Content-Type: application/json' -d '{"rotate":true}'
T1b=$(jq_body .session_token)
[ "$(hammer "$T1" /api/sessions/current/ 24)" = 401 ] && pass "rotation: the old token is dead on every worker at once" || fail "old token still served"
[ "$(hammer "$T1b" /api/sessions/current/ 8)" = 200 ] && pass "rotation: the new token works" || fail "new token"
hammer "$T1b" /api/sessions/current/ 16 >/dev/null
as "$T1b" DELETE /api/sessions/current/
[ "$(hammer "$T1b" /api/sessions/current/ 40)" = 401 ] && pass "logout: 40 parallel reads right after, all 401" || fail "logout not seen by every worker"
[ "$(hammer "$T1b" /api/sessions/auth/ 16)" = 401 ] && pass "logout: auth_request refuses at once" || fail "auth still 204"

create 'auth0|lc2'; A=$TOKEN
create 'auth0|lc2'; B=$TOKEN; BID=$SID
hammer "$A" /api/sessions/current/ 8 >/dev/null; hammer "$B" /api/sessions/current/ 8 >/dev/null
as "$A" DELETE "/api/sessions/$BID/"
[ "$(hammer "$B" /api/sessions/current/ 24)" = 401 ] && pass "revoke by id: seen by every worker at once" || fail "revoked session served"
create 'auth0|lc2'; C=$TOKEN
hammer "$C" /api/sessions/current/ 8 >/dev/null
as "$A" POST /api/sessions/invalidate-all/ -H 'Content-Length: 0'
[ "$(hammer "$A" /api/sessions/current/ 16),$(hammer "$C" /api/sessions/current/ 16)" = "401,401" ] && pass "invalidate-all: seen by every worker at once" || fail "invalidate-all not seen"

# The session cap evicts through the cache too.
create 'auth0|lc3'; E1=$TOKEN
create 'auth0|lc3'
create 'auth0|lc3'
hammer "$E1" /api/sessions/current/ 8 >/dev/null
psql_q "UPDATE session_cache SET last_activity = now() - interval '1 hour' WHERE token_hash = sha256(convert_to('$E1', 'UTF8'))" >/dev/null
psql_q "UPDATE sessions SET last_activity = now() - interval '1 hour' WHERE token_hash = sha256(convert_to('$E1', 'UTF8'))" >/dev/null
create 'auth0|lc3'
[ "$(hammer "$E1" /api/sessions/current/ 16)" = 401 ] && pass "a session evicted by the cap is dead on every worker" || fail "evicted session served"

# --- changes made elsewhere (another host, an operator) arrive by NOTIFY ------------------------------
create 'auth0|lc4'; D=$TOKEN; DID=$SID
hammer "$D" /api/sessions/current/ 16 >/dev/null
psql_q "UPDATE sessions SET revoked_at = now(), version = version + 1 WHERE id = '$DID'" >/dev/null
t0=$(date +%s%N)
n=0
while :; do
	s=$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Session $D" "$BASE/api/sessions/current/")
	ms=$(( ($(date +%s%N) - t0) / 1000000 ))
	[ "$s" = 401 ] || [ "$ms" -ge 10000 ] && break
	n=$((n + 1))
	sleep 0.05   # poll interval
done
# The documented bound (docs/invalidation.md) is 2 s, normally one listener read;
# a test's bound is a liveness bound, 5x that (make bench reports the figure).
[ "$s" = 401 ] && [ "$ms" -lt 10000 ] && pass "a revocation committed by another host is honoured within ${ms} ms of its commit (stale answers: $n)" || fail "remote revocation: $s after ${ms} ms"
[ "$(hammer "$D" /api/sessions/current/ 24)" = 401 ] && pass "and on every worker" || fail "remote revocation not everywhere"
create 'auth0|lc5'; F=$TOKEN; FID=$SID
hammer "$F" /api/sessions/current/ 8 >/dev/null
psql_q "UPDATE sessions SET session_data = '{\"by\":\"sql\"}', version = version + 1 WHERE id = '$FID'" >/dev/null
wait_listeners_applied || fail "the cache listener did not read the invalidation log within 30 s"
as "$F" GET /api/sessions/current/
expect_json '.session_data.by' 'sql' "a change committed elsewhere replaces the cached copy"

# --- without its listener the cache is bypassed --------------------------------------------------------
create 'auth0|lc6'; G=$TOKEN; GID=$SID
hammer "$G" /api/sessions/current/ 8 >/dev/null
kill -STOP "$(listener_pid)"      # deaf but alive: only its heartbeat tells
# Until its heartbeat is over 2 s old, reads may still come from the cache: wait until one does not.
bypassed() {
	local h0
	h0=$(metric sessiond_local_cache_hits_total)
	as "$G" GET /api/sessions/current/
	[ "$STATUS" = 200 ] && [ "$(metric sessiond_local_cache_hits_total)" = "$h0" ]
}
wait_until 30 bypassed || fail "reads still served from the cache 30 s after the listener stopped"
psql_q "UPDATE sessions SET revoked_at = now(), version = version + 1 WHERE id = '$GID'" >/dev/null
[ "$(hammer "$G" /api/sessions/current/ 16)" = 401 ] && pass "listener stalled: reads go to PostgreSQL (revocation seen at once)" || fail "stale read while the listener was stalled"
kill -CONT "$(listener_pid)"
old=$(listener_pid)
kill -KILL "$old"
respawned() { [ -n "$(listener_pid)" ] && [ "$(listener_pid)" != "$old" ]; }
wait_until 30 respawned
[ -n "$(listener_pid)" ] && [ "$(listener_pid)" != "$old" ] && pass "a killed listener is respawned" || fail "listener not respawned"
create 'auth0|lc7'; H=$TOKEN
listening_again() { [ "$(grep -c 'event=cache_listener_listening' "$VAR/log/sessiond.log")" -ge 2 ]; }
wait_until 30 listening_again || fail "the respawned listener is not listening after 30 s"
hammer "$H" /api/sessions/current/ 8 >/dev/null
h2=$(metric sessiond_local_cache_hits_total)
hammer "$H" /api/sessions/current/ 16 >/dev/null
h3=$(metric sessiond_local_cache_hits_total)
[ $((h3 - h2)) -ge 8 ] && pass "the cache serves again after the listener is back" || fail "no local hits after respawn ($((h3 - h2)))"

# --- PostgreSQL restarted: the listener reconnects and the cache starts empty ------------------------------
pg_ctl_as -m fast -w stop >/dev/null
req GET /api/sessions/current/ -H "Authorization: Session $H"
expect_status 503 "PostgreSQL down: no read served from the cache"
pg_ctl_as -l "$VAR/log/postgresql.log" -w start >/dev/null
served_h() { req GET /api/sessions/current/ -H "Authorization: Session $H"; [ "$STATUS" = 200 ]; }
wait_until 30 served_h
expect_status 200 "served again after PostgreSQL is back"

# --- reads from the cache write no WAL ----------------------------------------------------------------------
# Counted from the WAL records themselves (pg_waldump), on sessiond's own
# tables and indexes only: autovacuum analysing another database's catalogs
# meanwhile is not sessiond's write.
hammer "$H" /api/sessions/current/ 8 >/dev/null
lsn0=$(psql_q "SELECT pg_current_wal_lsn()")
hw0=$(metric sessiond_local_cache_hits_total)
for _ in $(seq 1 5); do hammer "$H" /api/sessions/current/ 40 >/dev/null; done
hw1=$(metric sessiond_local_cache_hits_total)
lsn1=$(psql_q "SELECT pg_current_wal_lsn()")
# A read the cache did not serve (its listener's heartbeat late on a loaded
# machine) goes to PostgreSQL, whose fill locks the row: at most one WAL record each.
misses=$((200 - (hw1 - hw0)))
psql_q "SELECT pg_switch_wal()" >/dev/null
dboid=$(psql_q "SELECT oid FROM pg_database WHERE datname = current_database()")
for pgbin in /usr/lib/postgresql/*/bin; do :; done
waldump=("$pgbin/pg_waldump" -p "$VAR/pg/data/pg_wal" -s "$lsn0" -e "$lsn1")
[ "$(id -u)" -eq 0 ] && waldump=(runuser -u postgres -- "${waldump[@]}")
"${waldump[@]}" >"$VAR/wal.txt" 2>&1
own_rel="rel [0-9]+/$dboid/(1[6-9][0-9]{3}|[2-9][0-9]{4}|[0-9]{6,})"
own=$(grep -cE "$own_rel" "$VAR/wal.txt")
{ [ "$(psql_q "SELECT pg_wal_lsn_diff('$lsn1', '$lsn0')")" = 0 ] || grep -q "lsn: " "$VAR/wal.txt"; } && [ "$own" -le "$misses" ] &&
	[ "$(grep -E "$own_rel" "$VAR/wal.txt" | grep -vc 'desc: LOCK ')" -eq 0 ] &&
	pass "$((200 - misses)) cached reads of 200 wrote no WAL record to sessiond's tables ($own row locks by the $misses reads that missed; $(grep -c 'lsn: ' "$VAR/wal.txt") records from other work)" ||
	fail "cached reads wrote $own WAL records to sessiond's tables ($misses misses): $(grep -E "rel [0-9]+/$dboid/" "$VAR/wal.txt" | head -3)"

# --- more sessions than the cache holds (and the load tests' seeding helper) --------------------------------
seed_sessions "$VAR/many.txt" 20000 'auth0|many' && pass "seed_sessions: 20,000 sessions seeded" || fail "seed_sessions failed for 20,000"
[ "$(sort -u "$VAR/many.txt" | grep -c -E '^[A-Za-z0-9_-]{43}$')" = 20000 ] &&
	pass "seed_sessions: 20,000 distinct 43-character base64url tokens" || fail "seed_sessions: bad token file"
# Line k of the file is the session of user auth0|many<k % 500>: read a spread of them,
# far more distinct sessions than the per-host cache has slots.
bad=0
for k in 1 2 4096 4097 9999 20000 $(shuf -i 1-20000 -n 34); do
	req GET /api/sessions/current/ -H "Authorization: Session $(sed -n "${k}p" "$VAR/many.txt")"
	[ "$STATUS" = 200 ] && [ "$(jq_body '.user.id')" = "auth0|many$((k % 500))" ] || { bad=$((bad + 1)); echo "token $k: $STATUS ${BODY:0:120}"; }
done
[ "$bad" = 0 ] && pass "40 of 20,000 seeded sessions each read as its own user" || fail "$bad of 40 seeded sessions read wrong"
