#!/usr/bin/env bash
# Broken neighbours under load (wrk): workers SIGKILLed, PostgreSQL restarted,
# PostgreSQL crashed (stop -m immediate), nginx reloaded. Statuses are read
# from nginx's access log, so every request is accounted for.
. "$(dirname "$0")/../lib.sh"
stack_up "workers = 4
auth_fail_limit = 0"
ACCESS=$VAR/log/nginx-access.log

tokens=()
for i in $(seq 1 40); do
	jwt=$(mint_jwt "$(std_claims "auth0|load$i")")
	req POST /api/sessions/create/ -H "Authorization: Bearer $jwt" -H 'Content-Type: application/json' -d '{}'
	tokens+=("$(jq_body .session_token)")
done
[ "${#tokens[@]}" -eq 40 ] && pass "40 sessions for the load" || fail "sessions: ${#tokens[@]}"
# lua_script FIRST LAST [extra header lines]: a wrk script cycling over tokens[FIRST..LAST].
lua_script() {
	echo 'local tokens = {'
	for t in "${tokens[@]:$1:$(($2 - $1 + 1))}"; do echo "  \"$t\","; done
	echo '}'
	cat <<LUA
local i = 0
request = function()
  i = i + 1
  return wrk.format("GET", "/api/sessions/current/", { ["Authorization"] = "Session " .. tokens[(i % #tokens) + 1]${3:+, $3} })
end
LUA
}
lua_script 0 39 >"$VAR/load.lua"

# load: wrk in the background until load_stop; sets LOAD_PID and LOAD_OUT.
# Faults are placed by what the access log shows (served_more N: N more
# requests answered), not by time: how fast they go is make bench's business.
load() {
	LOAD_OUT=$VAR/wrk.$RANDOM.txt
	: >"$ACCESS"
	wrk -t2 -c8 -d300s --timeout 5s -s "$VAR/load.lua" "$BASE" >"$LOAD_OUT" 2>&1 &
	LOAD_PID=$!
}
load_stop() { kill -INT "$LOAD_PID"; wait "$LOAD_PID"; }   # SIGINT: wrk stops and prints its summary
logged_at_least() { [ "$(wc -l <"$ACCESS")" -ge "$1" ]; }
served_more() { wait_until 60 logged_at_least $(( $(wc -l <"$ACCESS") + $1 )) || fail "fewer than $1 more requests logged in 60 s"; }
# 499 = wrk closed a connection with a request in flight when it was stopped: not a server failure.
statuses() { awk '{print $9}' "$ACCESS" | sort | uniq -c | awk '{printf "%s:%s ", $2, $1}'; }
count_status() { awk -v s="$1" '$9 == s' "$ACCESS" | wc -l; }
total() { awk '$9 != 499' "$ACCESS" | wc -l; }

# --- SIGKILL of workers under load ----------------------------------------------------------
load
served_more 100
kill -KILL "$(worker_pids | head -1)"
served_more 100
kill -KILL "$(worker_pids | tail -1)"
served_more 100
load_stop
bad=$(( $(total) - $(count_status 200) ))
[ "$(total)" -ge 300 ] && pass "load ran ($(total) requests)" || fail "too little load: $(total)"
[ "$bad" -le 2 ] && pass "2 workers SIGKILLed under load: $bad failed requests (only those in flight): $(statuses)" || fail "kills: $bad failed: $(statuses)"
wait_until 30 eval '[ "$(worker_pids | wc -l)" -eq 4 ]'
[ "$(worker_pids | wc -l)" -eq 4 ] && pass "killed workers respawned (4 running)" || fail "workers: $(worker_pids | wc -l)"

# --- PostgreSQL restart under load ------------------------------------------------------------
load
served_more 100
pg_ctl_as -m fast -w stop >/dev/null
# Down until the load has met the outage (some 503s answered).
answered_503() { [ "$(count_status 503)" -gt 0 ]; }
wait_until 60 answered_503
pg_ctl_as -l "$VAR/log/postgresql.log" -w start >/dev/null
back=$(date +%s.%N)
recovered=""
while :; do
	ok=1
	for t in "${tokens[@]:0:8}"; do
		s=$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Session $t" "$BASE/api/sessions/current/")
		[ "$s" = 200 ] || ok=0
	done
	now=$(date +%s.%N)
	if [ "$ok" = 1 ]; then recovered=$(echo "$now - $back" | bc); break; fi
	[ "$(echo "$now - $back > 30" | bc)" = 1 ] && break
done
load_stop
# A liveness bound, not a speed target (make bench measures speed): the figure is printed.
[ -n "$recovered" ] && pass "full service ${recovered}s after PostgreSQL is back (bound 30 s)" || fail "no full service 30 s after PostgreSQL came back"
[ "$(count_status 503)" -gt 0 ] && pass "503 while PostgreSQL was down ($(count_status 503))" || fail "no 503 during the outage: $(statuses)"
other=$(( $(total) - $(count_status 200) - $(count_status 503) ))
[ "$other" -eq 0 ] && pass "nothing but 200 and 503 during the restart: $(statuses)" || fail "unexpected statuses: $(statuses)"
[ "$(worker_pids | wc -l)" -eq 4 ] && ! grep -q 'event=worker_died.*signal=[^9]' "$VAR/log/sessiond.log" && pass "no worker crashed during the outage" || fail "a worker crashed"

# --- PostgreSQL crash (stop -m immediate) under load ------------------------------------------------
for i in $(seq 0 9); do
	curl -s -o /dev/null -X DELETE -H "Authorization: Session ${tokens[$i]}" "$BASE/api/sessions/current/"
done
live_before=$(psql_q "SELECT count(*) FROM sessions WHERE revoked_at IS NULL")
revoked_before=$(psql_q "SELECT count(*) FROM sessions WHERE revoked_at IS NOT NULL")
load
served_more 100
pg_ctl_as -m immediate stop >/dev/null
pg_ctl_as -l "$VAR/log/postgresql.log" -w start >/dev/null
served_more 100
load_stop
[ "$(psql_q "SELECT count(*) FROM sessions WHERE revoked_at IS NULL")" = "$live_before" ] && pass "crash under load: 0 sessions lost ($live_before live)" || fail "live sessions changed"
[ "$(psql_q "SELECT count(*) FROM sessions WHERE revoked_at IS NOT NULL")" = "$revoked_before" ] && pass "crash under load: revoked count unchanged ($revoked_before)" || fail "revoked changed"
served=0; dead=0
for i in $(seq 0 39); do
	s=$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Session ${tokens[$i]}" "$BASE/api/sessions/current/")
	if [ "$i" -lt 10 ]; then [ "$s" = 401 ] && dead=$((dead + 1)); else [ "$s" = 200 ] && served=$((served + 1)); fi
done
[ "$served" = 30 ] && pass "after the crash every live session is served (30/30)" || fail "served $served/30"
[ "$dead" = 10 ] && pass "after the crash no revoked session is back (10/10 still 401)" || fail "revoked back: $((10 - dead))"

# --- nginx reload under load ---------------------------------------------------------------------
# Live sessions only, and one connection per request as browsers' first tries
# are: an idle keep-alive connection closed by an old nginx worker is retried
# by real clients, but wrk would count it as an error.
lua_script 10 39 '["Connection"] = "close"' >"$VAR/load.lua"
load
served_more 100
nginx -p "$VAR/nginx" -c "$VAR/nginx/nginx.conf" -s reload
served_more 100
nginx -p "$VAR/nginx" -c "$VAR/nginx/nginx.conf" -s reload
served_more 100
load_stop
ok200=$(count_status 200)
[ "$ok200" -ge 300 ] && [ "$ok200" -eq "$(total)" ] && pass "2 nginx reloads under load: $(total) requests, all 200" || fail "reload: $(statuses)"
grep -qE 'Socket errors:.*(connect [1-9]|read [1-9]|write [1-9]|timeout [1-9])' "$LOAD_OUT" && fail "wrk saw socket errors: $(grep 'Socket errors' "$LOAD_OUT")" || pass "no client-side errors during the reloads"
