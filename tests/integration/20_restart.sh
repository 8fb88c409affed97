#!/usr/bin/env bash
# Restarts and upgrades lose no request. systemd is not PID 1 here, so
# tests/tools/sdholder.py plays its part by the documented protocols: it holds
# the socket (as sessiond.socket does), passes it per LISTEN_FDS/LISTEN_PID,
# listens on NOTIFY_SOCKET and restarts the service as `systemctl restart`
# does. Checked: the units verify; READY=1 only once every worker accepts and
# /health/ answers (200, and 503 with PostgreSQL stopped); RELOADING=1/READY=1
# around SIGHUP; a restart under wrk load through nginx answers nothing but
# 2xx (statuses from nginx's access log); then, without systemd, a SIGUSR2
# re-exec into a replaced binary under load answers nothing but 2xx and hands
# the pid file over, and a re-exec whose configuration check fails leaves the
# old master serving with the reason in the log. Events are ordered by what
# the holder's event file, the pid file and the logs show, never by sleeps.
. "$(dirname "$0")/../lib.sh"
stack_up "workers = 4
auth_fail_limit = 0"
ACCESS=$VAR/log/nginx-access.log
SOCK=$VAR/run/sessiond.sock
EV=$VAR/holder.events
LOG=$VAR/log/sessiond.log
HOLDER=""
MASTER=""
LOAD_PID=""
cleanup() {
	[ -n "$LOAD_PID" ] && kill -INT "$LOAD_PID" 2>/dev/null
	[ -n "$HOLDER" ] && kill -TERM "$HOLDER" 2>/dev/null && wait "$HOLDER" 2>/dev/null
	[ -n "$MASTER" ] && kill -TERM "$MASTER" 2>/dev/null
	for p in $(pgrep -f "$VAR/bin/sessiond" 2>/dev/null); do kill -TERM "$p" 2>/dev/null; done
	stack_down
}
trap cleanup EXIT

lines() { wc -l <"$1"; }
ready_count() { cat "$EV" 2>/dev/null | grep -c ' ready pid='; }

# --- the units ------------------------------------------------------------------------------------
ud=$VAR/units
mkdir -p "$ud"
for u in sessiond.service sessiond.socket; do sed "s|/usr/local/sbin/|$BUILD/|g" "$TOP/conf/systemd/$u" >"$ud/$u"; done
out=$(cd "$ud" && systemd-analyze verify --man=no sessiond.socket sessiond.service 2>&1)
[ -z "$out" ] && pass "systemd-analyze verify sessiond.socket sessiond.service" || fail "systemd-analyze verify: $out"
u() { sed -n "s/^$1=//p" "$TOP/conf/systemd/$2"; }
[ "$(u ListenStream sessiond.socket)" = "$(sed -n 's/^listen = //p' "$TOP/conf/sessiond.conf.example")" ] &&
	grep -q "unix:$(u ListenStream sessiond.socket);" "$TOP/conf/nginx/sessiond.conf" &&
	pass "sessiond.socket listens where the sample config and the nginx site say" || fail "socket path: $(u ListenStream sessiond.socket)"
[ "$(u Type sessiond.service):$(u Requires sessiond.service):$(u RuntimeDirectoryPreserve sessiond.service)" = notify:sessiond.socket:yes ] &&
	pass "sessiond.service: Type=notify, requires its socket, keeps /run/sessiond (and the socket) when it stops" ||
	fail "sessiond.service: Type=$(u Type sessiond.service) Requires=$(u Requires sessiond.service) RuntimeDirectoryPreserve=$(u RuntimeDirectoryPreserve sessiond.service)"

# --- socket activation: the holder takes over from the stack's own sessiond -----------------------------
stack_pid=$(cat "$VAR/run/sessiond.pid")
kill -TERM "$stack_pid"
wait_until 20 eval '! kill -0 "$stack_pid" 2>/dev/null' || fail "the stack's sessiond did not stop"
[ ! -e "$SOCK" ] && pass "without systemd, sessiond removes the socket it created when it stops" || fail "socket left by the stack's sessiond"
python3 "$TOP/tests/tools/sdholder.py" --listen "$SOCK" --mode 0666 --notify "$VAR/run/notify.sock" --events "$EV" \
	--log "$LOG" --health "$BASE/api/sessions/health/" --output "$LOG" -- "$BUILD/sessiond" --config "$CONF" &
