#!/usr/bin/env bash
# make bench: what a restart costs where sessiond's own socket handling is not
# in charge, and the nearest zero-gap procedure of each (docs/deployment.md,
# "Restarts without a gap"). Under wrk -t1 -c32 GET /current/ load:
#   R1 nginx + spawn-fcgi (spawn-fcgi.conf): restarted as sessiond-spawn-fcgi.service
#      restarts it (SIGTERM to the exec'd sessiond, wait for its exit, the unit's
#      RuntimeDirectory gone with the socket, scripts/spawn-fcgi-start again);
#   R2 the same, SIGUSR2 to the running sessiond (re-exec keeping the socket spawn-fcgi made);
#   R3 Apache 2.4 + mod_fcgid (conf/apache/sessiond.conf): apache2 -k graceful;
#   R4 the same, apache2 -k stop, wait for the parent's exit, apache2 -k start.
# Prints one markdown row per case: requests (wrk), non-2xx (the web server's
# access log, GET /current/ lines of the whole run), socket errors (wrk:
# connect/read/write/timeout), the longest latency, and how long from the
# restart's first step until it was over (health answered 200 again; for R2
# the old master exited, for R3 every old sessiond process was gone). The load
# runs until the restart is over and BENCH_SECONDS (default 5) longer. R3's
# row also says how many of the load's connections old-generation Apache
# children still held then, each with a request unanswered.
# Reports numbers only; nothing is asserted. As root (how it was run) the
# servers drop to nobody / www-data, as in 06_deploy.
set -uo pipefail
TOP=$(cd "$(dirname "$0")/../.." && pwd)
SECONDS_AFTER=${BENCH_SECONDS:-5}
. "$TOP/tests/lib.sh"
BUILD=${SESSIOND_BUILD:-$TOP/build}

LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)
stack_up "auth_fail_limit = 0"
ROOT=0
[ "$(id -u)" -eq 0 ] && ROOT=1
SOCK=$VAR/run/sessiond.sock
LOG=$VAR/log/sessiond.log
NGINX_ACCESS=$VAR/log/nginx-access.log
A=$VAR/apache
LOAD_PID=""
die() { echo "restart_gap: $*" >&2; exit 1; }
# apache_stop: -k stop, then waits for the parent to exit (it closes the port last).
apache_stop() {
	local pid
	pid=$(cat "$A/httpd.pid" 2>/dev/null) || return 0
	apache2 -f "$A/httpd.conf" -k stop 2>/dev/null
	wait_until 30 eval '! kill -0 "$pid" 2>/dev/null'
}
teardown() {
	[ -n "$LOAD_PID" ] && kill -INT "$LOAD_PID" 2>/dev/null && wait "$LOAD_PID" 2>/dev/null
	[ -f "$A/httpd.pid" ] && apache_stop
	[ -d "$A/logs" ] && cp "$A"/logs/*.log "$VAR/log/" 2>/dev/null
	stack_down   # stops the sessiond named by $VAR/run/sessiond.pid, nginx, PostgreSQL
}
trap teardown EXIT

# Programs run as other accounts (spawn-fcgi's FCGI_USER, Apache's) must be reachable by them.
RBIN=$BUILD
if [ "$ROOT" = 1 ] && ! runuser -u nobody -- test -x "$BUILD/sessiond" 2>/dev/null; then
	RBIN=$VAR/bin
	mkdir -p "$RBIN"
	cp "$BUILD/sessiond" "$RBIN/"
	chmod -R a+rX "$RBIN"
fi

create 'auth0|restart-gap'
[ -n "$TOKEN" ] && [ "$TOKEN" != null ] || die "create failed: $STATUS $BODY"
# wrk's own figures, read by the script's done(): it runs on SIGINT as at the end of -d.
LUA=$VAR/gap.lua
cat >"$LUA" <<LUA
wrk.headers["Authorization"] = "Session $TOKEN"
done = function(summary, latency, requests)
	local e = summary.errors
	io.write(string.format("GAP requests=%d status=%d connect=%d read=%d write=%d timeout=%d max_us=%d\n",
		summary.requests, e.status, e.connect, e.read, e.write, e.timeout, latency.max))
end
LUA

lines() { wc -l 2>/dev/null <"$1" || echo 0; }
healthy() { [ "$(curl -s -o /dev/null -m 5 -w '%{http_code}' "$1/api/sessions/health/")" = 200 ]; }
# load_start NAME FRONT ACCESS_LOG: wrk on FRONT's GET /current/; returns once the log shows it under way.
load_start() {
	WRK_OUT=$VAR/wrk.$1.txt
	ACCESS=$3
	FROM=$(lines "$ACCESS")
	wrk -t1 -c32 -d600s --timeout 10s -s "$LUA" "$2/api/sessions/current/" >"$WRK_OUT" 2>&1 &
	LOAD_PID=$!
	wait_until 60 eval '[ "$(lines "$ACCESS")" -ge $((FROM + 100)) ]' || die "$1: the load did not start: $(cat "$WRK_OUT")"
	T0=${EPOCHREALTIME/[.,]/}
}
# over: the restart has ended (call when it has); the load runs SECONDS_AFTER more.
over() {
	BACK_MS=$(elapsed_ms "$T0")
	sleep "$SECONDS_AFTER"   # the measurement's duration, as wrk -d
}
ROWS=""
DETAILS=""
# load_stop CASE HOW: stops wrk (SIGINT: it reports) and adds the case's row.
load_stop() {
	local g st bad max_ms sock
	kill -0 "$LOAD_PID" 2>/dev/null || die "$1: wrk ended early: $(cat "$WRK_OUT")"
	kill -INT "$LOAD_PID"
	wait "$LOAD_PID"
	LOAD_PID=""
	g=$(grep '^GAP ' "$WRK_OUT") || die "$1: no figures from wrk: $(cat "$WRK_OUT")"
	v() { sed -n "s/.* $1=\([0-9]*\).*/\1/p" <<<"$g"; }
	# The access log's GET /current/ lines of the run (the health probes are not the load).
	st=$(sed -n "$((FROM + 1)),\$p" "$ACCESS" | awk '$7 ~ /\/current\/$/ { print $9 }' | sort | uniq -c |
		awk '{ printf "%s%s: %s", sep, $2, $1; sep = ", " }')
	# 499 is nginx's "client closed the connection": wrk stopping with requests in flight, not an answer.
	bad=$(sed -n "$((FROM + 1)),\$p" "$ACCESS" | awk '$7 ~ /\/current\/$/ && $9 !~ /^2/ && $9 != 499' | wc -l)
	sock=$(($(v connect) + $(v read) + $(v write) + $(v timeout)))
	max_ms=$(awk -v u="$(v max_us)" 'BEGIN { printf "%.1f", u / 1000 }')
	ROWS+="| $1 | $(v requests) | $bad | $sock | $max_ms | $BACK_MS | $2 |"$'\n'
	DETAILS+="$1: access log statuses {$st}; wrk: non-2xx $(v status), connect $(v connect), read $(v read), write $(v write), timeout $(v timeout)"$'\n'
}

