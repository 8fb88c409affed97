#!/usr/bin/env bash
# Metrics over the real stack with 4 workers: a scripted sequence (creates,
# reads, cache misses, failed authentications, refresh, rotation, logout,
# revocations, an expiry) moves every counter by exactly the expected amount
# whichever workers served it; a worker killed with SIGKILL mid-run resets
# nothing; the exposition passes a strict parser; the sampled gauges match
# the store; the alert rules pass promtool; the logs carry request id, route,
# status and duration, honour log_level, and never a credential.
. "$(dirname "$0")/../lib.sh"
# The store-level cache accounting is exact here; the per-host cache (tested in
# 11_local_cache.sh) is off so every read reaches the store.
stack_up "workers = 4
auth_fail_limit = 0
max_sessions_per_user = 3
metrics_sample_interval = 1
log_level = info
local_cache_entries = 0"

CHECK=$TOP/tests/tools/check-exposition.awk
n_scrape=0
scrape() { # file: GET /metrics/ into file
	req GET /api/sessions/metrics/
	n_scrape=$((n_scrape + 1))
	printf '%s\n' "$BODY" >"$1"
}
# val file series: the sample value of an exact series, 0 when absent.
val() { awk -v k="$2" '$1 == k { v = $2 } END { print (v == "" ? 0 : v) }' "$1"; }
# expect_delta series want: the change of series between $M0 and $M1.
expect_delta() {
	local a b
	a=$(val "$M0" "$1")
	b=$(val "$M1" "$1")
	if [ "$((b - a))" -eq "$2" ]; then pass "$1 +$2"; else fail "$1: moved by $((b - a)), want $2 ($a -> $b)"; fi
}
on_create() { [ "$STATUS" = 201 ] || fail "create $1: $STATUS $BODY"; }
get_current() { as "$1" GET /api/sessions/current/; [ "$STATUS" = "${2:-200}" ] || fail "GET current: $STATUS, want ${2:-200}"; }

[ "$(worker_pids | wc -l)" -eq 4 ] && pass "4 workers running" || fail "workers: $(worker_pids | wc -l)"

# --- the route ----------------------------------------------------------------------------------
M0=$VAR/m0.txt
M1=$VAR/m1.txt
scrape "$VAR/first.txt"
expect_status 200 "GET /api/sessions/metrics/ without credentials"
expect_header Content-Type '^text/plain; version=0\.0\.4; charset=utf-8$' "Prometheus text content type"
expect_header Cache-Control 'no-store' "metrics are not cached"
out=$(awk -f "$CHECK" "$VAR/first.txt") && pass "the exposition passes the strict parser ($out)" || fail "exposition: $out"
req POST /api/sessions/metrics/
expect_status 405 "POST on /metrics/ is 405"

# The parser is not vacuous: each corruption is caught.
bad_case() { # desc sed-script
	sed "$2" "$VAR/first.txt" >"$VAR/bad.txt"
	if awk -f "$CHECK" "$VAR/bad.txt" >/dev/null; then fail "parser accepts $1"; else pass "parser rejects $1"; fi
}
bad_case "a missing TYPE" '/^# TYPE sessiond_sessions_created_total/d'
bad_case "a sample outside its family" 's/^sessiond_cache_hits_total /sessiond_cache_hitz_total /'
bad_case "a bad value" 's/^\(sessiond_cache_hits_total\) .*/\1 twelve/'
bad_case "a non-cumulative bucket" 's/^\(sessiond_session_duration_seconds_bucket{le="+Inf"}\) .*/\1 99/'
bad_case "bad label syntax" 's/{reason="logout"}/{reason=logout}/'
bad_case "a duplicated series" '/^sessiond_cache_hits_total /p'

