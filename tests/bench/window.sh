#!/usr/bin/env bash
# make bench: the cross-host invalidation window. Two sessiond hosts (A: the
# stack's, B: a second master with its own socket, cache and listener) on one
# PostgreSQL; each round PATCHes a session on A (B holds it in its per-host
# cache) and, from the moment A answered, reads it on B until B shows the new
# version. The window is that time, in ms, with the resolution of one GET
# through nginx (bash's /dev/tcp, no process per read). Prints p50/p99/max
# over the rounds and how many first reads on B were still stale.
# Environment: WINDOW_ROUNDS (default 150).
set -uo pipefail
TOP=$(cd "$(dirname "$0")/../.." && pwd)
ROUNDS=${WINDOW_ROUNDS:-150}
TEST_NAME=bench-window
. "$TOP/tests/lib.sh"
BUILD=${SESSIOND_BUILD:-$TOP/build}

stack_up "auth_fail_limit = 0
log_level = warn"
BASE_A=$BASE
SOCK_B=$VAR/run/sessiond-b.sock
CONF_B=$VAR/sessiond-b.conf
N2=$VAR/nginx-b
PID_B=$VAR/run/sessiond-b.pid
sed "s|^listen = .*|listen = $SOCK_B|" "$CONF" >"$CONF_B"
PORT_B=$(free_port)
BASE_B="http://127.0.0.1:$PORT_B"
mkdir -p "$N2"
cp /etc/nginx/fastcgi_params "$N2/fastcgi_params"
nginx_conf "$N2" "$VAR/log/nginx-b-error.log" 256 <<CONF
    access_log off;
$(nginx_fcgi_server "$PORT_B" "$SOCK_B")
CONF
teardown() {
	[ -f "$N2/nginx.pid" ] && nginx -p "$N2" -c "$N2/nginx.conf" -s stop 2>/dev/null
	[ -f "$PID_B" ] && kill -TERM "$(cat "$PID_B")" 2>/dev/null
	stack_down
}
trap teardown EXIT
nginx -p "$N2" -c "$N2/nginx.conf" || { echo "window: nginx for host B did not start"; exit 1; }
"$BUILD/sessiond" --config "$CONF_B" </dev/null >>"$VAR/log/sessiond-b.log" 2>&1 &
echo $! >"$PID_B"
wait_health "$BASE_B" || { echo "window: host B did not start"; exit 1; }

create "auth0|window"
[ -n "$TOKEN" ] || { echo "window: create failed: $STATUS"; exit 1; }
# Reads on B over bash's /dev/tcp (no process started per read): sets V to B's version.
read_b() {
	local resp
	exec 3<>"/dev/tcp/127.0.0.1/$PORT_B"
	printf 'GET /api/sessions/current/ HTTP/1.0\r\nHost: b\r\nAuthorization: Session %s\r\n\r\n' "$TOKEN" >&3
	IFS= read -r -d '' resp <&3
	exec 3<&-
	V=
	[[ $resp =~ \"version\":([0-9]+) ]] && V=${BASH_REMATCH[1]}
}
out=$VAR/window.txt
stale=0
read_b
for r in $(seq 1 "$ROUNDS"); do
	read_b   # B's per-host cache holds the current version
	want=$((V + 1))
	curl -s -o /dev/null -X PATCH -H "Authorization: Session $TOKEN" -H 'Content-Type: application/json' \
		-d "{\"session_data\":{\"round\":$r}}" "$BASE_A/api/sessions/current/"
	t0=${EPOCHREALTIME/[.,]/}
	first=1
	while :; do
		read_b
		[ -n "$V" ] && [ "$V" -ge "$want" ] && break
		[ "$first" = 1 ] && stale=$((stale + 1))
		first=0
		[ $(( ${EPOCHREALTIME/[.,]/} - t0 )) -gt 10000000 ] && { echo "window: round $r: B never showed version $want"; exit 1; }
	done
	echo $(( ${EPOCHREALTIME/[.,]/} - t0 )) >>"$out"
done
sort -n "$out" | awk -v n="$ROUNDS" -v s="$stale" '{ a[NR] = $1 / 1000 } END {
	p50 = a[int((NR - 1) * 0.50) + 1]; p99 = a[int((NR - 1) * 0.99) + 1]
	printf "| cross-host window (PATCH on A answered -> first read on B showing it) | %d rounds | p50 %.1f ms | p99 %.1f ms | max %.1f ms | first read on B stale in %d of %d |\n", n, p50, p99, a[NR], s, n }'