HOLDER=$!
wait_until 30 eval '[ "$(ready_count)" -ge 1 ]' || fail "no READY=1 within 30 s: $(cat "$EV")"
inode=$(stat -c %i "$SOCK")
first=$(grep -m1 ' start pid=' "$EV" | sed 's/.*pid=//')
grep -q "event=start version=.* listen=passed_fd3 " <(tail -n 40 "$LOG") &&
	pass "the passed socket won over listen (the stack's config sets listen = $SOCK)" || fail "start line: $(grep 'event=start' "$LOG" | tail -1)"
line=$(grep ' ready pid=' "$EV" | tail -1)
[[ "$line" == *" ready pid=$first sender=$first workers_ready=4 health=200" ]] &&
	pass "READY=1 from the main pid once all 4 workers accept; /health/ answered 200 right then" || fail "ready: $line"
[ "$(grep -c 'msg=READY=1' "$EV")" = 1 ] && pass "READY=1 sent once at start" || fail "READY=1 count: $(cat "$EV")"

# Reload: RELOADING=1, then READY=1 once every worker re-read its keys.
n=$(ready_count)
kill -USR1 "$HOLDER"
wait_until 20 eval '[ "$(ready_count)" -gt "$n" ]' || fail "no READY=1 after SIGHUP"
tail -n 3 "$EV" | grep -q "msg=RELOADING=1,MONOTONIC_USEC=[0-9]*$" && tail -n 2 "$EV" | grep -q "msg=READY=1" &&
	pass "SIGHUP: RELOADING=1 (with MONOTONIC_USEC), then READY=1" || fail "reload notifications: $(tail -n 4 "$EV")"
[ "$(grep -c 'event=reload' <(tail -n 20 "$LOG"))" -ge 4 ] && pass "every worker reloaded before READY=1" || fail "reload lines: $(tail -n 20 "$LOG")"

# --- restart under load through nginx -------------------------------------------------------------
create 'auth0|restart'
expect_status 201 "a session for the load"
T=$TOKEN
WRK_OUT=$VAR/wrk.txt
# load_start: wrk (1 thread, 32 connections, as in the issue) for at most 120 s; returns once it is under way.
load_start() {
	WRK_OUT=$VAR/wrk.$1.txt
	wrk -t1 -c32 -d120s --timeout 10s -H "Authorization: Session $T" "$BASE/api/sessions/current/" >"$WRK_OUT" 2>&1 &
	LOAD_PID=$!
	local m
	m=$(lines "$ACCESS")
	wait_until 30 eval '[ "$(lines "$ACCESS")" -ge $((m + 2000)) ]'
}
# load_stop: ends wrk (SIGINT: it prints its figures); fails when wrk had stopped by itself (no verdict).
load_stop() {
	if kill -0 "$LOAD_PID" 2>/dev/null; then
		kill -INT "$LOAD_PID"
		wait "$LOAD_PID"
	else
		fail "wrk ended before the check did: $(cat "$WRK_OUT")"
	fi
	LOAD_PID=""
}
# judge FROM TO WHAT: statuses of access-log lines FROM+1..TO.
judge() {
	local st bad total
	st=$(sed -n "$(($1 + 1)),$2p" "$ACCESS" | awk '{print $9}' | sort | uniq -c | awk '{printf "%s:%s ", $2, $1}')
	total=$(($2 - $1))
	bad=$(sed -n "$(($1 + 1)),$2p" "$ACCESS" | awk '$9 !~ /^2/' | wc -l)
	[ "$total" -gt 2000 ] && [ "$bad" -eq 0 ] && pass "$3: $total requests through nginx, 0 other than 2xx ($st)" ||
		fail "$3: $bad of $total not 2xx ($st)"
}
wrk_figures() { echo "note: $1: wrk $(grep -E 'requests in' "$WRK_OUT" | sed 's/^ *//'), latency max $(awk '/Latency/ {print $4}' "$WRK_OUT"), non-2xx seen by wrk: $(sed -n 's/.*Non-2xx or 3xx responses: //p' "$WRK_OUT" | grep . || echo 0)"; }