# --- the scripted sequence --------------------------------------------------------------------------
scrape "$M0"
create 'auth0|amy'; A1=$TOKEN
create 'auth0|amy'; A2=$TOKEN
create 'auth0|amy'; A3=$TOKEN; A3_ID=$SID
create 'auth0|bob'; B1=$TOKEN; B1_ID=$SID
for _ in 1 2 3 4; do create 'auth0|kim'; done; K4=$TOKEN   # the 4th evicts one (cap 3)
for _ in 1 2 3 4 5; do get_current "$A1"; done                # 5 cache hits
psql_q "TRUNCATE session_cache" >/dev/null
get_current "$A1"                                             # miss (read through, refills)
get_current "$A1"; get_current "$A1"                          # 2 hits
get_current "$B1"                                             # miss
# Failed session authentications: malformed (no store access), unknown (a miss), missing.
as "abc" GET /api/sessions/current/
expect_error 401 invalid_session "malformed token"
as "$(openssl rand 32 | base64 | tr '+/' '-_' | tr -d '=\n')" GET /api/sessions/current/
expect_error 401 invalid_session "unknown token"
req GET /api/sessions/current/
expect_error 401 missing_credentials "no token"
# Failed access tokens: expired, wrong audience, unknown key, none, not a JWT.
now=$(date +%s)
bad_jwt() { # desc token
	req POST /api/sessions/create/ -H "Authorization: Bearer $2" -H 'Content-Type: application/json' -d '{}'
	[ "$STATUS" = 401 ] && pass "create with $1 is 401" || fail "create with $1: $STATUS"
}
bad_jwt "an expired JWT" "$(mint_jwt "{\"iss\":\"$ISSUER\",\"aud\":\"$AUDIENCE\",\"sub\":\"auth0|x\",\"exp\":$((now - 3600)),\"iat\":$((now - 7200))}")"
bad_jwt "a JWT for another audience" "$(mint_jwt "{\"iss\":\"$ISSUER\",\"aud\":\"https://other\",\"sub\":\"auth0|x\",\"exp\":$((now + 3600))}")"
bad_jwt "a JWT with an unknown kid" "$(mint_jwt "$(std_claims 'auth0|x')" --kid nope)"
req POST /api/sessions/create/ -H 'Content-Type: application/json' -d '{}'
expect_status 401 "create without a Bearer token"
bad_jwt "a malformed JWT" "not-a.jwt-but.long-enough"
bad_jwt "an opaque access token (not a JWS)" "not-a-jwt-but-long-enough"

# --- a worker killed with SIGKILL mid-run resets no sum ----------------------------------------
scrape "$VAR/before-kill.txt"
victim=$(worker_pids | head -1)
kill -KILL "$victim"
respawned() { [ "$(worker_pids | wc -l)" -eq 4 ] && ! worker_pids | grep -qx "$victim"; }
wait_until 30 respawned
worker_pids | grep -qx "$victim" && fail "worker $victim still there" || pass "worker $victim killed with SIGKILL and respawned ($(worker_pids | wc -l) workers)"
for _ in 1 2 3 4 5 6 7 8; do scrape "$VAR/after-kill.txt"; done   # whichever worker answers
decreased=$(awk 'NR == FNR { if ($1 !~ /^#/) v[$1] = $2; next }
	$1 !~ /^#/ && ($1 in v) && $1 !~ /^sessiond_(workers|sessions_live|table_|store_up|metrics_sample_timestamp)/ && $2 + 0 < v[$1] + 0 { print $1 " " v[$1] " -> " $2 }' \
	"$VAR/before-kill.txt" "$VAR/after-kill.txt")
[ -z "$decreased" ] && pass "no counter went down after the kill" || fail "counters reset by the kill: $decreased"
[ "$(( $(val "$VAR/after-kill.txt" sessiond_worker_starts_total) - $(val "$VAR/before-kill.txt" sessiond_worker_starts_total) ))" -eq 1 ] &&
	pass "sessiond_worker_starts_total counts the respawn" || fail "worker starts: $(val "$VAR/after-kill.txt" sessiond_worker_starts_total)"
[ "$(val "$VAR/after-kill.txt" 'sessiond_sessions_created_total')" -ge 8 ] && pass "creations before the kill still counted" || fail "created reset"

