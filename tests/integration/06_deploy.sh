#!/usr/bin/env bash
# Deployment: every shipped file in conf/ and spawn-fcgi.conf works as shipped.
# Each deployment runs the real web server on loopback, started from the
# shipped files with only paths, ports and account names substituted (sed):
#   (a) nginx + sessiond's own prefork, started by conf/systemd/sessiond.service's command
#   (b) nginx + spawn-fcgi launched from spawn-fcgi.conf (and the unit's command)
#   (c) Apache 2.4 + mod_fcgid with conf/apache/sessiond.conf
#   (d) the nginx auth_request example
#   (e) make install DESTDIR=..., the man pages, the systemd units, the cron entry
# The same smoke runs through each: health, 404, 405, metrics only from local
# addresses, and — once the session routes exist — create → current → logout → 401.
. "$(dirname "$0")/../lib.sh"
stack_up

ROOT=0
[ "$(id -u)" -eq 0 ] && ROOT=1
APACHE_DIR=$VAR/apache
NGINX2_DIR=$VAR/nginx2

deploy_down() {
	if [ -f "$APACHE_DIR/httpd.pid" ]; then
		local apid
		apid=$(cat "$APACHE_DIR/httpd.pid")
		apache2 -f "$APACHE_DIR/httpd.conf" -k stop 2>/dev/null
		for _ in $(seq 1 100); do kill -0 "$apid" 2>/dev/null || break; sleep 0.1; done
	fi
	if [ -f "$NGINX2_DIR/nginx.pid" ]; then
		nginx -p "$NGINX2_DIR" -c "$NGINX2_DIR/nginx.conf" -s stop 2>/dev/null
	fi
	[ -d "$APACHE_DIR/logs" ] && mkdir -p "$VAR/log" && cp "$APACHE_DIR"/logs/*.log "$VAR/log/" 2>/dev/null
	stack_down
}
trap deploy_down EXIT

# The session smoke runs once create exists (it is built in another branch).
# Asked once (the binary is the same everywhere): each probe is a failed authentication.

# smoke_sessions label: create with a signed JWT → current → logout → 401.
smoke_sessions() {
	local label=$1 jwt token
	jwt=$(mint_jwt "$(std_claims 'auth0|deploy')")
	req POST /api/sessions/create/ -H "Authorization: Bearer $jwt" -H 'Content-Type: application/json' --data '{}'
	expect_status 201 "$label: create with a signed JWT"
	token=$(jq_body '.session_token')
	[ -n "$token" ] && [ "$token" != null ] && pass "$label: create returns a session_token" || fail "$label: no session_token"
	req GET /api/sessions/current/ -H "Authorization: Session $token"
	expect_status 200 "$label: current"
	expect_json '.user.id' 'auth0|deploy' "$label: current is the JWT's user"
	req DELETE /api/sessions/current/ -H "Authorization: Session $token"
	expect_status 200 "$label: logout"
	req GET /api/sessions/current/ -H "Authorization: Session $token"
	expect_status 401 "$label: current after logout"
}

# smoke label: what every deployment must serve.
smoke() {
	local label=$1
	req GET /api/sessions/health/
	expect_status 200 "$label: health"
	expect_json '.status + "/" + .store' "ok/ok" "$label: health body"
	expect_header Cache-Control '^no-store$' "$label: Cache-Control reaches the client"
	req GET '/api/sessions/health/?probe=1'
	expect_status 200 "$label: health with a query string (REQUEST_URI routed, query ignored)"
	req GET /api/sessions/no-such-route/
	expect_error 404 not_found "$label: unknown route"
	req DELETE /api/sessions/health/
	expect_error 405 method_not_allowed "$label: wrong method"
	expect_header Allow '^GET$' "$label: 405 names the allowed methods"
	# Metrics: local scrapers only. Any 127/8 address is loopback; 127.0.0.2 stands for a remote client.
	local s
	s=$(curl -s -o /dev/null -w '%{http_code}' --interface 127.0.0.2 "$BASE/api/sessions/metrics/")
	[ "$s" = 403 ] && pass "$label: metrics refused to a non-local address" || fail "$label: metrics from 127.0.0.2: $s, want 403"
	# Other spellings of the path (a redirect followed) reach no metrics either: sessiond serves only the restricted one.
	local p out
	for p in /api/sessions/metrics /api/sessions/metrics// /api/sessions/metrics/?x=1 /api/sessions//metrics/; do
		out=$(curl -s -L --max-redirs 3 -w '\n%{http_code}' --interface 127.0.0.2 "$BASE$p")
		s=${out##*$'\n'}
		if { [ "$s" = 403 ] || [ "$s" = 404 ]; } && ! grep -q 'sessiond_' <<<"$out"; then
			pass "$label: $p from 127.0.0.2 is $s, no metrics"
		else
			fail "$label: $p from 127.0.0.2: status $s$(grep -q sessiond_ <<<"$out" && echo ', metrics served')"
		fi
	done
	s=$(curl -s -o /dev/null -w '%{http_code}' --interface 127.0.0.2 "$BASE/api/sessions/health/")
	[ "$s" = 200 ] && pass "$label: other routes served to non-local addresses" || fail "$label: health from 127.0.0.2: $s"
	req GET /api/sessions/metrics/
	if [ "$STATUS" = 403 ]; then fail "$label: metrics refused to 127.0.0.1"; else pass "$label: metrics reach sessiond from 127.0.0.1 (status $STATUS)"; fi
	smoke_sessions "$label"
}

stop_and_wait() { # pid desc
	kill -TERM "$1" 2>/dev/null
	for _ in $(seq 1 100); do kill -0 "$1" 2>/dev/null || break; sleep 0.05; done
	if kill -0 "$1" 2>/dev/null; then fail "$2: still running after SIGTERM"; kill -KILL "$1"; else pass "$2: stops on SIGTERM"; fi
}

# unit_exec FILE KEY: the command of KEY= (ExecStart, ExecStartPre) with the
# installed paths replaced by this tree's, as words in UNIT_ARGV.
unit_exec() {
	local line
	line=$(sed -n "s/^$2=//p" "$1" | head -1 |
		sed -e "s|/usr/local/sbin/sessiond|$BUILD/sessiond|g" -e "s|/etc/sessiond/sessiond.conf|$CONF|g")
	# systemd expands ${VAR} as one word and $VAR split on whitespace; so does this for our values.
	eval "UNIT_ARGV=($line)"
}

SOCK=$VAR/run/sessiond.sock

# Programs run as other accounts (spawn-fcgi's FCGI_USER, Apache's) must be
# reachable by them: not so in a checkout under /root. Copy them out then.
RBIN=$BUILD
if [ "$ROOT" = 1 ] && ! runuser -u nobody -- test -x "$BUILD/sessiond" 2>/dev/null; then
	RBIN=$VAR/bin
	mkdir -p "$RBIN/tests/tools"
	cp "$BUILD/sessiond" "$RBIN/"
	cp "$BUILD/tests/tools/fcgi_echo" "$RBIN/tests/tools/"
	chmod -R a+rX "$RBIN"
fi

# ---- (a) nginx + standalone prefork, from conf/systemd/sessiond.service ------------------
stop_and_wait "$(cat "$VAR/run/sessiond.pid")" "stack's sessiond"
unit_exec "$TOP/conf/systemd/sessiond.service" ExecStartPre
"${UNIT_ARGV[@]}" >/dev/null 2>"$VAR/pre.err" && pass "(a) the unit's ExecStartPre (--check-config) passes" || fail "(a) ExecStartPre: $(cat "$VAR/pre.err")"
unit_exec "$TOP/conf/systemd/sessiond.service" ExecStart
"${UNIT_ARGV[@]}" </dev/null >>"$VAR/log/sessiond.log" 2>&1 &
echo $! >"$VAR/run/sessiond.pid"
wait_health "$BASE" && pass "(a) sessiond from the unit's ExecStart serves through the shipped nginx site" || fail "(a) not healthy"
[ "$(stat -c %a "$SOCK")" = 666 ] && pass "(a) socket mode from listen_mode" || fail "(a) socket mode $(stat -c %a "$SOCK")"
smoke "(a) nginx+prefork"
pid=$(cat "$VAR/run/sessiond.pid")
stop_and_wait "$pid" "(a) sessiond master"
[ ! -e "$SOCK" ] && pass "(a) socket removed at exit" || fail "(a) socket left behind"

# ---- (b) nginx + spawn-fcgi, from spawn-fcgi.conf --------------------------------------------
sf=$VAR/spawn-fcgi.conf
sed -e "s|^FCGI_SOCKET=.*|FCGI_SOCKET=$SOCK|" \
    -e "s|/usr/local/sbin/sessiond|$RBIN/sessiond|" \
    -e "s|/etc/sessiond/sessiond.conf|$CONF|" \
    -e "s|^FCGI_USER=.*|FCGI_USER=nobody|" -e "s|^FCGI_GROUP=.*|FCGI_GROUP=nogroup|" \
    "$TOP/spawn-fcgi.conf" >"$sf"
diff <(grep -v '^#' "$TOP/spawn-fcgi.conf" | sed 's/=.*//') <(grep -v '^#' "$sf" | sed 's/=.*//') >/dev/null &&
	pass "(b) spawn-fcgi.conf: only values substituted" || fail "(b) substitution changed keys"
bad=$(grep -Ev '^(#.*|[A-Z_][A-Z0-9_]*=[^"'"'"' ]*|)$' "$TOP/spawn-fcgi.conf")
[ -z "$bad" ] && pass "(b) spawn-fcgi.conf is plain KEY=value lines (shell and systemd EnvironmentFile)" || fail "(b) lines systemd or sh may misread: $bad"
children=$(sed -n 's/^FCGI_CHILDREN=//p' "$sf")
"$TOP/scripts/spawn-fcgi-start" "$sf" </dev/null >>"$VAR/log/sessiond.log" 2>&1 &
echo $! >"$VAR/run/sessiond.pid"   # spawn-fcgi -n execs sessiond: this is the master's pid
wait_health "$BASE" && pass "(b) sessiond under spawn-fcgi serves through the shipped nginx site" || fail "(b) not healthy"
pid=$(cat "$VAR/run/sessiond.pid")
[ "$(ps -o comm= -p "$pid")" = sessiond ] && pass "(b) spawn-fcgi execs sessiond in the foreground (pid kept)" || fail "(b) pid $pid is $(ps -o comm= -p "$pid")"
n=$(worker_pids | wc -l)   # the master's workers, not its cache listener
[ "$n" = "$children" ] && pass "(b) sessiond preforks FCGI_CHILDREN=$children workers on the inherited socket" || fail "(b) $n workers, want $children"
grep -q "event=start version=.* listen=fd0 workers=$children" "$VAR/log/sessiond.log" && pass "(b) sessiond adopted the socket on fd 0" || fail "(b) no listen=fd0 start line"
if [ "$ROOT" = 1 ]; then
	[ "$(ps -o user= -p "$pid")" = nobody ] && pass "(b) runs as FCGI_USER" || fail "(b) runs as $(ps -o user= -p "$pid")"
	[ "$(stat -c '%U:%G %a' "$SOCK")" = "www-data:www-data 660" ] && pass "(b) socket owner and mode from spawn-fcgi.conf" || fail "(b) socket $(stat -c '%U:%G %a' "$SOCK")"
fi
smoke "(b) nginx+spawn-fcgi"
stop_and_wait "$pid" "(b) sessiond under spawn-fcgi"
[ -z "$(pgrep -P "$pid")" ] && pass "(b) no worker left behind" || fail "(b) workers left"
# The systemd unit runs the same command from the same file used as its EnvironmentFile.
unit=$(
	set -a
	. "$sf"
	set +a
	unit_exec "$TOP/conf/systemd/sessiond-spawn-fcgi.service" ExecStart
	echo "${UNIT_ARGV[*]}"
)
launcher=$("$TOP/scripts/spawn-fcgi-start" --dry-run "$sf")
if [ "$ROOT" = 1 ]; then
	[ "${unit#/usr/bin/}" = "$launcher" ] && pass "(b) sessiond-spawn-fcgi.service runs the launcher's command" || fail "(b) unit: '$unit' launcher: '$launcher'"
fi

# ---- (c) Apache 2.4 + mod_fcgid with conf/apache/sessiond.conf ------------------------------
APORT=$(free_port)
A=$APACHE_DIR
apache_conf "$A"
apache_start() {
	apache2 -f "$A/httpd.conf" -k start 2>>"$A/logs/start.log" || return 1
	wait_health "http://127.0.0.1:$APORT"
}
apache_stop() { # waits for the parent to exit (it removes its pid file before it closes the port)
	local pid
	pid=$(cat "$A/httpd.pid" 2>/dev/null) || return 0
	apache2 -f "$A/httpd.conf" -k stop 2>/dev/null
	for _ in $(seq 1 200); do kill -0 "$pid" 2>/dev/null || break; sleep 0.05; done
}
apache_site "$A" "$RBIN/sessiond" "$CONF" "$APORT"
out=$(apache2 -f "$A/httpd.conf" -t 2>&1) && pass "(c) apache2 -t accepts the site" || fail "(c) apache2 -t: $out"
NGINX_BASE=$BASE
BASE="http://127.0.0.1:$APORT"
if apache_start; then pass "(c) Apache + mod_fcgid serves sessiond"; else fail "(c) Apache did not start: $(tail -3 "$A/logs/error.log" "$A/logs/start.log")"; fi
smoke "(c) apache+mod_fcgid"
grep -q 'event=start version=.* listen=fd0 workers=1' "$A/logs/error.log" && pass "(c) sessiond runs one worker on mod_fcgid's fd 0" || fail "(c) no 'listen=fd0 workers=1' start line"
grep -q 'event=request method=GET route=health status=200' "$A/logs/error.log" && pass "(c) sessiond's stderr goes to Apache's error log" || fail "(c) no request lines in Apache's error log"
ppid=$(pgrep -f "^$RBIN/sessiond\$" | head -1)
[ -n "$ppid" ] && [ -z "$(pgrep -P "$ppid")" ] && pass "(c) sessiond does not fork under mod_fcgid" || fail "(c) sessiond process tree: $ppid"
[ "$ROOT" = 1 ] && { [ "$(ps -o user= -p "$ppid")" = www-data ] && pass "(c) runs as Apache's user" || fail "(c) runs as $(ps -o user= -p "$ppid")"; }
# Several mod_fcgid processes share one set of counters (the site's shm_file):
# the metrics count every request whichever process served it, and the
# brute-force guard counts every failure. Requests that wait (session_cache
# locked for a moment) keep processes busy, so mod_fcgid starts more and the
# failures below are spread over several processes.
metric() { curl -s "$BASE/api/sessions/metrics/" | awk -v k="$1" '$1 == k { print $2 }'; }
if [ "$ROOT" = 1 ]; then as_pg=(runuser -u postgres --); else as_pg=(); fi
k='sessiond_requests_total{route="current_get",status="401"}'
before=$(metric "$k")
limit=$(sed -n 's/^auth_fail_limit = //p' <("$BUILD/sessiond" --config "$CONF" --check-config 2>/dev/null))
bogus=$(printf 'A%.0s' $(seq 1 43))   # well-formed, unknown: looked up in PostgreSQL
# The lock is held until two sessiond processes are seen waiting on it (not for a fixed time).
"${as_pg[@]}" env PGAPPNAME=itest-locker psql -h "$PGSOCK" -U sessiond -d sessiond -qtAX -c "BEGIN" \
	-c "LOCK TABLE session_cache IN ACCESS EXCLUSIVE MODE" -c "SELECT pg_sleep(600)" >/dev/null 2>&1 &
lockpid=$!
pg_count() { "${as_pg[@]}" psql -h "$PGSOCK" -U sessiond -d sessiond -qtAX -c "SELECT count(*) FROM pg_stat_activity WHERE $1"; }
locker_holds() { [ "$(pg_count "application_name = 'itest-locker' AND query LIKE '%pg_sleep%' AND state = 'active'")" -ge 1 ]; }
two_wait() { [ "$(pg_count "application_name = 'sessiond' AND wait_event_type = 'Lock'")" -ge 2 ]; }
wait_until 60 locker_holds || fail "(c) the lock on session_cache was not taken"
seq 1 $((limit + 5)) | xargs -P 8 -I{} curl -s -o /dev/null -m 120 -w '%{http_code}\n' --interface 127.0.0.3 \
	-H "Authorization: Session $bogus" "$BASE/api/sessions/current/" >"$VAR/guard-codes.txt" &
reqs=$!
wait_until 60 two_wait || fail "(c) fewer than 2 sessiond processes waited on the lock within 60 s"
"${as_pg[@]}" psql -h "$PGSOCK" -U sessiond -d sessiond -qtAX -c "SELECT pg_cancel_backend(pid) FROM pg_stat_activity WHERE application_name = 'itest-locker'" >/dev/null
wait "$reqs"
codes=$(sort "$VAR/guard-codes.txt" | uniq -c | awk '{ printf "%s:%s ", $2, $1 }')
wait "$lockpid"
after=$(metric "$k")
nproc_fcgid=$(pgrep -f "^$RBIN/sessiond\$" | wc -l)
served_by=$(grep 'event=auth_failed .*addr=127.0.0.3' "$A/logs/error.log" | sed -n 's/.* pid=\([0-9]*\) .*/\1/p' | sort -u | wc -l)
[ "$served_by" -ge 2 ] && pass "(c) the failures were served by $served_by sessiond processes ($nproc_fcgid running)" ||
	fail "(c) the failures were served by $served_by process(es) ($nproc_fcgid running)"
[ "$codes" = "401:$limit 429:5 " ] && pass "(c) the guard counts failures across processes: $codes" ||
	fail "(c) guard across processes: $codes (want 401:$limit 429:5)"
[ -n "$before" ] && [ $((after - before)) = "$limit" ] &&
	pass "(c) metrics count the $limit 401s of every process" || fail "(c) metrics across processes: $before -> $after (want +$limit)"
# Only the refused metrics request from 127.0.0.2 may log a denial (no PATH_INFO lookups).
! grep -h 'AH01630' "$A/logs/"*.log | grep -vq 'client 127.0.0.2:' && pass "(c) no access-denied noise in Apache's logs" || fail "(c) AH01630 in logs: $(grep -h AH01630 "$A/logs/"*.log | head -1)"
apache_stop
[ -z "$(pgrep -f "^$RBIN/sessiond\$")" ] && pass "(c) Apache's stop ends the sessiond processes" || fail "(c) sessiond left after Apache stop"
# What reaches the application: the same site, the echo responder in place of sessiond.
apache_site "$A" "$RBIN/tests/tools/fcgi_echo" "$CONF" "$APORT"
apache_start
req POST '/api/sessions/create/?a=b' -H 'Authorization: Bearer hdr.pay.sig' -H 'Content-Type: application/json' --data '{}'
expect_json '.HTTP_AUTHORIZATION' 'Bearer hdr.pay.sig' "(c) Authorization reaches the app (CGIPassAuth On)"
expect_json '.REQUEST_URI' '/api/sessions/create/?a=b' "(c) REQUEST_URI reaches the app intact"
expect_json '.PATH_INFO' 'null' "(c) no PATH_INFO for Apache to resolve"
expect_json '.SESSIOND_CONFIG + "|" + .SESSIOND_LISTEN + "|" + .SESSIOND_WORKERS' "$CONF||1" "(c) FcgidInitialEnv: config path, listen empty, workers 1"
req GET /api/sessions/current/ -H 'Authorization: Session abc'
expect_json '.HTTP_AUTHORIZATION' 'Session abc' "(c) Authorization: Session reaches the app"
apache_stop
# Control: without CGIPassAuth, Apache drops the header (why the site sets it).
sed -i 's/CGIPassAuth On/CGIPassAuth Off/' "$A/site.conf"
apache_start
req GET /api/sessions/current/ -H 'Authorization: Session abc'
expect_json '.HTTP_AUTHORIZATION' 'null' "(c) control: with CGIPassAuth Off the header is dropped"
apache_stop
BASE=$NGINX_BASE

# ---- (d) the nginx auth_request example ------------------------------------------------------
# sessiond again (prefork, the stack's way), and a second nginx with the site + the example.
"$BUILD/sessiond" --config "$CONF" </dev/null >>"$VAR/log/sessiond.log" 2>&1 &
echo $! >"$VAR/run/sessiond.pid"
wait_health "$BASE" || fail "(d) sessiond restart"
N=$NGINX2_DIR
mkdir -p "$N"
SITE_PORT=$(free_port)
APP_PORT=$(free_port)
BACK_PORT=$(free_port)
cp /etc/nginx/fastcgi_params "$N/"
sed -e "s|unix:/run/sessiond/sessiond.sock|unix:$SOCK|" -e "s|listen 127.0.0.1:8080;|listen 127.0.0.1:$SITE_PORT;|" \
	"$TOP/conf/nginx/sessiond.conf" >"$N/site.conf"
sed -e "s|listen 127.0.0.1:8081;|listen 127.0.0.1:$APP_PORT;|" -e "s|http://127.0.0.1:3000|http://127.0.0.1:$BACK_PORT|" \
	"$TOP/conf/nginx/auth-request-example.conf" >"$N/app.conf"
nginx_conf "$N" "$N/error.log" 64 <<CONF
    access_log off;
    include $N/site.conf;
    include $N/app.conf;
    # The protected application: echoes the identity headers it was given.
    server {
        listen 127.0.0.1:$BACK_PORT;
        location / { return 200 "app user=\$http_x_session_user tenant=\$http_x_session_tenant id=\$http_x_session_id\n"; }
    }
CONF
out=$(nginx -t -p "$N" -c "$N/nginx.conf" 2>&1) && pass "(d) nginx accepts the site with the auth_request example" || fail "(d) nginx -t: $out"
nginx -p "$N" -c "$N/nginx.conf" 2>"$N/start.err" || fail "(d) nginx start: $(cat "$N/start.err")"
app_listens() { (exec 3<>"/dev/tcp/127.0.0.1/$APP_PORT") 2>/dev/null; }
wait_until 30 app_listens || fail "(d) nginx does not listen on $APP_PORT after 30 s"
s=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$APP_PORT/app/")
[ "$s" != 200 ] && [ "$s" != 000 ] && pass "(d) /app/ is not served without a session (status $s)" || fail "(d) /app/ without a session: $s"
s=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$APP_PORT/api/sessions/auth/")
[ "$s" = 404 ] && pass "(d) the auth subrequest location is internal" || fail "(d) /api/sessions/auth/ on the app site: $s"
{
	s=$(curl -s -o /dev/null -w '%{http_code}' -H 'X-Session-User: forged' "http://127.0.0.1:$APP_PORT/app/")
	[ "$s" = 401 ] && pass "(d) /app/ without a session is 401" || fail "(d) /app/ without a session: $s, want 401"
	jwt=$(mint_jwt "$(std_claims 'auth0|deploy')")
	req POST /api/sessions/create/ -H "Authorization: Bearer $jwt" -H 'Content-Type: application/json' --data '{}'
	token=$(jq_body '.session_token')
	body=$(curl -s -X POST -H "Authorization: Session $token" -H 'X-Session-User: forged' --data 'x=1' "http://127.0.0.1:$APP_PORT/app/page")
	[[ "$body" == "app user=auth0|deploy "* ]] && pass "(d) the app gets X-Session-User from sessiond (POST too)" || fail "(d) app saw: $body"
	[[ "$body" =~ id=[0-9a-f-]{36} ]] && pass "(d) the app gets X-Session-Id" || fail "(d) app saw: $body"
}
nginx -p "$N" -c "$N/nginx.conf" -s stop 2>/dev/null

# ---- (e) make install, man pages, units, cron ------------------------------------------------
inst=$VAR/install
# A build of its own, as a user's `make install` makes it: the suite's build has the test fault hooks.
make -C "$TOP" --no-print-directory -j2 install DESTDIR="$inst" PREFIX=/usr/local BUILD="$VAR/build-install" >"$VAR/install.log" 2>&1 &&
	pass "(e) make install DESTDIR= PREFIX=/usr/local" || fail "(e) make install: $(tail -5 "$VAR/install.log")"
# Test-only fault hooks (SESSIOND_FAULT_HOOKS) are in make test's build, never in what make install installs.
grep -qa 'SESSIOND_TEST_DROP_AFTER' "$BUILD/sessiond" && grep -qa 'SESSIOND_TEST_LCACHE_FAULT_DIR' "$BUILD/sessiond" &&
	! grep -qa 'SESSIOND_TEST_' "$inst/usr/local/sbin/sessiond" &&
	pass "(e) the installed sessiond has no test fault hook (the test build has both)" ||
	fail "(e) fault hooks: test build $(grep -ac 'SESSIOND_TEST_' "$BUILD/sessiond"), installed $(grep -ac 'SESSIOND_TEST_' "$inst/usr/local/sbin/sessiond")"
rm -rf "$VAR/build-install"
# make run/start install only what building and running need; make test everything.
runset=$("$TOP/scripts/setup-deps" --list --run)
fullset=$("$TOP/scripts/setup-deps" --list)
heavy=""
for p in clang valgrind prometheus apache2 libapache2-mod-fcgid wrk spawn-fcgi pgbouncer jq; do
	grep -qx "$p" <<<"$runset" && heavy="$heavy $p"
	grep -qx "$p" <<<"$fullset" || heavy="$heavy (not in the full set: $p)"
done
[ -z "$heavy" ] && [ -z "$(comm -23 <(sort <<<"$runset") <(sort <<<"$fullset"))" ] &&
	pass "(e) setup-deps --run lists only build and run packages, a subset of the full set" || fail "(e) setup-deps sets:$heavy"
for t in run start; do
	dry=$(make -C "$TOP" --no-print-directory -n "$t" 2>/dev/null)
	grep -q 'scripts/setup-deps --run$' <<<"$dry" && ! grep -q 'scripts/setup-deps$' <<<"$dry" &&
		pass "(e) make $t installs the run set only" || fail "(e) make $t does not use setup-deps --run"
done
# The user's CFLAGS replace only the optimisation flags, never what the build needs (-Iinclude, -W...).
ob=$VAR/objs
make -C "$TOP" --no-print-directory BUILD="$ob" CFLAGS=-O0 "$ob/app/token.o" >"$VAR/cflags.log" 2>&1 &&
	pass "(e) make CFLAGS=-O0 still builds (required flags kept)" || fail "(e) make CFLAGS=-O0: $(tail -3 "$VAR/cflags.log")"
# main.o carries the default SQL directory: a changed PREFIX rebuilds it.
make -C "$TOP" --no-print-directory BUILD="$ob" "$ob/app/main.o" >/dev/null 2>&1
make -C "$TOP" --no-print-directory BUILD="$ob" PREFIX=/usr "$ob/app/main.o" >"$VAR/prefix.log" 2>&1
# grep -a on the file itself: `strings | grep -q` fails under pipefail when grep exits before strings is done.
grep -qaF 'default /usr/share/sessiond/sql)' "$ob/app/main.o" && ! grep -qaF '/usr/local/share/sessiond/sql' "$ob/app/main.o" &&
	pass "(e) make PREFIX=/usr after make rebuilds the default SQL directory into sessiond" ||
	fail "(e) PREFIX change not rebuilt: $(strings "$ob/app/main.o" | grep share/sessiond/sql)"
make -C "$TOP" --no-print-directory BUILD="$ob" PREFIX=/usr "$ob/app/main.o" 2>&1 | grep -q 'CC' &&
	fail "(e) an unchanged PREFIX rebuilt main.o again" || pass "(e) an unchanged PREFIX rebuilds nothing"
rm -rf "$ob"
P=$inst/usr/local
expected="sbin/sessiond sbin/sessiond-spawn-fcgi sbin/sessionctl
share/man/man8/sessiond.8 share/man/man8/cleanup_sessions.8 share/man/man8/sessionctl.8 share/man/man8/sessiond-spawn-fcgi.8 share/man/man5/sessiond.conf.5
share/doc/sessiond/README.md share/doc/sessiond/examples/spawn-fcgi.conf share/doc/sessiond/schema.sql"
for f in "$TOP"/docs/*.md "$TOP"/docs/*.yaml; do expected="$expected share/doc/sessiond/docs/$(basename "$f")"; done
for f in "$TOP"/sql/[0-9][0-9][0-9]_*.sql; do expected="$expected share/sessiond/sql/$(basename "$f")"; done
for f in $(cd "$TOP/conf" && find . -type f | sed 's|^\./||'); do expected="$expected share/doc/sessiond/examples/$f"; done
[ -x "$BUILD/cleanup_sessions" ] && expected="$expected sbin/cleanup_sessions"
missing=""
for f in $expected; do [ -f "$P/$f" ] || missing="$missing $f"; done
[ -z "$missing" ] && pass "(e) every expected file is installed ($(wc -w <<<"$expected") files)" || fail "(e) not installed:$missing"
extra=$(cd "$inst" && find . -type f | sed 's|^\./usr/local/||' | while read -r f; do grep -qw -- "$f" <<<"$expected" || echo "$f"; done)
[ -z "$extra" ] && pass "(e) nothing unexpected is installed" || fail "(e) unexpected files: $extra"
[ "$(stat -c %a "$P/sbin/sessiond")" = 755 ] && [ "$(stat -c %a "$P/share/doc/sessiond/examples/nginx/sessiond.conf")" = 644 ] &&
	pass "(e) modes: programs 0755, examples 0644" || fail "(e) modes"
[ -z "$(find "$inst" -mindepth 1 -not -path "$inst/usr" -not -path "$inst/usr/local" -not -path "$inst/usr/local/*")" ] && pass "(e) everything under PREFIX" || fail "(e) files outside PREFIX"
for page in "$P"/share/man/man*/*; do
	w=$(man -l --warnings "$page" 2>&1 >/dev/null)
	out=$(man -l "$page" 2>/dev/null | head -3)
	[ -z "$w" ] && [ -n "$out" ] && pass "(e) man -l renders $(basename "$page") without warnings" || fail "(e) $(basename "$page"): ${w:-no output}"
done
scripts_gen=$("$TOP/scripts/gen-conf-man" "$BUILD/sessiond")
[ "$scripts_gen" = "$(cat "$TOP/man/sessiond.conf.5")" ] && pass "(e) man/sessiond.conf.5 is up to date with the key table" ||
	fail "(e) man/sessiond.conf.5 is out of date (run: make man)"
missing=""
for k in $("$BUILD/sessiond" --config-reference | sed -n 's/^| `\([a-z_]*\)`.*/\1/p'); do
	grep -q "^\.B $(sed 's/-/\\\\-/g' <<<"$k")\$" "$TOP/man/sessiond.conf.5" || missing="$missing $k"
done
[ -z "$missing" ] && pass "(e) sessiond.conf(5) documents every key" || fail "(e) keys missing from sessiond.conf(5):$missing"
lacks=""
for opt in --config --check-config --migrate --sql-dir --config-reference --version --help; do
	grep -q -- "$(sed 's/-/\\\\-/g' <<<"$opt")" "$TOP/man/sessiond.8" || lacks="$lacks $opt"
done
[ -z "$lacks" ] && pass "(e) sessiond(8) lists the options" || fail "(e) sessiond(8) lacks:$lacks"
# systemd units: installed copies, with the binaries pointed at the installed tree.
if command -v systemd-analyze >/dev/null; then
	ud=$VAR/units
	mkdir -p "$ud"
	for u in "$P"/share/doc/sessiond/examples/systemd/*; do
		sed -e "s|/usr/local/sbin/|$P/sbin/|g" "$u" >"$ud/$(basename "$u")"
	done
	[ -x "$P/sbin/cleanup_sessions" ] && pass "(e) make install installed cleanup_sessions" || fail "(e) $P/sbin/cleanup_sessions missing"
	for u in "$ud"/*.service "$ud"/*.socket "$ud"/*.timer; do
		out=$(cd "$ud" && systemd-analyze verify --man=no "$u" 2>&1)
		[ -z "$out" ] && pass "(e) systemd-analyze verify $(basename "$u")" || fail "(e) systemd-analyze verify $(basename "$u"): $out"
	done
	grep -q '^TimeoutStopSec=30$' "$TOP/conf/systemd/sessiond.service" && [ "$(sed -n 's/^shutdown_grace = //p' <(env -u SESSIOND_CONF_EXTRA "$BUILD/sessiond" --check-config --config "$TOP/conf/sessiond.conf.example"))" -lt 30 ] &&
		pass "(e) sessiond.service: TimeoutStopSec above shutdown_grace" || fail "(e) TimeoutStopSec vs shutdown_grace"
else
	fail "(e) systemd-analyze not available (scripts/setup-deps installs systemd): units not verified"
fi
# cron.d entry: five time fields, a user, the installed command with the shipped config path.
cron=$TOP/conf/cron/sessiond-cleanup
line=$(grep -Ev '^(#|$|[A-Z]+=)' "$cron")
[ "$(wc -l <<<"$line")" = 1 ] && [[ "$line" =~ ^[0-9*/,-]+\ [0-9*/,-]+\ [0-9*/,-]+\ [0-9*/,-]+\ [0-9*/,-]+\ [a-z_][a-z0-9_-]*\ /usr/local/sbin/cleanup_sessions\ --config\ /etc/sessiond/sessiond.conf ]] &&
	pass "(e) cron.d entry: schedule, user, installed command" || fail "(e) cron entry: $line"
[[ "$(basename "$cron")" =~ ^[A-Za-z0-9_-]+$ ]] && pass "(e) cron.d file name has no dot (run-parts would skip it)" || fail "(e) cron file name"
{
	cmd=$(sed -E 's/^([^ ]+ ){6}//' <<<"$line" | sed -e "s|/usr/local/sbin/cleanup_sessions|$BUILD/cleanup_sessions|" -e "s|/etc/sessiond/sessiond.conf|$CONF|")
	out=$(sh -c "$cmd" 2>&1)
	rc=$?
	[ "$rc" = 0 ] && [ -z "$out" ] && pass "(e) the cron command runs quietly (exit 0)" || fail "(e) cron command: rc=$rc out=$out"
}