: >"$VAR/log/nginx-error.log"
load_start restart || fail "load did not start"
from=$(lines "$ACCESS")
n=$(ready_count)
t0=$(date +%s.%N)
kill -HUP "$HOLDER"
wait_until 30 eval '[ "$(ready_count)" -gt "$n" ]' || fail "no READY=1 after the restart"
echo "note: restart under load: READY=1 from the new master $(echo "$(date +%s.%N) - $t0" | bc) s after the restart began"
m=$(lines "$ACCESS")
wait_until 30 eval '[ "$(lines "$ACCESS")" -ge $((m + 2000)) ]' || fail "the new master served too little"
to=$(lines "$ACCESS")
load_stop
judge "$from" "$to" "restart (SIGTERM, exit, start) under load"
wrk_figures "restart"
second=$(grep ' start pid=' "$EV" | tail -1 | sed 's/.*pid=//')
[ "$second" != "$first" ] && grep -q " exit pid=$first status=0" "$EV" && pass "the old master exited (0) and a new one ($second) serves" || fail "restart events: $(cat "$EV")"
line=$(grep ' ready pid=' "$EV" | tail -1)
[[ "$line" == *" ready pid=$second sender=$second workers_ready=4 health=200" ]] && pass "the new master's READY=1 came once its 4 workers accepted" || fail "ready: $line"
[ "$(stat -c %i "$SOCK")" = "$inode" ] && pass "the socket is the one the holder made (never unlinked or replaced)" || fail "socket inode changed"
! grep -q 'connect() to unix' "$VAR/log/nginx-error.log" && pass "nginx never failed to connect" || fail "nginx: $(grep -m3 'connect() to unix' "$VAR/log/nginx-error.log")"
# Told to stop under steady load, each old worker finishes its request and exits:
# none is still serving when shutdown_grace (10 s) runs out and gets killed.
! grep -q 'event=worker_killed .*reason=grace_expired' "$LOG" &&
	pass "the old workers stopped on SIGTERM under load (none killed at shutdown_grace)" ||
	fail "old workers served on until shutdown_grace killed them: $(grep -c 'reason=grace_expired' "$LOG") killed"

# --- PostgreSQL stopped: READY=1 all the same, and /health/ answers 503 ----------------------------------
pg_ctl_as -m fast -w stop >/dev/null
n=$(ready_count)
kill -HUP "$HOLDER"
wait_until 30 eval '[ "$(ready_count)" -gt "$n" ]' || fail "no READY=1 with PostgreSQL stopped"
line=$(grep ' ready pid=' "$EV" | tail -1)
[[ "$line" == *" workers_ready=4 health=503" ]] && pass "with PostgreSQL stopped: READY=1 once the workers accept, /health/ 503" || fail "ready without PostgreSQL: $line"
pg_ctl_as -l "$VAR/log/postgresql.log" -w start >/dev/null
wait_health "$BASE" || fail "not healthy after PostgreSQL came back"

kill -TERM "$HOLDER"
wait "$HOLDER"
HOLDER=""
[ -S "$SOCK" ] && [ "$(stat -c %i "$SOCK")" = "$inode" ] && pass "the socket outlives the service's stop (sessiond did not create it, so never removes it)" || fail "socket gone after the stop"