# --- the second half -----------------------------------------------------------------------------------
as "$A1" POST /api/sessions/refresh/ -H 'Content-Type: application/json' -d '{"hours":2}'   # a write: authenticated inside its UPDATE, no cache read
expect_status 200 "refresh"
as "$A2" POST /api/sessions/refresh/ -H 'Content-Type: application/json' -d '{"rotate":true}'   # a write: no cache read, no fill
expect_status 200 "rotate"
A2=$(jq_body '.session_token')
# A1's age at logout, made independent of how long this test took: created 30
# minutes ago, in both tables (no per-host cache here).
psql_q "SET session_replication_role = replica;
        UPDATE sessions SET created_at = now() - interval '30 minutes' WHERE token_hash = sha256(convert_to('$A1', 'UTF8'));
        UPDATE session_cache SET created_at = now() - interval '30 minutes' WHERE token_hash = sha256(convert_to('$A1', 'UTF8'))" >/dev/null
as "$A1" DELETE /api/sessions/current/                                                           # a write: no cache read
expect_status 200 "logout"
as "$A2" DELETE "/api/sessions/$A3_ID/"                                                          # miss (writes fill no cache)
expect_status 200 "revoke one"
as "$K4" POST /api/sessions/invalidate-all/ -H "Content-Length: 0"                               # miss (created before the truncate)
expect_status 200 "invalidate-all"
expect_json '.count' 3 "invalidate-all revoked kim's 3 live sessions"
# Time passing, simulated: both rows edited with the change triggers off (in
# reality expiry changes no row, so the cache row stays until it is presented).
psql_q "SET session_replication_role = replica;
        UPDATE sessions SET expires_at = now() - interval '1 second' WHERE id = '$B1_ID';
        UPDATE session_cache SET expires_at = now() - interval '1 second' WHERE id = '$B1_ID'" >/dev/null
get_current "$B1" 401                                  # hit, found expired: expired +1
get_current "$B1" 401                                  # miss (the cache row went), still expired: not counted again
get_current "$A1" 401                                  # logged out: miss, revoked
get_current "$A3" 401                                  # revoked: miss
req GET /api/sessions/nope/x
expect_status 404 "unknown route"
req PATCH /api/sessions/create/
expect_status 405 "wrong method"
scrape "$M1"

out=$(awk -f "$CHECK" "$M1") && pass "the exposition after the sequence passes the strict parser ($out)" || fail "exposition: $out"

expect_delta sessiond_sessions_created_total 8
expect_delta sessiond_sessions_refreshed_total 1
expect_delta sessiond_sessions_rotated_total 1
expect_delta 'sessiond_sessions_revoked_total{reason="logout"}' 1
expect_delta 'sessiond_sessions_revoked_total{reason="revoke"}' 1
expect_delta 'sessiond_sessions_revoked_total{reason="invalidate_all"}' 3
expect_delta 'sessiond_sessions_revoked_total{reason="session_limit"}' 1
expect_delta sessiond_sessions_expired_total 1
expect_delta sessiond_cache_hits_total 8
expect_delta sessiond_cache_misses_total 8
for r in missing:1 malformed:1 unknown:1 revoked:2 expired:2 other:0; do
	expect_delta "sessiond_auth_failures_total{scheme=\"session\",reason=\"${r%:*}\"}" "${r#*:}"
done
for r in missing:1 malformed:1 expired:1 bad_audience:1 unknown_kid:1 not_jws:1 bad_signature:0 bad_alg:0 other:0; do
	expect_delta "sessiond_auth_failures_total{scheme=\"bearer\",reason=\"${r%:*}\"}" "${r#*:}"
done
expect_delta 'sessiond_auth_failures_total{scheme="service",reason="invalid_key"}' 0
total_auth() { awk '$1 ~ /^sessiond_auth_failures_total\{/ { s += $2 } END { print s + 0 }' "$1"; }
[ $(( $(total_auth "$M1") - $(total_auth "$M0") )) -eq 13 ] && pass "13 failed authentications in all" || fail "auth failures: $(( $(total_auth "$M1") - $(total_auth "$M0") ))"
# Every request of the sequence, by route and status (the scrapes: $M0 itself, the 8 after the kill, before-kill).
for rs in create:201:8 create:401:6 current_get:200:9 current_get:401:7 refresh:200:2 current_delete:200:1 \
	revoke:200:1 invalidate_all:200:1 not_found:404:1 method_not_allowed:405:1 metrics:200:10; do
	IFS=: read -r route st want <<<"$rs"
	expect_delta "sessiond_requests_total{route=\"$route\",status=\"$st\"}" "$want"
