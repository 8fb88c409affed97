# Shared helpers for the integration tests: a throwaway stack (PostgreSQL
# cluster, sessiond, nginx on a free loopback port) that is always torn down,
# HTTP helpers over curl, and PASS/FAIL assertions.
# shellcheck shell=bash
set -uo pipefail

TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=${SESSIOND_BUILD:-$TOP/build}
MINT=$BUILD/tests/tools/jwtmint
TEST_NAME=$(basename "$0" .sh)

pass() { echo "PASS: $*"; }
fail() { echo "FAIL: $*"; }
. "$TOP/tests/secrets.sh"
check() { # desc cmd...
	local d=$1
	shift
	if "$@"; then pass "$d"; else fail "$d"; fi
}

free_port() {
	local p
	for _ in $(seq 1 50); do
		# Below the kernel's ephemeral range (32768+ by default), so a port is not
		# also some client connection's local port when a server binds it.
		p=$((20000 + RANDOM % 12000))
		(exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null || { echo "$p"; return 0; }
	done
	return 1
}

# itest_base: the directory (made if missing) under which tests keep their
# state: build/itest, or /var/tmp/sessiond-itest when run as root from a
# home the stack's postgres and www-data accounts cannot reach (/root).
itest_base() {
	local base=$TOP/build/itest
	mkdir -p "$base"
	if [ "$(id -u)" -eq 0 ] && ! runuser -u nobody -- test -x "$base" 2>/dev/null; then
		base=/var/tmp/sessiond-itest
		mkdir -p "$base"
		chmod 755 "$base"
	fi
	echo "$base"
}

# itest_mkdir NAME: a fresh directory NAME.XXXXXX under itest_base, mode 0755.
itest_mkdir() {
	local d
	d=$(mktemp -d "$(itest_base)/$1.XXXXXX") && chmod 755 "$d" && echo "$d"
}

# service_key_new: a random service key in SERVICE_KEY and a file holding it
# (readable by the stack's accounts) in SERVICE_KEY_FILE, for the
# service_key_file key of stack_up's configuration. stack_down removes the file.
service_key_new() {
	SERVICE_KEY_FILE=$(mktemp "$(itest_base)/service-key.XXXXXX")
	SERVICE_KEY="svc-$(openssl rand -hex 24)"
	printf '%s\n' "$SERVICE_KEY" >"$SERVICE_KEY_FILE"
	chmod 644 "$SERVICE_KEY_FILE"
}

# stack_up [extra sessiond.conf lines]: starts a fresh stack for this test file.
stack_up() {
	VAR=$(itest_mkdir "$TEST_NAME")
	PORT=$(free_port)
	BASE="http://127.0.0.1:$PORT"
	export SESSIOND_VAR_DIR=$VAR SESSIOND_HTTP_PORT=$PORT SESSIOND_BUILD=$BUILD
	export SESSIOND_CONF_EXTRA="${1:-}"
	trap stack_down EXIT
	local tries=0
	until "$TOP/scripts/stack" start >"$VAR/stack.log" 2>&1; do
		# Another test on this machine may have taken the port meanwhile: pick another.
		tries=$((tries + 1))
		if [ "$tries" -lt 4 ] && grep -q 'Address already in use' "$VAR/stack.log"; then
			PORT=$(free_port)
			BASE="http://127.0.0.1:$PORT"
			export SESSIOND_HTTP_PORT=$PORT
			continue
		fi
		cat "$VAR/stack.log"
		fail "stack started"
		exit 1
	done
	PGSOCK=$VAR/pg/run
	KEYS=$VAR/keys
	CONF=$VAR/sessiond.conf
	ISSUER="https://sessiond.local/"
	AUDIENCE="https://api.sessiond.local"
}

stack_down() {
	"$TOP/scripts/stack" stop >/dev/null 2>&1
	secret_check_logs
	# Keep the logs of a failed run for the reader, drop the cluster.
	if [ -n "${VAR:-}" ] && [ -d "$VAR" ]; then
		mkdir -p "$TOP/build/test-logs/$TEST_NAME"
		cp "$VAR"/log/*.log "$TOP/build/test-logs/$TEST_NAME/" 2>/dev/null
		rm -rf "$VAR"
	fi
	[ -n "${SERVICE_KEY_FILE:-}" ] && rm -f "$SERVICE_KEY_FILE"
	return 0
}

# wait_until SECONDS CMD...: runs CMD every 0.05 s until it succeeds (returns 0)
# or SECONDS have passed (returns 1, after one last try). Tests order events
# with it by observing a state, never with a fixed sleep: give it a generous
# SECONDS (a liveness bound, not a latency claim).
wait_until() {
	local limit=$1 start
	shift
	start=${EPOCHREALTIME/[.,]/}
	while :; do
		"$@" && return 0
		[ $(( ${EPOCHREALTIME/[.,]/} - start )) -ge $((limit * 1000000)) ] && { "$@"; return; }
		sleep 0.05
	done
}

# elapsed_ms START: milliseconds since START (a value of ${EPOCHREALTIME/[.,]/}).
elapsed_ms() { echo $(( (${EPOCHREALTIME/[.,]/} - $1) / 1000 )); }

# wait_listeners_applied [SECONDS]: waits until every per-host cache listener
# on the stack's PostgreSQL (application_name sessiond-cache) has applied a
# read of the invalidation log sent after this call: each backend first shows
# a read that started after now (R1, whose snapshot holds everything committed
# before the call), then a later one (R2: the listener sends it only after
# applying R1). A listener that reconnected meanwhile started with an empty
# cache. Order "commit, then read on another host" with it, never with a sleep
# (docs/invalidation.md: the bound is one listener read after the ring).
wait_listeners_applied() {
	# One psql: a loop inside PostgreSQL (pg_stat_clear_snapshot: fresh activity each turn).
	psql_q "SET statement_timeout = 0; DO \$\$
DECLARE t0 timestamptz := clock_timestamp(); pids int[]; starts timestamptz[];
BEGIN
	LOOP
		PERFORM pg_stat_clear_snapshot();
		SELECT array_agg(pid), array_agg(query_start) INTO pids, starts FROM pg_stat_activity
		 WHERE application_name = 'sessiond-cache';
		EXIT WHEN pids IS NOT NULL AND (SELECT bool_and(q > t0) FROM unnest(starts) q);
		IF clock_timestamp() > t0 + make_interval(secs => ${1:-30}) THEN RAISE EXCEPTION 'no listener read'; END IF;
		PERFORM pg_sleep(0.01);
	END LOOP;
	LOOP
		PERFORM pg_stat_clear_snapshot();
		EXIT WHEN NOT EXISTS (SELECT 1 FROM pg_stat_activity a JOIN unnest(pids, starts) AS s(pid, q) USING (pid)
		                      WHERE a.application_name = 'sessiond-cache' AND a.query_start <= s.q);
		IF clock_timestamp() > t0 + make_interval(secs => 2 * ${1:-30}) THEN RAISE EXCEPTION 'no second listener read'; END IF;
		PERFORM pg_sleep(0.01);
	END LOOP;
END \$\$" >/dev/null 2>&1
}

# wait_health URL [TRIES]: waits until URL/api/sessions/health/ answers 2xx,
# polling every 0.05 s, TRIES times at most (default 400: 20 s).
wait_health() {
	for _ in $(seq 1 "${2:-400}"); do
		curl -fs "$1/api/sessions/health/" >/dev/null 2>&1 && return 0
		sleep 0.05
	done
	return 1
}

# Restarts sessiond with the current $CONF (after a test edits it).
sessiond_restart() {
	local pid
	pid=$(cat "$VAR/run/sessiond.pid")
	kill -TERM "$pid"
	for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.05; done
	# shellcheck disable=SC2086
	${SESSIOND_WRAPPER:-} "$BUILD/sessiond" --config "$CONF" </dev/null >>"$VAR/log/sessiond.log" 2>&1 &
	echo $! >"$VAR/run/sessiond.pid"
	wait_health "$BASE"
}

# apache_conf DIR: DIR/httpd.conf, an Apache 2.4 (event MPM, mod_fcgid) whose
# state and logs live under DIR and which includes DIR/site.conf (apache_site);
# as root its children run as www-data. Start it with apache2 -f DIR/httpd.conf.
apache_conf() {
	local a=$1 m=/usr/lib/apache2/modules
	mkdir -p "$a/logs" "$a/fcgid" "$a/htdocs" "$a/state"
	[ "$(id -u)" -eq 0 ] && chown www-data "$a/fcgid" "$a/state"
	cat >"$a/httpd.conf" <<CONF
ServerRoot $a
PidFile $a/httpd.pid
Mutex file:$a default
$([ "$(id -u)" -eq 0 ] && printf 'User www-data\nGroup www-data\n')
ServerName localhost
ErrorLog $a/logs/error.log
LogLevel warn
LogFormat "%h %l %u %t \"%r\" %>s %O" combined
LoadModule mpm_event_module $m/mod_mpm_event.so
LoadModule authz_core_module $m/mod_authz_core.so
LoadModule authz_host_module $m/mod_authz_host.so
LoadModule alias_module $m/mod_alias.so
LoadModule fcgid_module $m/mod_fcgid.so
FcgidIPCDir $a/fcgid
FcgidProcessTableFile $a/fcgid/shm
DocumentRoot $a/htdocs
<Directory />
    AllowOverride None
    Require all denied
</Directory>
Include $a/site.conf
CONF
}

# apache_site DIR PROGRAM CONFIG PORT: DIR/site.conf, the shipped
# conf/apache/sessiond.conf with only its program, configuration file, port and
# directories substituted.
apache_site() {
	sed -e "s|/usr/local/sbin/sessiond|$2|" -e "s|/etc/sessiond/sessiond.conf|$3|" \
	    -e "s|127.0.0.1:8080|127.0.0.1:$4|" -e "s|\${APACHE_LOG_DIR}|$1/logs|" \
	    -e "s|/var/lib/sessiond-fcgid/|$1/state/|" \
	    "$TOP/conf/apache/sessiond.conf" >"$1/site.conf"
}

# nginx_conf DIR ERROR_LOG CONNECTIONS <<CONF ... CONF: writes DIR/nginx.conf
# for a test's own nginx (start it with nginx -p DIR -c DIR/nginx.conf): one
# worker (as www-data under root), its pid and temporary files under DIR,
# errors to ERROR_LOG; standard input is the rest of the http block
# (access_log, includes, servers).
nginx_conf() {
	local dir=$1 err=$2 conns=$3 body
	body=$(cat)
	mkdir -p "$dir/tmp"
	{
		[ "$(id -u)" -eq 0 ] && echo "user www-data;"
		cat <<CONF
worker_processes 1;
pid $dir/nginx.pid;
error_log $err warn;
events { worker_connections $conns; }
http {
    client_body_temp_path $dir/tmp/body;
    fastcgi_temp_path $dir/tmp/fastcgi;
    proxy_temp_path $dir/tmp/proxy;
    uwsgi_temp_path $dir/tmp/uwsgi;
    scgi_temp_path $dir/tmp/scgi;
$body
}
CONF
	} >"$dir/nginx.conf"
}

# nginx_fcgi_server PORT SOCKET: an nginx server block on 127.0.0.1:PORT that
# passes /api/sessions/ to the sessiond listening on the unix SOCKET.
nginx_fcgi_server() {
	cat <<CONF
    server {
        listen 127.0.0.1:$1;
        location /api/sessions/ {
            include fastcgi_params;
            fastcgi_param REQUEST_ID \$request_id;
            fastcgi_pass unix:$2;
        }
    }
CONF
}

psql_q() { # sql → unaligned tuples
	if [ "$(id -u)" -eq 0 ]; then
		runuser -u postgres -- psql -h "$PGSOCK" -U sessiond -d sessiond -qtAX -c "$1"
	else
		psql -h "$PGSOCK" -U sessiond -d sessiond -qtAX -c "$1"
	fi
}

pg_ctl_as() {
	local bin
	for bin in /usr/lib/postgresql/*/bin; do :; done
	if [ "$(id -u)" -eq 0 ]; then
		runuser -u postgres -- "$bin/pg_ctl" -D "$VAR/pg/data" "$@"
	else
		"$bin/pg_ctl" -D "$VAR/pg/data" "$@"
	fi
}

# req METHOD PATH [curl args...]: sets STATUS, BODY, and HDRS (a file).
req() {
	local m=$1 p=$2
	shift 2
	HDRS=$VAR/last.headers
	secret_scan_args "$@"
	BODY=$(curl -s -o - -D "$HDRS" -X "$m" "$@" "$BASE$p")
	STATUS=$(head -1 "$HDRS" | awk '{print $2}')
	secret_scan_body
}

expect_status() { # want desc
	if [ "${STATUS:-}" = "$1" ]; then pass "$2 (status $1)"; else fail "$2: status ${STATUS:-none}, want $1; body: ${BODY:0:300}"; fi
}

jq_body() { printf '%s' "$BODY" | jq -r "$1" 2>/dev/null; }

expect_json() { # jq-filter want desc
	local got
	got=$(jq_body "$1")
	if [ "$got" = "$2" ]; then pass "$3"; else fail "$3: $1 = '$got', want '$2'"; fi
}

header() { grep -i "^$1:" "$HDRS" | head -1 | cut -d' ' -f2- | tr -d '\r'; }

expect_header() { # name regex desc
	local got
	got=$(header "$1")
	if [[ "$got" =~ $2 ]]; then pass "$3"; else fail "$3: header $1 = '$got', want /$2/"; fi
}

# expect_error status code desc: the status and the {"error":{"code","message"}} shape.
expect_error() {
	expect_status "$1" "$3"
	if [ "$(jq_body '.error.code')" = "$2" ] && [ -n "$(jq_body '.error.message | select(type == "string" and length > 0)')" ]; then
		pass "$3: error shape with code $2"
	else
		fail "$3: error body '${BODY:0:200}', want code $2"
	fi
}

# mint_jwt claims-json [extra jwtmint args]: a JWT signed with the stack's dev key.
mint_jwt() {
	local claims=$1
	shift
	local jwt
	jwt=$("$MINT" sign --key "$KEYS/dev.key.pem" --kid dev --claims-json "$claims" "$@") || return
	secret_note "$jwt"
	printf '%s\n' "$jwt"
}

# std_claims sub [extra json members]: valid claims for the stack's issuer and audience.
std_claims() {
	local now
	now=$(date +%s)
	printf '{"iss":"%s","aud":["%s","https://sessiond.local/userinfo"],"sub":"%s","exp":%d,"iat":%d%s}' \
		"$ISSUER" "$AUDIENCE" "$1" $((now + 3600)) "$now" "${2:+,$2}"
}

# create SUB [BODY] [curl args...]: POST /create/ with a fresh JWT for SUB
# (std_claims plus the members in $CREATE_CLAIMS, curl arguments from the
# CREATE_ARGS array, where {sub} stands for SUB). Sets TOKEN and SID (empty
# when no session was created), STATUS, BODY and JWT; then calls on_create
# when the test file defines it.
CREATE_CLAIMS=
CREATE_ARGS=()
create() {
	local sub=$1 body=${2:-'{}'} args=()
	shift
	[ $# -gt 0 ] && shift
	for a in "${CREATE_ARGS[@]}"; do args+=("${a//\{sub\}/$sub}"); done
	JWT=$(mint_jwt "$(std_claims "$sub" "$CREATE_CLAIMS")")
	req POST /api/sessions/create/ -H "Authorization: Bearer $JWT" -H 'Content-Type: application/json' \
		"${args[@]}" -d "$body" "$@"
	TOKEN=$(jq_body '.session_token // empty')
	SID=$(jq_body '.session.id // empty')
	if declare -F on_create >/dev/null; then on_create "$sub"; fi
	return 0
}

# as TOKEN METHOD PATH [curl args...]: a request authenticated with Authorization: Session.
as() { local t=$1 m=$2 p=$3; shift 3; req "$m" "$p" -H "Authorization: Session $t" "$@"; }

# expect_revoked_everywhere TOKEN: 40 parallel GET /current/ with TOKEN (just
# revoked) are all 401, and the log shows 401s for it from at least two workers.
expect_revoked_everywhere() {
	: >"$VAR/after.txt"
	for _ in $(seq 1 40); do
		curl -s -o /dev/null -w '%{http_code}\n' -H "Authorization: Session $1" "$BASE/api/sessions/current/" >>"$VAR/after.txt" &
	done
	wait
	[ "$(sort -u "$VAR/after.txt")" = 401 ] && pass "40 parallel requests right after the revoke: all 401" ||
		fail "after revoke: $(sort "$VAR/after.txt" | uniq -c | tr '\n' ' ')"
	grep -o 'pid=[0-9]* req=[^ ]* event=request method=GET route=current_get status=401' "$VAR/log/sessiond.log" |
		awk '{print $1}' | sort -u >"$VAR/w.txt"
	[ "$(wc -l <"$VAR/w.txt")" -ge 2 ] && pass "the 401s came from $(wc -l <"$VAR/w.txt") different workers" ||
		fail "only one worker answered"
}

# Tests with several hosts name each one's base URL BASE_<HOST> (BASE_A is the
# stack's own, BASE_B a second sessiond's...); these run the request helpers
# against one of them and leave BASE at BASE_A.
# on HOST METHOD PATH [curl args...]: req against BASE_<HOST>.
on() {
	local v=BASE_$1
	shift
	BASE=${!v}
	req "$@"
	BASE=$BASE_A
}
# create_on HOST SUB: create SUB's session on BASE_<HOST> (sets TOKEN, SID as create does).
create_on() {
	local v=BASE_$1
	BASE=${!v}
	create "$2"
	BASE=$BASE_A
}
# as_on HOST TOKEN METHOD PATH [curl args...]: as, against BASE_<HOST>.
as_on() { local h=$1 t=$2; shift 2; on "$h" "$@" -H "Authorization: Session $t"; }

# The master's worker processes (not its cache listener sessiond-cache, nor its JWKS fetcher sessiond-jwks).
worker_pids() {
	local m
	m=$(cat "$VAR/run/sessiond.pid")
	comm -23 <(pgrep -P "$m" | sort) <(pgrep -P "$m" -x 'sessiond-(cache|jwks)' | sort)
}
listener_pid() { pgrep -P "$(cat "$VAR/run/sessiond.pid")" -x sessiond-cache; }

# seed_sessions FILE N USER_PREFIX [EXPIRES_SQL]: N fresh session tokens into
# FILE (one a line) and their hashes into sessions (users USER_PREFIX0..499),
# for load tests. The tokens are made inside PostgreSQL (32 bytes: SHA-256 of
# two random UUIDs, base64url like sessiond's) and exported with COPY, so any
# N works (nothing passes through a command line). EXPIRES_SQL defaults to
# now() + 1 day.
seed_sessions() {
	local f=$1 n=$2 u=$3 exp=${4:-"now() + interval '1 day'"}
	local psql_cmd=(psql -h "$PGSOCK" -U sessiond -d sessiond -qtAX -v ON_ERROR_STOP=1 -f -)
	[ "$(id -u)" -eq 0 ] && psql_cmd=(runuser -u postgres -- "${psql_cmd[@]}")
	"${psql_cmd[@]}" >"$f" <<SQL || return 1
BEGIN;
CREATE TEMP TABLE seed_tok ON COMMIT DROP AS
	SELECT i, translate(rtrim(encode(sha256(convert_to(gen_random_uuid()::text || gen_random_uuid()::text, 'UTF8')),
	                                 'base64'), '='), '+/', '-_') AS tok
	FROM generate_series(1, $n) i;
INSERT INTO sessions (id, token_hash, user_id, user_email, user_name, tenant_id, tenant_name, expires_at)
	SELECT gen_random_uuid(), sha256(convert_to(tok, 'UTF8')), '$u' || i % 500,
	       'ada@example.com', 'Ada', 't-1', 'Acme', $exp
	FROM seed_tok;
COPY (SELECT tok FROM seed_tok ORDER BY i) TO STDOUT;
COMMIT;
SQL
	[ "$(wc -l <"$f")" -eq "$n" ] && [ "$(psql_q "SELECT count(*) FROM sessions WHERE user_id LIKE '$u%'")" -ge "$n" ]
}

# The largest worker's RSS in KiB, and its private part (RSS less the pages it
# shares with other processes: libraries, the per-host cache, the counters).
worker_rss_kib() { ps -o rss= -p "$(worker_pids | paste -sd,)" | sort -n | tail -1 | tr -d ' '; }
worker_private_kib() {
	local p best=0 v
	for p in $(worker_pids); do
		v=$(awk '/^Private_(Clean|Dirty):/ { s += $2 } END { print s }' "/proc/$p/smaps_rollup")
		[ "$v" -gt "$best" ] && best=$v
	done
	echo "$best"
}
# worker_pss_kib: "PSS PSS_BEYOND_SHARED SHARED" of the worker with the largest
# PSS, in KiB, from /proc/PID/smaps_rollup. PSS divides each shared page among
# the processes mapping it; the shared region (per-host cache and counters,
# anonymous shared memory) is its Pss_Shmem part, the rest is the worker's own.
worker_pss_kib() {
	local p
	for p in $(worker_pids); do
		awk '/^Pss:/ { t = $2 } /^Pss_Shmem:/ { s = $2 } END { print t, t - s, s }' "/proc/$p/smaps_rollup"
	done | sort -n | tail -1
}