# --- SIGUSR2 re-exec, no systemd ------------------------------------------------------------------------
mkdir -p "$VAR/bin"
cp "$BUILD/sessiond" "$VAR/bin/sessiond"
PIDF=$VAR/run/master.pid
SESSIOND_PID_FILE=$PIDF "$VAR/bin/sessiond" --config "$CONF" </dev/null >>"$LOG" 2>&1 &
MASTER=$!
wait_until 30 eval '[ "$(grep -c "pid=$MASTER event=master_ready" "$LOG")" = 1 ]' || fail "sessiond did not get ready: $(tail -5 "$LOG")"
[ "$(cat "$PIDF")" = "$MASTER" ] && pass "re-exec: the first master ($MASTER) took the stale socket and holds the pid file" || fail "pid file: $(cat "$PIDF")"
inode=$(stat -c %i "$SOCK")
old=$MASTER
load_start reexec || fail "load did not start"
from=$(lines "$ACCESS")
# The upgrade as a package manager does it: the new file renamed over the old one.
cp "$BUILD/sessiond" "$VAR/bin/sessiond.new" && mv -f "$VAR/bin/sessiond.new" "$VAR/bin/sessiond"
newino=$(stat -c %i "$VAR/bin/sessiond")
t0=$(date +%s.%N)
kill -USR2 "$old"
wait_until 30 eval '[ "$(cat "$PIDF")" != "$old" ]' || fail "the pid file never named a new master"
new=$(cat "$PIDF")
echo "note: re-exec under load: pid file names the new master $(echo "$(date +%s.%N) - $t0" | bc) s after SIGUSR2"
wait_until 30 eval '! kill -0 "$old" 2>/dev/null' || fail "the old master did not exit after the handover"
m=$(lines "$ACCESS")
wait_until 30 eval '[ "$(lines "$ACCESS")" -ge $((m + 2000)) ]' || fail "the new master served too little"
to=$(lines "$ACCESS")
load_stop
judge "$from" "$to" "SIGUSR2 re-exec under load"
wrk_figures "re-exec"
MASTER=$new
grep -q "pid=$new event=master_ready" "$LOG" && grep -q "pid=$old event=reexec_ready new_master_pid=$new" "$LOG" &&
	grep -q "pid=$old event=master_exit handed_over=1" "$LOG" &&
	pass "the old master drained and exited only after the new one was ready" || fail "handover lines: $(grep -E "event=(reexec|master_)" "$LOG" | tail -8)"
[ "$(stat -L -c %i "/proc/$new/exe")" = "$newino" ] && pass "the new master runs the replaced binary" || fail "new master's binary: $(readlink "/proc/$new/exe")"
[ "$(stat -c %i "$SOCK")" = "$inode" ] && pass "the old master left the socket alone" || fail "socket replaced or removed by the old master"
out=$(SESSIOND_PID_FILE=$PIDF SESSIOND_LISTEN=$VAR/run/other.sock "$BUILD/sessiond" --config "$CONF" </dev/null 2>&1)
[[ "$out" == *"another sessiond (pid $new) is running with pid_file $PIDF"* ]] && pass "the pid file's lock passed to the new master" || fail "second start: $out"

# A re-exec whose configuration check fails: the running master keeps serving and says why.
cp "$CONF" "$VAR/conf.good"
echo "workers = banana" >>"$CONF"
kill -USR2 "$new"
wait_until 30 grep -q "pid=$new event=reexec_failed" "$LOG" || fail "no reexec_failed line"
grep -q "^sessiond: .*workers" "$LOG" && pass "the log says why the new binary refused to start: $(grep '^sessiond: .*workers' "$LOG" | tail -1)" || fail "no reason in the log"
grep "pid=$new event=reexec_failed" "$LOG" | grep -q "exit=1 .*keeps serving" && pass "the old master logs the failed re-exec (exit=1) and keeps serving" || fail "reexec_failed: $(grep reexec_failed "$LOG")"
cp "$VAR/conf.good" "$CONF"
kill -0 "$new" && [ "$(cat "$PIDF")" = "$new" ] && pass "the master and its pid file are unchanged" || fail "master $new gone or pid file $(cat "$PIDF")"
req GET /api/sessions/health/
expect_status 200 "still serving after the failed re-exec"
as "$T" GET /api/sessions/current/
expect_status 200 "sessions still answer"

# Without systemd the line of masters still removes the socket it created, at the last stop.
kill -TERM "$new"
wait_until 30 eval '! kill -0 "$new" 2>/dev/null' || fail "the master did not stop"
MASTER=""
[ ! -e "$SOCK" ] && [ ! -e "$PIDF" ] && pass "the last master removed the socket its line created, and the pid file" || fail "left: $(ls "$VAR/run")"