done
total() { awk -v p="$2" 'index($1, p) == 1 { s += $2 } END { print s + 0 }' "$1"; }
req_d=$(( $(total "$M1" 'sessiond_requests_total{') - $(total "$M0" 'sessiond_requests_total{') ))
hist_d=$(( $(total "$M1" 'sessiond_request_duration_seconds_count{') - $(total "$M0" 'sessiond_request_duration_seconds_count{') ))
[ "$req_d" -eq 47 ] && pass "47 requests counted in all" || fail "requests: $req_d, want 47"
[ "$hist_d" -eq "$req_d" ] && pass "the duration histogram observed every request ($hist_d)" || fail "histogram count $hist_d != requests $req_d"
awk '$1 ~ /^sessiond_request_duration_seconds_sum\{route="create"\}/ { exit !($2 > 0) }' "$M1" &&
	pass "request duration sum is positive" || fail "create duration sum is 0"
expect_delta sessiond_session_duration_seconds_count 1
expect_delta 'sessiond_session_duration_seconds_bucket{le="900"}' 0
expect_delta 'sessiond_session_duration_seconds_bucket{le="3600"}' 1
for k in query unavailable connect; do expect_delta "sessiond_store_errors_total{kind=\"$k\"}" 0; done
expect_delta sessiond_store_reconnects_total 0

# --- sampled gauges ---------------------------------------------------------------------------------
# A sample taken after the sequence's last change (timestamps are whole seconds).
t_end=$(date +%s)
sampled_after() { req GET /api/sessions/metrics/; [ "$(printf '%s\n' "$BODY" | awk '$1 == "sessiond_metrics_sample_timestamp_seconds" { print $2 }')" -gt "$t_end" ] 2>/dev/null; }
wait_until 60 sampled_after || fail "no sample of the store gauges within 60 s"
scrape "$VAR/gauges.txt"
want_live=$(psql_q "SELECT count(*) FROM sessions WHERE revoked_at IS NULL AND expires_at > now()")
[ "$(val "$VAR/gauges.txt" sessiond_sessions_live)" = "$want_live" ] && pass "sessiond_sessions_live = SELECT count(*) ($want_live)" ||
	fail "sessions_live $(val "$VAR/gauges.txt" sessiond_sessions_live), store says $want_live"