# ---- nginx + spawn-fcgi -----------------------------------------------------------------------
# The stack's own sessiond makes way for the one spawn-fcgi starts on the same socket path.
pid=$(cat "$VAR/run/sessiond.pid")
kill -TERM "$pid"
wait_until 30 eval '! kill -0 "$pid" 2>/dev/null' || die "the stack's sessiond did not stop"
sf=$VAR/spawn-fcgi.conf
sed -e "s|^FCGI_SOCKET=.*|FCGI_SOCKET=$SOCK|" -e "s|/usr/local/sbin/sessiond|$RBIN/sessiond|" \
    -e "s|/etc/sessiond/sessiond.conf|$CONF|" \
    -e "s|^FCGI_USER=.*|FCGI_USER=nobody|" -e "s|^FCGI_GROUP=.*|FCGI_GROUP=nogroup|" \
    "$TOP/spawn-fcgi.conf" >"$sf"
# spawn_start: the unit's command (spawn-fcgi -n execs sessiond: $! is the master).
spawn_start() {
	"$TOP/scripts/spawn-fcgi-start" "$sf" </dev/null >>"$LOG" 2>&1 &
	echo $! >"$VAR/run/sessiond.pid"
}
spawn_start
wait_health "$BASE" || die "sessiond under spawn-fcgi is not healthy: $(tail -5 "$LOG")"

# R1: the unit's restart.
load_start R1 "$BASE" "$NGINX_ACCESS"
pid=$(cat "$VAR/run/sessiond.pid")
kill -TERM "$pid"
wait_until 60 eval '! kill -0 "$pid" 2>/dev/null' || die "R1: sessiond did not exit"
rm -f "$SOCK"   # the unit's RuntimeDirectory= goes when the service stops
spawn_start
wait_until 60 healthy "$BASE" || die "R1: not healthy after the restart: $(tail -5 "$LOG")"
over
load_stop "R1 spawn-fcgi unit restart" "SIGTERM to sessiond, wait for exit, socket removed, spawn-fcgi-start again"

# R2: SIGUSR2; the old master exits once the new one is ready.
load_start R2 "$BASE" "$NGINX_ACCESS"
old=$(cat "$VAR/run/sessiond.pid")
kill -USR2 "$old"
wait_until 60 eval 'grep -q "pid=$old event=\(reexec_ready\|reexec_failed\)" "$LOG"' || die "R2: neither ready nor failed: $(tail -5 "$LOG")"
grep -q "pid=$old event=reexec_failed" "$LOG" && die "R2: the re-exec failed: $(grep -B1 "pid=$old event=reexec_failed" "$LOG")"
new=$(sed -n "s/.*pid=$old event=reexec_ready new_master_pid=\([0-9]*\).*/\1/p" "$LOG")
echo "$new" >"$VAR/run/sessiond.pid"
wait_until 60 eval '! kill -0 "$old" 2>/dev/null' || die "R2: the old master did not exit"
over
load_stop "R2 spawn-fcgi SIGUSR2" "kill -USR2 sessiond: the new binary gets spawn-fcgi's socket, the old master drains"
grep -q "pid=$new event=start .*listen=passed_fd3" "$LOG" || die "R2: the new master did not take the passed socket"

