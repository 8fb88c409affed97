#!/usr/bin/env bash
# Measures nginx -> sessiond with and without upstream keepalive
# (fastcgi_keep_conn on + keepalive N), to back the choice in
# conf/nginx/sessiond.conf. Loopback only, bounded in time; not part of make test.
#
#   tests/bench/keepalive.sh [WORKERS=4] [KEEPALIVE=4] [CONNS=32] [SECONDS=5]
# Needs wrk. Prints requests/s and latency percentiles for both variants.
. "$(dirname "$0")/../lib.sh"
W=${1:-4} K=${2:-4} C=${3:-32} D=${4:-5}
command -v wrk >/dev/null || { echo "wrk is not installed (apt-get install wrk)"; exit 1; }
export SESSIOND_WORKERS=$W
stack_up
N=$VAR/nginx
run() { # label
	echo "== $1 (workers=$W, $C client connections, ${D}s)"
	wrk -t2 -c"$C" -d"${D}s" --latency "$BASE/api/sessions/health/" |
		grep -E 'Requests/sec|^ +(50|90|99)%|Non-2xx|Socket errors'
}
run "no upstream keepalive (as shipped)"
# The shipped site plus keepalive: the only change is in the upstream and the location.
sed -i -e "s|^\(    server unix:.*\)|\1\n    keepalive $K;|" \
       -e "s|^\(        fastcgi_pass sessiond;\)|\1\n        fastcgi_keep_conn on;|" "$N/site.conf"
nginx -p "$N" -c "$N/nginx.conf" -s reload
sleep 0.5
run "fastcgi_keep_conn on + keepalive $K"