for t in sessions session_cache session_events; do
	want=$(psql_q "SELECT count(*) FROM $t")
	[ "$(val "$VAR/gauges.txt" "sessiond_table_rows{table=\"$t\"}")" = "$want" ] && pass "table_rows{$t} = $want" ||
		fail "table_rows{$t} $(val "$VAR/gauges.txt" "sessiond_table_rows{table=\"$t\"}"), store says $want"
	[ "$(val "$VAR/gauges.txt" "sessiond_table_bytes{table=\"$t\"}")" -gt 0 ] && pass "table_bytes{$t} > 0" || fail "table_bytes{$t}"
done
[ "$(val "$VAR/gauges.txt" sessiond_store_up)" = 1 ] && pass "sessiond_store_up 1" || fail "store_up"
age=$(( $(date +%s) - $(val "$VAR/gauges.txt" sessiond_metrics_sample_timestamp_seconds) ))
# Sampled every second by whichever worker wins the slot; a liveness bound for a loaded machine.
[ "$age" -le 60 ] && pass "sampled ${age}s ago (interval 1s)" || fail "last sample ${age}s ago"
[ "$(val "$VAR/gauges.txt" sessiond_workers)" = 4 ] && pass "sessiond_workers 4 (the killed one no longer counted)" ||
	fail "sessiond_workers $(val "$VAR/gauges.txt" sessiond_workers)"
# One worker samples at a time: at most one sample per second over a few seconds.
n1=$(grep -c 'event=metrics_sample' "$VAR/log/sessiond.log")
[ "$n1" -eq 0 ] && pass "no failed sample logged" || fail "$n1 sample failures logged"
# Sampling is off with 0: no gauges.
(
	sed -i 's/^metrics_sample_interval = .*/metrics_sample_interval = 0/' "$CONF"
	sessiond_restart
) && req GET /api/sessions/metrics/ && {
	printf '%s\n' "$BODY" | grep -q '^sessiond_sessions_live ' && fail "gauges exported with sampling off" || pass "metrics_sample_interval = 0: no sampled gauges"
	printf '%s\n' "$BODY" | awk -f "$CHECK" >/dev/null && pass "exposition without gauges parses" || fail "exposition without gauges"
}
req GET /api/sessions/metrics/
[ "$(printf '%s\n' "$BODY" | awk '$1 == "sessiond_sessions_created_total" { print $2 }')" = 0 ] &&
	pass "a restarted sessiond starts from zero (the region lives with the master)" || fail "created after restart: $(printf '%s\n' "$BODY" | grep created_total)"

# --- logs ------------------------------------------------------------------------------------------------
log=$VAR/log/sessiond.log
grep -qE 'level=info pid=[0-9]+ req=[0-9a-f]{32} event=request method=POST route=create status=201 dur_ms=[0-9.]+$' "$log" &&
	pass "request lines carry req id, route, status, dur_ms" || fail "no well-formed request line"
grep -qE 'event=auth_failed route=create reason=unknown_kid' "$log" && pass "auth failures are logged with their reason" || fail "auth failure line"
[ "$(grep -c 'level=debug' "$log")" -eq 0 ] && pass "log_level = info writes no debug line" || fail "debug lines at info"
sed -i 's/^log_level = .*/log_level = warn/' "$CONF"
sessiond_restart || fail "restart with log_level = warn"
lines=$(wc -l <"$log")
req GET /api/sessions/health/
req GET /api/sessions/current/ -H "Authorization: Session $A2"
sleep 0.2   # an absence is checked: a fixed delay for the lines a worker writes after its response
[ "$(tail -n +$((lines + 1)) "$log" | grep -c 'level=info')" -eq 0 ] && pass "log_level = warn: no info line" || fail "info lines at warn"
sed -i 's/^log_level = .*/log_level = debug/' "$CONF"
sessiond_restart || fail "restart with log_level = debug"
grep -q 'level=debug' "$log" && pass "log_level = debug: debug lines appear" || fail "no debug line at debug"

# --- alert rules -------------------------------------------------------------------------------------------
# promtool comes with the Debian package prometheus (scripts/setup-deps installs it): missing is a failure.
if command -v promtool >/dev/null; then
	out=$(promtool check rules "$TOP/conf/prometheus/sessiond-alerts.yml" 2>&1) && pass "promtool check rules: $(echo "$out" | grep -o '[0-9]* rules found')" || fail "promtool: $out"
	out=$(cd "$TOP/tests/prometheus" && promtool test rules sessiond-alerts.test.yml 2>&1) && pass "promtool test rules: the alerts fire as designed" || fail "promtool test rules: $out"
else
	fail "promtool not installed (Debian package prometheus; run scripts/setup-deps): alert rules not checked"
fi
for a in SessiondSessionCreationFailing SessiondStoreConnectionErrors SessiondExpirySpike; do
	grep -q "alert: $a\$" "$TOP/conf/prometheus/sessiond-alerts.yml" && pass "alert $a shipped" || fail "alert $a missing"
done
# The rules only name metrics sessiond exports.
missing=""
for m in $(grep -o 'sessiond_[a-z_]*' "$TOP/conf/prometheus/sessiond-alerts.yml" | sort -u); do
	grep -q "^# TYPE $m " "$VAR/gauges.txt" || missing="$missing $m"
done
[ -z "$missing" ] && pass "every metric the alerts use is exported" || fail "alerts use unknown metrics:$missing"