pid=$(cat "$VAR/run/sessiond.pid")
kill -TERM "$pid"
wait_until 60 eval '! kill -0 "$pid" 2>/dev/null' || die "sessiond under spawn-fcgi did not stop"

# ---- Apache 2.4 + mod_fcgid (06_deploy's httpd.conf) -----------------------------------------
APORT=$(free_port)
ABASE="http://127.0.0.1:$APORT"
apache_conf "$A"
apache_site "$A" "$RBIN/sessiond" "$CONF" "$APORT"
APACHE_ACCESS=$A/logs/sessiond-access.log
apache_start() { apache2 -f "$A/httpd.conf" -k start 2>>"$A/logs/start.log" && wait_health "$ABASE"; }
fcgid_pids() { pgrep -f "^$RBIN/sessiond\$" | sort; }
apache_start || die "Apache did not start: $(tail -3 "$A/logs/error.log" "$A/logs/start.log")"

# R4 runs before R3: after a graceful restart under load, old-generation Apache
# children can outlive it (reported below) and would lengthen R4's stop.
# R4: stop, wait for the parent's exit, start.
load_start R4 "$ABASE" "$APACHE_ACCESS"
apache_stop || die "R4: Apache did not stop"
stop_ms=$(elapsed_ms "$T0")
apache_start || die "R4: Apache did not start again: $(tail -3 "$A/logs/error.log" "$A/logs/start.log")"
over
load_stop "R4 mod_fcgid stop + start" "apache2 -k stop, wait for the parent's exit, apache2 -k start (connections refused meanwhile)"
DETAILS+="R4 mod_fcgid stop + start: the stop took $stop_ms ms ($(grep -c 'AH00046' "$A/logs/error.log") Apache children killed with SIGKILL so far), the start until /health/ answered $((BACK_MS - stop_ms)) ms"$'\n'
# R3: graceful; over once every sessiond process mod_fcgid ran before is gone and health answers.
load_start R3 "$ABASE" "$APACHE_ACCESS"
before=$(fcgid_pids)
children=$(pgrep -P "$(cat "$A/httpd.pid")" | sort)
apache2 -f "$A/httpd.conf" -k graceful 2>>"$A/logs/start.log" || die "R3: apache2 -k graceful failed"
gone() { [ -z "$(comm -12 <(echo "$before") <(fcgid_pids))" ]; }
wait_until 60 gone || die "R3: sessiond processes from before the graceful restart still run: $(comm -12 <(echo "$before") <(fcgid_pids) | paste -sd' ')"
wait_until 60 healthy "$ABASE" || die "R3: not healthy after the graceful restart"
over
# Old-generation children still running now, and the load's connections they hold: a child of
# a graceful restart closes a connection once it answered, so each one held has its request unanswered
# (seen: request threads blocked in mod_fcgid's spawn request to the old process manager). wrk does not
# count a request that never completes, so this is the only count of them.
left=$(comm -12 <(echo "$children") <(pgrep -P "$(cat "$A/httpd.pid")" | sort))
held=0
for c in $left; do
	held=$((held + $(ss -tnpH state established "( sport = :$APORT )" | grep -c "pid=$c,")))
done
load_stop "R3 mod_fcgid apache2 -k graceful" "apache2 -k graceful: mod_fcgid stops its sessiond processes and starts new ones on demand; $held of the 32 connections left unanswered in old Apache children"
t=${EPOCHREALTIME/[.,]/}
apache_stop
DETAILS+="R3 mod_fcgid apache2 -k graceful: $(wc -w <<<"$left") of Apache's $(wc -l <<<"$children") children from before it still ran $SECONDS_AFTER s after the restart was over, holding $held of the load's connections with a request unanswered; apache2 -k stop then took $(elapsed_ms "$t") ms"$'\n'

echo "Restart under wrk -t1 -c32 --timeout 10s GET /current/ (one session), load for the restart + ${SECONDS_AFTER} s;"
echo "spawn-fcgi: FCGI_CHILDREN=$(sed -n 's/^FCGI_CHILDREN=//p' "$sf") workers behind nginx; Apache: the shipped mod_fcgid site (2-8 processes)."
echo
echo "| case | requests | non-2xx | socket errors | longest latency (ms) | restart over after (ms) | how |"
echo "|---|---:|---:|---:|---:|---:|---|"
printf '%s' "$ROWS" | sort
echo
printf '%s' "$DETAILS" | sort -s -k1,1
echo "load average (1/5/15 min): $LOAD_START at the start, $(cut -d' ' -f1-3 /proc/loadavg) at the end; $(nproc) CPUs"
