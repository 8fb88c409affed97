#!/usr/bin/env bash
# Soak: SOAK_REQUESTS (default 1,000,000) requests through nginx, a mix of
# GET /current/ (88%), GET /auth/ (5%), PATCH /current/ (5%), POST /create/ (1%)
# and POST /refresh/ (1%), in SOAK_CHUNK_SECONDS (10) wrk chunks. Prints, after every chunk,
# the largest worker's RSS, its private part and its PSS (total, and beyond the
# shared region: PSS - Pss_Shmem, see worker_pss_kib in tests/lib.sh), then the
# error count. Not part of make test.
set -uo pipefail
TOP=$(cd "$(dirname "$0")/../.." && pwd)
TEST_NAME=soak
. "$TOP/tests/lib.sh"
TARGET=${SOAK_REQUESTS:-1000000}
CHUNK=${SOAK_CHUNK_SECONDS:-10}
WORKERS=${SOAK_WORKERS:-2}
stack_up "workers = $WORKERS
auth_fail_limit = 0
log_level = warn"
sed -i "s|access_log $VAR/log/nginx-access.log;|access_log off;|" "$VAR/nginx/nginx.conf"
nginx -p "$VAR/nginx" -c "$VAR/nginx/nginx.conf" -s reload

tokens=$VAR/tokens.txt
seed_sessions "$tokens" 2000 'auth0|soak' || { echo "soak: seeding failed"; exit 1; }
jwt=$(mint_jwt "$(std_claims 'auth0|soak-create')")
{
	echo 'local tokens = {'; sed 's/.*/"&",/' "$tokens"; echo '}'
	cat <<LUA
local i = 0
request = function()
  i = i + 1
  local t = tokens[(i % #tokens) + 1]
  local r = i % 100
  if r < 88 then
    return wrk.format("GET", "/api/sessions/current/", { ["Authorization"] = "Session " .. t })
  elseif r < 93 then
    return wrk.format("GET", "/api/sessions/auth/", { ["Authorization"] = "Session " .. t })
  elseif r < 98 then
    return wrk.format("PATCH", "/api/sessions/current/", { ["Authorization"] = "Session " .. t,
      ["Content-Type"] = "application/json" }, '{"session_data":{"k' .. (i % 5) .. '":' .. i .. '}}')
  elseif r < 99 then
    return wrk.format("POST", "/api/sessions/create/", { ["Authorization"] = "Bearer $jwt", ["Content-Type"] = "application/json" }, "{}")
  else
    return wrk.format("POST", "/api/sessions/refresh/", { ["Authorization"] = "Session " .. t, ["Content-Type"] = "application/json" }, '{"hours":24}')
  end
end
LUA
} >"$VAR/soak.lua"

pids0=$(worker_pids | paste -sd,)
total=0; errors=0; chunk=0
echo "chunk requests_total rss_kib private_kib pss_kib pss_beyond_shared_kib shared_pss_kib"
echo "0 0 $(worker_rss_kib) $(worker_private_kib) $(worker_pss_kib)"
while [ "$total" -lt "$TARGET" ]; do
	out=$(wrk -t2 -c8 -d"$CHUNK"s -s "$VAR/soak.lua" "$BASE")
	n=$(awk '/requests in/ { print $1 }' <<<"$out")
	bad=$(awk '/Non-2xx/ { print $NF }' <<<"$out")
	sock=$(awk '/Socket errors/ { gsub(",", ""); print $4 + $6 + $8 + $10 }' <<<"$out")
	total=$((total + n)); errors=$((errors + ${bad:-0} + ${sock:-0})); chunk=$((chunk + 1))
	echo "$chunk $total $(worker_rss_kib) $(worker_private_kib) $(worker_pss_kib)"
done
[ "$(worker_pids | paste -sd,)" = "$pids0" ] && echo "workers: the same processes throughout (no crash)" || echo "workers changed: $pids0 -> $(worker_pids | paste -sd,)"
echo "soak: $total requests, $errors errors (non-2xx or socket)"
