#!/usr/bin/env bash
# Failover: sessiond on a Patroni cluster (scripts/ha-cluster: one etcd, two
# PostgreSQL 15 nodes, primary + synchronous standby) through libpq's
# multi-host syntax with target_session_attrs=read-write, two sessiond masters
# (host A, host B) each behind its own nginx server, under steady mixed load
# (creates, GET, PATCH, refresh, logout, revoke; every answer logged).
#   1. the primary's postmaster SIGKILLed (Patroni restarts it in place), then
#      the primary's Patroni and postmaster SIGKILLed (the standby is promoted);
#   2. a planned switchover (patronictl switchover);
#   3. the old primary rejoins as a standby (pg_rewind) and a second unplanned
#      failover goes back to it;
#   4. a session revoked on host A right after the failover is refused by
#      host B at once (its per-host cache was flushed on listener reconnect);
#   5. cleanup_sessions with the multi-host database_url runs on the new primary.
# Afterwards every acknowledged write is checked against the database and the
# API. The longest run of 503s per event is measured from the load log and
# printed (no timed assertion beyond "serves again within 120 s").
. "$(dirname "$0")/../lib.sh"

# fsync off: the test kills processes, never the machine (see scripts/ha-cluster).
export HA_TTL=6 HA_LOOP_WAIT=1 HA_RETRY_TIMEOUT=2 HA_FSYNC=off
HA=$TOP/scripts/ha-cluster
for try in 1 2 3; do
	HA_DIR=$(mktemp -d "${TMPDIR:-/tmp}/sessiond-ha.XXXXXX")
	chmod 755 "$HA_DIR"
	export HA_DIR
	"$HA" start >"$HA_DIR/start.log" 2>&1 && break
	# Another process on this machine may have taken a port between the
	# check and the bind: start over in a fresh directory with new ports.
	again=0
	grep -qis 'address already in use' "$HA_DIR"/start.log "$HA_DIR"/log/*.log && [ "$try" -lt 3 ] && again=1
	[ "$again" = 1 ] || { cat "$HA_DIR/start.log"; tail -20 "$HA_DIR"/log/*.log; }
	"$HA" stop >/dev/null 2>&1
	rm -rf "$HA_DIR"
	[ "$again" = 1 ] || { fail "the Patroni cluster (etcd + 2 nodes, synchronous standby) started"; exit 1; }
done
URL=$("$HA" url)
pass "Patroni cluster up: etcd (v3 API) + pg1 leader + pg2 synchronous standby; ttl 6, loop_wait 1, retry_timeout 2"

# stack_up's trap calls stack_down: extend it so that host B, nginx 2 and the
# HA cluster always go too, and their logs are kept with the others.
eval "orig_stack_down() $(declare -f stack_down | tail -n +2)"
stack_down() {
	[ -n "${N2:-}" ] && [ -f "$N2/nginx.pid" ] && nginx -p "$N2" -c "$N2/nginx.conf" -s stop 2>/dev/null
	if [ -f "${PID_B:-/nonexistent}" ]; then
		pid_b=$(cat "$PID_B")
		kill -TERM "$pid_b" 2>/dev/null
		b_gone() { ! kill -0 "$pid_b" 2>/dev/null; }
		wait_until 30 b_gone
	fi
	[ -n "${LOAD_PIDS:-}" ] && kill $LOAD_PIDS 2>/dev/null
	"$HA" stop >/dev/null 2>&1
	if [ -n "${VAR:-}" ] && [ -d "$VAR/log" ]; then
		for f in "$HA_DIR"/log/*.log; do [ -f "$f" ] && cp "$f" "$VAR/log/ha-$(basename "$f")"; done
	fi
	orig_stack_down
	rm -rf "$HA_DIR"
}
trap stack_down EXIT

export SESSIOND_STACK_DATABASE_URL=$URL
stack_up "auth_fail_limit = 0
listen_database_url = $URL
db_connect_timeout = 2"
trap stack_down EXIT
grep -qx "database_url = $URL" "$CONF" && grep -qx "listen_database_url = $URL" "$CONF" &&
	pass "sessiond (host A) is up; database_url and listen_database_url name both nodes, target_session_attrs=read-write; migrations applied through it" ||
	fail "config: $(grep database_url "$CONF")"

# --- host B: a second sessiond master behind its own nginx server ------------------------------------
CONF_B=$VAR/sessiond2.conf
SOCK_B=$VAR/run/sessiond2.sock
PID_B=$VAR/run/sessiond2.pid
N2=$VAR/nginx2
BASE_A=$BASE
sed "s|^listen = .*|listen = $SOCK_B|" "$CONF" >"$CONF_B"
PORT_B=$(free_port)
BASE_B="http://127.0.0.1:$PORT_B"
mkdir -p "$N2"
cp /etc/nginx/fastcgi_params "$N2/fastcgi_params"
nginx_conf "$N2" "$VAR/log/nginx2-error.log" 1024 <<CONF
    access_log $VAR/log/nginx2-access.log;
$(nginx_fcgi_server "$PORT_B" "$SOCK_B")
CONF
nginx -p "$N2" -c "$N2/nginx.conf" || { fail "nginx for host B started"; exit 1; }
"$BUILD/sessiond" --config "$CONF_B" </dev/null >>"$VAR/log/sessiond2.log" 2>&1 &
echo $! >"$PID_B"
wait_health "$BASE_B" && pass "host B: a second sessiond master with the same multi-host URLs is up" || { fail "host B started"; exit 1; }

pq() { # sql → unaligned tuples, on the current primary through the multi-host URL
	if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- psql "$URL" -qtAX -c "$1"; else psql "$URL" -qtAX -c "$1"; fi
}
pq_stdin() { # SQL on stdin (psql meta-commands allowed)
	if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- psql "$URL" -qtAX -f -; else psql "$URL" -qtAX -f -; fi
}
node_q() { # node sql: on that node only
	local port
	port=$(grep "^PG${1#pg}_PORT=" "$HA_DIR/ports" | cut -d= -f2)
	if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- psql -h 127.0.0.1 -p "$port" -U sessiond -d sessiond -qtAX -c "$2"
	else psql -h 127.0.0.1 -p "$port" -U sessiond -d sessiond -qtAX -c "$2"; fi
}
# on / create_on / as_on (tests/lib.sh) take host A or B.
# serving: both hosts answer health 200 (a read-write primary reached); waits up to $1 s.
serving() {
	local end=$((SECONDS + $1))
	while [ "$SECONDS" -lt "$end" ]; do
		curl -fs -m 3 -o /dev/null "$BASE_A/api/sessions/health/" && curl -fs -m 3 -o /dev/null "$BASE_B/api/sessions/health/" && return 0
		sleep 0.1
	done
	return 1
}
now_ms() { local t=$EPOCHREALTIME; echo $(( ${t/./} / 1000 )); }

# --- steady mixed load: 4 loops (2 per host), every answer logged ------------------------------------
# Each line: end_ms loop op status token value. An op is acknowledged only on
# its success status; anything else (503 in a failover) is unknown.
LD=$VAR/load
mkdir -p "$LD"
loader() { # id base
	local id=$1 base=$2 jwt i=0 code tok sid out=$LD/loop$1.log b=$LD/body$1
	jwt=$(mint_jwt "$(std_claims "auth0|ha-$id")")
	while [ ! -e "$LD/stop" ]; do
		i=$((i + 1))
		code=$(curl -s -m 10 -o "$b" -w '%{http_code}' -X POST -H "Authorization: Bearer $jwt" \
			-H 'Content-Type: application/json' -d '{}' "$base/api/sessions/create/")
		tok=""; sid=""
		[ "$code" = 201 ] && { tok=$(jq -r '.session_token' "$b"); sid=$(jq -r '.session.id' "$b"); }
		echo "$(now_ms) $id create $code ${tok:--} ${sid:--}" >>"$out"
		[ -n "$tok" ] || { sleep 0.05; continue; }
		code=$(curl -s -m 10 -o /dev/null -w '%{http_code}' -X PATCH -H "Authorization: Session $tok" \
			-H 'Content-Type: application/json' -d "{\"session_data\":{\"n\":\"$id-$i\"}}" "$base/api/sessions/current/")
		echo "$(now_ms) $id patch $code $tok $id-$i" >>"$out"
		code=$(curl -s -m 10 -o /dev/null -w '%{http_code}' -H "Authorization: Session $tok" "$base/api/sessions/current/")
		echo "$(now_ms) $id get $code $tok -" >>"$out"
		case $((i % 4)) in
		0) code=$(curl -s -m 10 -o /dev/null -w '%{http_code}' -X DELETE -H "Authorization: Session $tok" "$base/api/sessions/current/")
		   echo "$(now_ms) $id logout $code $tok -" >>"$out" ;;
		1) code=$(curl -s -m 10 -o /dev/null -w '%{http_code}' -X DELETE -H "Authorization: Session $tok" "$base/api/sessions/$sid/")
		   echo "$(now_ms) $id revoke $code $tok -" >>"$out" ;;
		2) code=$(curl -s -m 10 -o "$b" -w '%{http_code}' -X POST -H "Authorization: Session $tok" \
			-H 'Content-Type: application/json' -d '{"hours":48}' "$base/api/sessions/refresh/")
		   echo "$(now_ms) $id refresh $code $tok $([ "$code" = 200 ] && jq -r .expires_at "$b" || echo -)" >>"$out" ;;
		esac
	done
}
LOAD_PIDS=""
for id in 1 2 3 4; do
	if [ $((id % 2)) = 1 ]; then loader "$id" "$BASE_A" & else loader "$id" "$BASE_B" & fi
	LOAD_PIDS="$LOAD_PIDS $!"
done
all_log() { cat "$LD"/loop*.log 2>/dev/null | sort -n -k1,1; }
n0=0
for _ in $(seq 1 300); do
	n0=$(all_log | awk '$4 ~ /^20[01]$/' | wc -l)
	[ "$n0" -ge 40 ] && break
	sleep 0.1
done
[ "$n0" -ge 40 ] && pass "steady load through both hosts ($n0 successful requests before any fault)" || fail "load: only $n0 successes in 30 s"

# longest_503 FROM_MS TO_MS: seconds between the last success before and the
# first success after the longest run of failed answers (503/502/000) in the
# window, and how many failed answers that run held.
longest_503() {
	all_log | awk -v from="$1" -v to="$2" '
		$1 < from - 2000 || $1 > to { next }
		$4 ~ /^(503|502|000)$/ { if (!inrun) { inrun = 1; n = 0 } n++; next }
		{ if (inrun && last) { g = $1 - last; if (g > best) { best = g; bn = n } } inrun = 0; last = $1 }
		END { printf "%.2f %d\n", best / 1000, bn }'
}
# event LABEL CMD...: runs the fault, waits until both hosts serve again and
# the cluster has a leader with a streaming synchronous standby again (when
# asked), lets the load run 2 s more, prints the longest 503 run.
event() {
	local label=$1 t0 t1 w
	shift
	t0=$(now_ms)
	"$@" >>"$VAR/events.log" 2>&1
	sleep 0.5
	# A generous bound that proves recovery, not speed (Patroni's in-place
	# restart does crash recovery in single-user mode first: slow under load).
	if serving 120; then pass "$label: sessiond serves again without a restart (bound: 120 s)"; else fail "$label: not serving after 120 s"; fi
	t1=$(now_ms)
	# A fixed window on purpose: the load's answers in the 2 s after recovery are what is measured.
	sleep 2
	w=$(longest_503 "$t0" "$(now_ms)")
	echo "$label ${w% *} ${w#* } $(( (t1 - t0) ))" >>"$VAR/windows.txt"
	pass "$label: longest run of 503s ${w% *} s (${w#* } answers); health 200 on both hosts after $(( (t1 - t0) )) ms"
}
leader_is() { [ "$("$HA" leader 2>/dev/null)" = "$1" ]; }
wait_leader() { # node
	local end=$((SECONDS + 60))
	while [ "$SECONDS" -lt "$end" ]; do leader_is "$1" && return 0; sleep 0.2; done
	return 1
}

# A session cached on both hosts before the failover (the revocation test)
# and one read only on host A, left untouched afterwards (the cache table test).
create_on A "auth0|ha-p"; P_TOK=$TOKEN; P_SID=$SID
create_on A "auth0|ha-q"; Q_TOK=$TOKEN; Q_SID=$SID
as_on B "$P_TOK" GET /api/sessions/current/ >/dev/null; as_on B "$P_TOK" GET /api/sessions/current/
expect_status 200 "session P served (and cached) on host B before the failover"
as_on A "$Q_TOK" GET /api/sessions/current/ >/dev/null
[ "$(pq "SELECT count(*) FROM session_cache WHERE id = '$Q_SID'")" = 1 ] &&
	pass "session Q is in the UNLOGGED cache table on the primary (pg1)" || fail "Q not in session_cache"

# --- 1a. the primary's postmaster SIGKILLed: Patroni restarts it in place ---------------------------
event "postmaster-only kill (restart in place)" "$HA" kill-pg pg1
"$HA" wait-sync 120 && leader_is pg1 && pass "pg1 is leader again after the in-place restart, pg2 its synchronous standby" ||
	fail "after postmaster kill: $("$HA" status 2>&1)"

# --- 1b. unplanned failover: the primary's Patroni and postmaster SIGKILLed -----------------------------
as_on B "$P_TOK" GET /api/sessions/current/ >/dev/null
as_on B "$P_TOK" GET /api/sessions/current/
expect_status 200 "session P cached again on host B just before the failover"
event "unplanned failover (pg1's Patroni + postmaster SIGKILLed)" "$HA" kill pg1
wait_leader pg2 && pass "pg2 was promoted (Patroni's REST API: /primary on pg2)" || fail "pg2 not leader: $("$HA" status 2>&1)"
[ "$(node_q pg2 'SELECT pg_is_in_recovery()')" = f ] && pass "pg2 accepts writes" || fail "pg2 still in recovery"

# 4. Revoked on host A right after the failover → host B refuses it at once.
as_on A "$P_TOK" DELETE "/api/sessions/$P_SID/"
expect_status 200 "right after the failover: session P revoked through host A"
as_on B "$P_TOK" GET /api/sessions/current/
expect_error 401 invalid_session "host B refuses P on the very next request (cache flushed on listener reconnect)"
codes=$(for _ in $(seq 1 20); do curl -s -o /dev/null -w '%{http_code}\n' -H "Authorization: Session $P_TOK" "$BASE_B/api/sessions/current/" & done; wait)
[ "$(echo "$codes" | sort -u | tr -d '\n')" = 401 ] && pass "20 parallel requests for P on host B: all 401" || fail "host B after revoke: $(echo "$codes" | sort | uniq -c | tr '\n' ' ')"
grep -q 'event=cache_listener_listening' "$VAR/log/sessiond2.log" && [ "$(grep -c 'event=cache_listener_listening' "$VAR/log/sessiond2.log")" -ge 2 ] &&
	pass "host B's cache listener reconnected (and flushed) after the failover" || fail "host B listener did not reconnect"
# The UNLOGGED cache table is empty on the promoted node: Q, cached on pg1 and
# not read since, has no cache row on pg2; reading it goes through to sessions.
[ "$(node_q pg2 "SELECT count(*) FROM session_cache WHERE id = '$Q_SID'")" = 0 ] &&
	pass "the promoted node's session_cache does not have Q (UNLOGGED tables are not replicated)" || fail "Q's cache row survived promotion"
as_on A "$Q_TOK" GET /api/sessions/current/
expect_status 200 "Q is read through from sessions on the new primary"

# 5. cleanup_sessions with the multi-host URL (pg1, listed first, is dead) runs on pg2.
out=$("$BUILD/cleanup_sessions" --config "$CONF" 2>&1)
rc=$?
cutoff=$(echo "$out" | sed -n 's/^cleanup cutoff=//p')
# The load keeps revoking meanwhile: only rows revoked before the cutoff must be gone.
left=$(node_q pg2 "SELECT count(*) FROM sessions WHERE revoked_at < '$cutoff'::timestamptz")
[ "$rc" = 0 ] && [ "$left" = 0 ] && echo "$out" | grep -qE '^cleanup sessions_revoked=[1-9]' &&
	pass "cleanup_sessions through the multi-host URL ran on the new primary pg2 (pg1 dead): $(echo "$out" | tr '\n' ' ')" ||
	fail "cleanup: rc $rc, $left revoked/expired rows left on pg2: $out"

# --- 3. the old primary rejoins as a standby -----------------------------------------------------------
from=$(($(wc -l <"$HA_DIR/log/pg1-patroni.log") + 1))
"$HA" start-node pg1 >/dev/null 2>&1
"$HA" wait-sync 180 && leader_is pg2 && pass "pg1 rejoined as pg2's synchronous standby" || fail "pg1 did not rejoin: $("$HA" status 2>&1)"
# Patroni runs pg_rewind when pg1 wrote WAL past the point where pg2 took
# over (commits in flight at the kill, never acknowledged); said either way.
rew=$(tail -n +"$from" "$HA_DIR/log/pg1-patroni.log" | grep -oE 'pg_rewind exit code=[0-9]+|servers diverged at WAL location [0-9A-F/]+' | paste -sd';' -)
if tail -n +"$from" "$HA_DIR/log/pg1-patroni.log" | grep -q 'running pg_rewind'; then
	[[ "$rew" == *"exit code=0"* ]] && pass "pg1 was rewound by pg_rewind ($rew)" || fail "pg_rewind on pg1: ${rew:-no result}"
else
	pass "pg1 had not diverged from pg2: no pg_rewind needed"
fi
wr=$(node_q pg1 "SELECT status || ' ' || received_tli FROM pg_stat_wal_receiver")
tl2=$(node_q pg2 "SELECT timeline_id FROM pg_control_checkpoint()")
[ "$(node_q pg1 'SELECT pg_is_in_recovery()')" = t ] && [ "${wr% *}" = streaming ] &&
	pass "pg1 is a standby streaming from pg2 (WAL receiver: $wr; pg2's timeline $tl2)" ||
	fail "pg1: recovery $(node_q pg1 'SELECT pg_is_in_recovery()'), WAL receiver '$wr'"

# --- 2. planned switchover back to pg1 -----------------------------------------------------------------
event "planned switchover (patronictl switchover pg2 → pg1)" "$HA" ctl switchover --leader pg2 --candidate pg1 --force
wait_leader pg1 && "$HA" wait-sync 120 && pass "pg1 is leader again, pg2 its synchronous standby" || fail "after switchover: $("$HA" status 2>&1)"

# --- 3b. a second unplanned failover, back to the node that had been rewound -----------------------------
event "second unplanned failover (pg1 SIGKILLed again, back to pg2)" "$HA" kill pg1
wait_leader pg2 && pass "pg2 promoted again" || fail "second failover: $("$HA" status 2>&1)"

# --- verification: every acknowledged write against the database and the API ----------------------------
# A fixed last second of load on purpose: answers after the last failover are part of the record.
sleep 1
touch "$LD/stop"
wait $LOAD_PIDS 2>/dev/null
LOAD_PIDS=""
all_log >"$LD/all.log"
awk '$5 != "-" { print $5 }' "$LD/all.log" | sort -u | while read -r t; do secret_note "$t"; done
total=$(wc -l <"$LD/all.log")
summary=$(awk '{print $4}' "$LD/all.log" | sort | uniq -c | awk '{printf "%s:%s ", $2, $1}')
pass "load: $total requests ($summary)"
# Never a wrong answer: only the success status or a 503 (PostgreSQL unreachable).
wrong=$(awk '($3 == "create" && $4 != 201 || $3 != "create" && $4 != 200) && $4 != 503' "$LD/all.log")
[ -z "$wrong" ] && pass "every answer under load was its success status or 503 (no 500, no 401 for a live session, no 000)" ||
	fail "unexpected answers: $(echo "$wrong" | awk '{print $3, $4}' | sort | uniq -c | tr '\n' ' ')"

# Expected state per acknowledged session: gone (logout/revoke acknowledged),
# unknown (a logout/revoke that got 503 may or may not have committed), or live
# with the acknowledged PATCH value (or, after a 503 PATCH, either) and the
# acknowledged refresh's expires_at.
awk '
	$3 == "create" && $4 == 201 { st[$5] = "live"; order[++n] = $5 }
	$3 == "patch" { if ($4 == 200) { pv[$5] = $6; pu[$5] = 0 } else { pu[$5] = 1; alt[$5] = $6 } }
	$3 == "refresh" && $4 == 200 { ex[$5] = $6 }
	$3 == "refresh" && $4 != 200 { exu[$5] = 1 }
	($3 == "logout" || $3 == "revoke") { st[$5] = ($4 == 200) ? "gone" : "unknown" }
	END { for (i = 1; i <= n; i++) { t = order[i]
		printf "%s,%s,%s,%s,%s,%s\n", t, st[t], (t in pv) ? pv[t] : "", pu[t] ? alt[t] : "", \
			exu[t] ? "" : ((t in ex) ? ex[t] : ""), exu[t] ? 1 : 0 } }' "$LD/all.log" >"$LD/expect.csv"
acked=$(wc -l <"$LD/expect.csv")
live=$(grep -c ',live,' "$LD/expect.csv")
gone=$(grep -c ',gone,' "$LD/expect.csv")
unknown=$(grep -c ',unknown,' "$LD/expect.csv")
res=$(pq_stdin <<SQL 2>&1 | tail -1
CREATE TEMP TABLE ex (tok text, st text, pv text, palt text, exp text, exu int);
\copy ex FROM '$LD/expect.csv' WITH (FORMAT csv)
SELECT count(*) FILTER (WHERE e.st = 'live' AND s.id IS NULL),
	       count(*) FILTER (WHERE e.st = 'live' AND s.revoked_at IS NOT NULL),
	       count(*) FILTER (WHERE e.st = 'live' AND coalesce(s.session_data->>'n', '') NOT IN (coalesce(e.pv, ''), coalesce(e.palt, ''))),
	       count(*) FILTER (WHERE e.st = 'live' AND e.exp IS NOT NULL AND s.expires_at < e.exp::timestamptz - interval '1 second'),
	       count(*) FILTER (WHERE e.st = 'gone' AND s.id IS NOT NULL AND s.revoked_at IS NULL)
	FROM ex e LEFT JOIN sessions s ON s.token_hash = sha256(convert_to(e.tok, 'UTF8'));
SQL
)
IFS='|' read -r lost_create revoked_live lost_patch lost_refresh back <<<"$res"
[ "$acked" -gt 50 ] && [ "$live" -gt 10 ] && [ "$gone" -gt 10 ] &&
	pass "acknowledged: $acked creates ($live live, $gone logged out or revoked, $unknown with an unacknowledged logout/revoke)" ||
	fail "too few acknowledged writes: $acked ($live live, $gone gone)"
[ "$res" = "0|0|0|0|0" ] &&
	pass "in the database: acknowledged creates lost 0, PATCHes lost 0, refreshes lost 0, revocations lost (sessions back) 0" ||
	fail "in the database (lost creates|live revoked|lost PATCH|lost refresh|revoked back): $res"

# The API agrees, on both hosts: one curl per host runs every check in parallel.
api_check() { # base → "index status" lines
	local i=0 n=0 t st
	while IFS=, read -r t st _; do
		i=$((i + 1))
		[ "$st" = unknown ] && continue
		[ "$n" -gt 0 ] && echo next
		n=$((n + 1))
		printf 'url = "%s/api/sessions/current/"\nheader = "Authorization: Session %s"\noutput = "/dev/null"\nwrite-out = "%d %%{http_code}\\n"\n' "$1" "$t" "$i"
	done <"$LD/expect.csv" >"$LD/curl.cfg"
	curl -s --no-progress-meter -Z --parallel-max 4 -K "$LD/curl.cfg"
}
for h in A B; do
	[ $h = A ] && b=$BASE_A || b=$BASE_B
	api_check "$b" | sort -n >"$LD/api$h.txt"
	wrongapi=$(awk -F, 'NR == FNR { st[FNR] = $2; next }
		(st[$1] == "live" && $2 != 200) || (st[$1] == "gone" && $2 != 401) { print st[$1] "→" $2 }' "$LD/expect.csv" FS=' ' "$LD/api$h.txt")
	badapi=$(printf '%s' "$wrongapi" | grep -c .)
	checked=$(wc -l <"$LD/api$h.txt")
	[ "$checked" -eq $((live + gone)) ] && [ "$badapi" = 0 ] &&
		pass "host $h: every live token 200 ($live), every logged-out or revoked token 401 ($gone)" ||
		fail "host $h: $badapi wrong of $checked checked (want $((live + gone))): $(printf '%s\n' "$wrongapi" | sort | uniq -c | tr '\n' ' ')"
done

echo "# longest runs of 503s (s), 503 answers in that run, ms until both hosts' health was 200:"
sed 's/^/#   /' "$VAR/windows.txt"
echo "# this file ran ${SECONDS} s (load average $(cut -d' ' -f1 /proc/loadavg))"
