#!/usr/bin/env bash
# Hostile input and request-level defects (issue 13, items 4-8 and 13-15) over
# the real stack: audit rows bounded per address and window, NUL characters,
# idle_timeout vs touch_interval, odd identity claims and unwritable headers,
# oversized headers through the shipped nginx site, shadowing cookies, an
# empty Session header, billing keeping unflushed activity, stale tokens after
# cleanup not counted as guesses, Clear-Site-Data only when configured.
. "$(dirname "$0")/../lib.sh"
service_key_new
stack_up "auth_fail_limit = 25
auth_fail_window = 600
trusted_proxies = 127.0.0.1
activity_flush_interval = 3600
service_key_file = $SERVICE_KEY_FILE"

new_session() { # sub [xff] [body]: sets TOKEN, SID (STATUS, BODY)
	local jwt
	jwt=$(mint_jwt "$(std_claims "$1")")
	req POST /api/sessions/create/ -H "Authorization: Bearer $jwt" -H 'Content-Type: application/json' \
		-H "X-Forwarded-For: ${2:-192.0.2.1}" -d "${3:-{\}}"
	TOKEN=$(jq_body '.session_token // empty')
	SID=$(jq_body '.session.id // empty')
}
rand_token() { openssl rand 32 | basenc --base64url | tr -d '=\n'; }
metric() { # series: its value now (0 when absent)
	curl -s "$BASE/api/sessions/metrics/" | awk -v k="$1" '$1 == k { v = $2 } END { print (v == "" ? 0 : v) }'
}
code_of() { # curl args...: the status only
	curl -s -o /dev/null -w '%{http_code}' "$@"
}
no_500_in_log() { ! grep -q 'status=5[0-9][0-9]' "$VAR/log/sessiond.log"; }

# --- item 4: no audit row for missing credentials, O(1) rows per address and window ------------
M_MISSING='sessiond_auth_failures_total{scheme="session",reason="missing"}'
M_UNKNOWN='sessiond_auth_failures_total{scheme="session",reason="unknown"}'
m0=$(metric "$M_MISSING")
rows0=$(psql_q "SELECT count(*) FROM session_events WHERE event = 'auth_failed'")
n401=0
for i in $(seq 1 30); do
	p=/api/sessions/current/
	[ $((i % 2)) -eq 0 ] && p=/api/sessions/auth/
	[ "$(code_of -H 'X-Forwarded-For: 198.51.100.7' "$BASE$p")" = 401 ] && n401=$((n401 + 1))
done
[ "$n401" = 30 ] && pass "30 requests without credentials: 401 each" || fail "without credentials: $n401 of 30 were 401"
rows=$(psql_q "SELECT count(*) FROM session_events WHERE event = 'auth_failed'")
[ "$rows" = "$rows0" ] && pass "no audit row for missing credentials (rows $rows0 -> $rows)" || fail "missing credentials wrote $((rows - rows0)) audit rows"
m1=$(metric "$M_MISSING")
[ $((m1 - m0)) -eq 30 ] && pass "the missing-credentials metric moved by 30" || fail "metric moved by $((m1 - m0)), want 30"

u0=$(metric "$M_UNKNOWN")
n401=0
for _ in $(seq 1 20); do
	[ "$(code_of -H "Authorization: Session $(rand_token)" -H 'X-Forwarded-For: 198.51.100.8' "$BASE/api/sessions/current/")" = 401 ] && n401=$((n401 + 1))
done
[ "$n401" = 20 ] && pass "20 unknown tokens from one address: 401 each" || fail "unknown tokens: $n401 of 20 were 401"
u1=$(metric "$M_UNKNOWN")
[ $((u1 - u0)) -eq 20 ] && pass "the unknown-token metric moved by 20" || fail "unknown metric moved by $((u1 - u0)), want 20"
rows=$(psql_q "SELECT count(*) FROM session_events WHERE event = 'auth_failed' AND ip_address = '198.51.100.8'")
[ "$rows" = 1 ] && pass "20 failures from one address in one window: 1 audit row" || fail "audit rows for 20 failures: $rows, want 1"
# Past the limit (25): one more row marks the block, then 429s write nothing.
for _ in $(seq 1 15); do code_of -H "Authorization: Session $(rand_token)" -H 'X-Forwarded-For: 198.51.100.8' "$BASE/api/sessions/current/" >/dev/null; done
as "$(rand_token)" GET /api/sessions/current/ -H 'X-Forwarded-For: 198.51.100.8'
expect_error 429 too_many_failures "the address is blocked past auth_fail_limit"
rows=$(psql_q "SELECT count(*) FROM session_events WHERE event = 'auth_failed' AND ip_address = '198.51.100.8'")
last=$(psql_q "SELECT detail->>'window_failures' FROM session_events WHERE event = 'auth_failed' AND ip_address = '198.51.100.8' ORDER BY id DESC LIMIT 1")
[ "$rows" = 2 ] && [ "$last" = 25 ] && pass "36 failures from one address: 2 audit rows, the last at the limit (window_failures=25)" ||
	fail "audit rows: $rows (last window_failures=$last), want 2 and 25"
other=$(psql_q "SELECT count(*) FROM session_events WHERE event = 'auth_failed' AND ip_address = '198.51.100.9'")
as "$(rand_token)" GET /api/sessions/current/ -H 'X-Forwarded-For: 198.51.100.9'
expect_error 401 invalid_session "another address is not blocked"
[ "$(psql_q "SELECT count(*) FROM session_events WHERE event = 'auth_failed' AND ip_address = '198.51.100.9'")" = $((other + 1)) ] &&
	pass "another address gets its own first row" || fail "no audit row for a new address"

# --- item 5: NUL characters are 400 invalid_field naming the field; nothing stored ----------------------
new_session 'auth0|nul'
T=$TOKEN
as "$T" PATCH /api/sessions/current/ -H 'Content-Type: application/json' -d '{"session_data":{"a":"x\u0000y"}}'
expect_error 400 invalid_field "PATCH session_data with a NUL in a value"
expect_json '.error.message | test("^session_data: ")' true "the message names session_data"
as "$T" PATCH /api/sessions/current/ -H 'Content-Type: application/json' -d '{"onboarding_step":"a\u0000b"}'
expect_error 400 invalid_field "PATCH onboarding_step with a NUL"
expect_json '.error.message | test("^onboarding_step: ")' true "the message names onboarding_step"
as "$T" PATCH /api/sessions/current/ -H 'Content-Type: application/json' -d '{"session_data":{"a\u0000b":1}}'
expect_error 400 invalid_field "PATCH session_data with a NUL in a key"
as "$T" PATCH /api/sessions/current/ -H 'Content-Type: application/json' -d '{"onboarding_step\u0000x":"a"}'
expect_error 400 invalid_field "a NUL in a top-level key (json-c would cut it to onboarding_step)"
as "$T" GET /api/sessions/current/
expect_json '[.version, .onboarding_step, (.session_data | tojson)] | tojson' '[1,null,"{}"]' "nothing was stored (version 1, fields unchanged)"
new_session 'auth0|nul' 192.0.2.1 '{"session_data":{"deep":[{"k":"\u0000"}]}}'
expect_error 400 invalid_field "create with a NUL deep in session_data"
new_session 'auth0|nul' 192.0.2.1 '{"onboarding_step":"a\u0000b"}'
expect_error 400 invalid_field "create with a NUL in onboarding_step"
[ "$(psql_q "SELECT count(*) FROM sessions WHERE user_id = 'auth0|nul'")" = 1 ] && pass "no session created from a body with a NUL" || fail "a session was created from a NUL body"
new_session 'auth0|nul' 192.0.2.1 '{"session_data":{"a":"x\u0001y\u00e9"}}'
expect_status 201 "other escapes (U+0001, U+00E9) are still accepted"
check "no 5xx in the log so far" no_500_in_log

# --- item 6: idle_timeout <= touch_interval is refused at start-up --------------------------------------
bad=$VAR/idle.conf
cp "$CONF" "$bad"
# Another socket: were the check missing, this sessiond must not take over the stack's.
printf 'listen = %s\nidle_timeout = 3\ntouch_interval = 60\n' "$VAR/run/other.sock" >>"$bad"
out=$(env -u SESSIOND_CONF_EXTRA "$BUILD/sessiond" --check-config --config "$bad" 2>&1)
rc=$?
[ "$rc" -ne 0 ] && grep -q 'idle_timeout (3) must be greater than touch_interval (60)' <<<"$out" &&
	pass "idle_timeout 3 with touch_interval 60 is refused with a clear message" || fail "accepted (rc $rc): $out"
env -u SESSIOND_CONF_EXTRA "$BUILD/sessiond" --config "$bad" >"$VAR/idle.out" 2>&1 </dev/null &
p=$!
for _ in $(seq 1 40); do kill -0 "$p" 2>/dev/null || break; sleep 0.05; done
if kill -0 "$p" 2>/dev/null; then
	kill "$p"
	fail "sessiond started with idle_timeout <= touch_interval"
else
	wait "$p"
	rc=$?
	[ "$rc" -ne 0 ] && grep -q 'must be greater than touch_interval' "$VAR/idle.out" && pass "sessiond refuses to start with it (exit $rc)" || fail "start: rc $rc, $(cat "$VAR/idle.out")"
fi
printf 'idle_timeout = 60\n' >>"$bad"
out=$(env -u SESSIOND_CONF_EXTRA "$BUILD/sessiond" --check-config --config "$bad" 2>&1)
[ $? -ne 0 ] && pass "idle_timeout equal to touch_interval is refused too" || fail "idle_timeout = touch_interval accepted"
printf 'idle_timeout = 61\n' >>"$bad"
out=$(env -u SESSIOND_CONF_EXTRA "$BUILD/sessiond" --check-config --config "$bad" 2>&1)
[ $? -eq 0 ] && pass "idle_timeout above touch_interval is accepted" || fail "idle_timeout 61 refused: $out"

# --- item 7: identity claims are bounded and validated; an unwritable header is a 500 -----------------
long=$(head -c 1000 /dev/zero | tr '\0' 'a')
for c in "sub|$long" 'sub|a\r\nX-Evil: 1' 'sub|a b' 'org_id|t\n1' 'email|a\u0007@example.com' "name|$(head -c 1100 /dev/zero | tr '\0' 'n')"; do
	name=${c%%|*}
	val=${c#*|}
	if [ "$name" = sub ]; then claims=$(std_claims "$val"); else claims=$(std_claims 'auth0|claims' "\"$name\":\"$val\""); fi
	req POST /api/sessions/create/ -H "Authorization: Bearer $(mint_jwt "$claims")" -H 'Content-Type: application/json' -d '{}'
	expect_error 401 invalid_token "a $name claim like '${val:0:12}…' is refused at create"
	expect_json ".error.message | contains(\"bad_claim: $name\")" true "the message names the $name claim"
done
[ "$(psql_q "SELECT count(*) FROM sessions WHERE length(user_id) > 255 OR user_id ~ '[[:cntrl:] ]' OR tenant_id ~ '[[:cntrl:]]' OR user_name ~ '[[:cntrl:]]' OR user_email ~ '[[:cntrl:]]'")" = 0 ] &&
	pass "no session stored from a refused claim" || fail "a session with an odd claim was stored"
max=$(head -c 255 /dev/zero | tr '\0' 'u')
new_session "$max"
expect_status 201 "a sub of 255 bytes (the limit) is accepted"
req GET /api/sessions/auth/ -H "Authorization: Session $TOKEN"
expect_status 204 "/auth/ for it"
[ "$(header X-Session-User)" = "$max" ] && pass "X-Session-User carries the whole 255-byte sub" || fail "X-Session-User: $(header X-Session-User | head -c 40)…"
# A row written before these checks (or by hand) with CR/LF in user_id: /auth/ must not answer 204 without the header.
EVIL=$(rand_token)
psql_q "INSERT INTO sessions (id, token_hash, user_id, expires_at)
	VALUES (gen_random_uuid(), sha256(convert_to('$EVIL', 'UTF8')), 'evil' || chr(13) || chr(10) || 'X-Evil: 1', now() + interval '1 hour')" >/dev/null
for i in 1 2; do # the second time from the per-host cache
	req GET /api/sessions/auth/ -H "Authorization: Session $EVIL"
	expect_status 500 "/auth/ with a user id that cannot be a header (pass $i)"
	[ -z "$(header X-Session-User)" ] && [ -z "$(header X-Evil)" ] && pass "no X-Session-User, no injected header (pass $i)" || fail "headers leaked: $(cat "$HDRS")"
done
grep -q 'event=header_refused name=X-Session-User reason=line_break' "$VAR/log/sessiond.log" && pass "the refused header is logged" || fail "no header_refused line"
grep -q 'X-Evil' "$VAR/log/sessiond.log" && fail "the header value reached the log" || pass "the header value is not logged"

# --- item 8: oversized headers, shadowing cookies, an empty Session header ------------------------------
new_session 'auth0|hdr'
HT=$TOKEN
big=$(head -c 7000 /dev/zero | tr '\0' 'h')
args=()
for i in $(seq 1 10); do args+=(-H "X-Big-$i: $big"); done
req GET /api/sessions/current/ -H "Authorization: Session $HT" "${args[@]}"
expect_error 431 headers_too_large "70 KB of request headers: 431 in the JSON shape (nginx)"
expect_header Content-Type '^application/json' "431 is JSON"
req GET /api/sessions/current/ -H "Authorization: Session $HT" -H "X-One: $(head -c 11000 /dev/zero | tr '\0' 'o')"
expect_error 431 headers_too_large "one 11 KB header: 431 JSON"
req GET "/api/sessions/current/?$(head -c 11000 /dev/zero | tr '\0' 'q')" -H "Authorization: Session $HT"
expect_error 414 uri_too_long "an 11 KB URI: 414 JSON"
# The worst case for FastCGI parameters: a long URI plus as many empty tiny
# headers as nginx takes (each "aN:" line becomes a longer HTTP_AN parameter).
long_uri="/api/sessions/current/?$(head -c 9000 /dev/zero | tr '\0' 'q')"
statuses=""
for case in 9k:1000 9k:2800 9k:5000 short:1000 short:2000 short:2400 short:2800 short:3200 short:5000; do
	n=${case#*:}
	uri=/api/sessions/current/
	[ "${case%%:*}" = 9k ] && uri=$long_uri
	{
		printf 'GET %s HTTP/1.1\r\nHost: x\r\nAuthorization: Session %s\r\n' "$uri" "$HT"
		for i in $(seq 1 "$n"); do printf 'a%d:\r\n' "$i"; done
		printf 'Connection: close\r\n\r\n'
	} >"$VAR/tiny.req"
	s=$(timeout 10 bash -c 'exec 3<>"/dev/tcp/127.0.0.1/$1"; cat "$2" >&3; head -c 4096 <&3' _ "$PORT" "$VAR/tiny.req" | tr -d '\r' | awk 'NR == 1 { st = $2 } /^Content-Type: application\/json/ { j = 1 } END { print st (j ? "j" : "") }')
	statuses="$statuses $case:$s"
done
bad_flood=0
for e in $statuses; do [[ "$e" =~ :(200|4[0-9][0-9])j$ ]] || bad_flood=1; done
[ "$bad_flood" = 1 ] && fail "tiny-header floods: $statuses (want 200 or 4xx, JSON)" ||
	pass "tiny-header floods (with a short or a 9 KB URI): JSON answers, never the FastCGI record limit's 500 ($statuses)"
tok8=$(head -c 8300 /dev/zero | tr '\0' 'J')
req POST /api/sessions/create/ -H "Authorization: Bearer $tok8" -H 'Content-Type: application/json' -d '{}'
expect_error 401 invalid_token "an 8.3 KB bearer token still reaches sessiond (401 from it, not nginx)"

STALE=$(rand_token)
req GET /api/sessions/current/ -H "Cookie: session_token=$STALE; session_token=$HT"
expect_status 200 "a stale cookie before the live one: the live one is used"
req GET /api/sessions/current/ -H "Cookie: session_token=$HT; session_token=$STALE"
expect_status 200 "the live cookie first"
req GET /api/sessions/current/ -H "Cookie: session_token=garbage; other=1; session_token=$HT"
expect_status 200 "a malformed shadowing cookie is skipped"
req GET /api/sessions/current/ -H "Cookie: session_token=$(rand_token); session_token=$(rand_token); session_token=$(rand_token); session_token=$(rand_token); session_token=$HT"
expect_error 401 invalid_session "only the first 4 same-name cookies are tried (documented bound)"
req GET /api/sessions/current/ -H "Cookie: session_token=$STALE; session_token=$(rand_token)"
expect_error 401 invalid_session "no live cookie: 401"
req GET /api/sessions/current/ -H 'Authorization: Session' -H "Cookie: session_token=$HT"
expect_error 401 missing_credentials "'Authorization: Session' with no token never falls back to the cookie"
req GET /api/sessions/current/ -H 'Authorization: Session    ' -H "Cookie: session_token=$HT"
expect_error 401 missing_credentials "'Authorization: Session' with blanks never falls back to the cookie"
req GET /api/sessions/current/ -H 'Authorization: Session a b' -H "Cookie: session_token=$HT"
expect_error 401 invalid_session "a malformed Session header never falls back to the cookie"
req GET /api/sessions/current/ -H 'Authorization: Bearer x' -H "Cookie: session_token=$HT"
expect_status 200 "another scheme is not a Session header: the cookie is used"

# --- item 13: a billing update keeps activity not yet flushed --------------------------------------------
new_session 'auth0|bill'
BT=$TOKEN
BSID=$SID
# The cache row first: moving sessions.last_activity back keeps the cache's fresher value (sessions_keep_activity).
psql_q "UPDATE session_cache SET last_activity = now() - interval '10 minutes', flushed_activity = now() - interval '10 minutes' WHERE id = '$BSID';
	UPDATE sessions SET last_activity = now() - interval '10 minutes' WHERE id = '$BSID'" >/dev/null
as "$BT" GET /api/sessions/current/
expect_status 200 "touch the session"
pre=$(psql_q "SELECT (SELECT last_activity < now() - interval '5 minutes' FROM sessions WHERE id = '$BSID')::text || ',' || (SELECT last_activity > now() - interval '1 minute' FROM session_cache WHERE id = '$BSID')::text")
[ "$pre" = "true,true" ] && pass "the touch is in the cache row only" || fail "precondition: $pre"
req PATCH '/api/sessions/internal/users/auth0%7Cbill/' -H "Authorization: Service $SERVICE_KEY" -H 'Content-Type: application/json' -d '{"subscription_plan":"pro"}'
expect_json '.count' 1 "billing updated the session"
[ "$(psql_q "SELECT last_activity > now() - interval '1 minute' FROM sessions WHERE id = '$BSID'")" = t ] &&
	pass "sessions.last_activity kept the cached activity across the billing update" ||
	fail "activity lost: sessions.last_activity = $(psql_q "SELECT last_activity FROM sessions WHERE id = '$BSID'")"
as "$BT" GET /api/sessions/current/
expect_json '[.subscription_plan, (.last_activity | fromdateiso8601 > now - 60)] | tojson' '["pro",true]' "the session shows the plan and the recent activity"

# --- item 14: tokens of cleaned-up sessions are not guesses --------------------------------------------
new_session 'auth0|stale' 203.0.113.5
S1=$TOKEN
new_session 'auth0|stale' 203.0.113.5
S2=$TOKEN
as "$S1" DELETE /api/sessions/current/
expect_status 200 "log out"
as "$S2" POST /api/sessions/refresh/ -H 'Content-Type: application/json' -d '{"rotate":true}'
S2NEW=$(jq_body '.session_token')
new_session 'auth0|stale' 203.0.113.5
S3=$TOKEN
psql_q "UPDATE sessions SET expires_at = now() - interval '1 second' WHERE token_hash = sha256(convert_to('$S3', 'UTF8'))" >/dev/null
# cleanup's cutoff is whole seconds (revoked or expired at or before it): let the logout's second pass.
sleep 1.2
out=$("$BUILD/cleanup_sessions" --config "$CONF" 2>&1)
grep -q '^cleanup sessions_revoked=[1-9]' <<<"$out" && grep -q '^cleanup sessions_expired=[1-9]' <<<"$out" &&
	pass "cleanup deleted the revoked and the expired session" || fail "cleanup: $out"
[ "$(psql_q "SELECT count(*) FROM sessions WHERE token_hash IN (sha256(convert_to('$S1', 'UTF8')), sha256(convert_to('$S3', 'UTF8')))")" = 0 ] &&
	pass "their rows are gone" || fail "rows still there"
g0=$(psql_q "SELECT count(*) FROM session_events WHERE event = 'auth_failed' AND ip_address = '203.0.113.5'")
codes=""
for _ in $(seq 1 30); do
	codes="$codes $(code_of -H "Authorization: Session $S1" -H 'X-Forwarded-For: 203.0.113.5' "$BASE/api/sessions/current/")"
	codes="$codes $(code_of -H "Authorization: Session $S2" -H 'X-Forwarded-For: 203.0.113.5' "$BASE/api/sessions/current/")"
done
[ "$(tr ' ' '\n' <<<"$codes" | sort -u | tr -d '\n')" = 401 ] && pass "60 requests with a cleaned-up and a rotated token from one address: all 401, never 429" ||
	fail "statuses: $(tr ' ' '\n' <<<"$codes" | sort | uniq -c | tr '\n' ' ')"
as "$S1" GET /api/sessions/current/ -H 'X-Forwarded-For: 203.0.113.5'
expect_error 401 invalid_session "the logged-out token after cleanup: invalid_session, as before cleanup"
as "$S3" GET /api/sessions/current/ -H 'X-Forwarded-For: 203.0.113.5'
expect_error 401 session_expired "the expired token after cleanup: session_expired, as before cleanup"
as "$S2NEW" GET /api/sessions/current/ -H 'X-Forwarded-For: 203.0.113.5'
expect_status 200 "the user's live session from the same address still works"
g1=$(psql_q "SELECT count(*) FROM session_events WHERE event = 'auth_failed' AND ip_address = '203.0.113.5'")
[ $((g1 - g0)) -le 1 ] && pass "61 stale-token failures: $((g1 - g0)) audit row(s)" || fail "stale tokens wrote $((g1 - g0)) audit rows"
grep -q "event=auth_failed route=current_get reason=revoked addr=203.0.113.5 window_failures=0" "$VAR/log/sessiond.log" &&
	pass "logged as revoked, not counted (window_failures=0)" || fail "no uncounted revoked line in the log"
[ "$(psql_q "SELECT string_agg(reason, ',' ORDER BY reason) FROM gone_tokens")" = "expired,revoked,rotated" ] &&
	pass "gone_tokens holds the three hashes with their reason" || fail "gone_tokens: $(psql_q 'SELECT reason FROM gone_tokens')"
psql_q "SELECT token_hash FROM gone_tokens" | grep -qF -e "$S1" -e "$S2" -e "$S3" && fail "a token in gone_tokens" || pass "only hashes are kept"
psql_q "UPDATE gone_tokens SET keep_from = now() - interval '8 days' WHERE reason = 'revoked'" >/dev/null
out=$("$BUILD/cleanup_sessions" --config "$CONF" 2>&1)
grep -q '^cleanup gone_tokens=1$' <<<"$out" && [ "$(psql_q "SELECT count(*) FROM gone_tokens")" = 2 ] &&
	pass "cleanup drops a record max_lifetime after it could last be used" || fail "gone_tokens cleanup: $out"

# --- item 15: Clear-Site-Data only when configured; the session cookie is always cleared ----------------
new_session 'auth0|csd'
as "$TOKEN" DELETE /api/sessions/current/
expect_status 200 "logout"
[ -z "$(header Clear-Site-Data)" ] && pass "no Clear-Site-Data by default" || fail "Clear-Site-Data: $(header Clear-Site-Data)"
expect_header Set-Cookie '^session_token=; Path=/; Max-Age=0' "the session cookie is cleared with Max-Age=0"
new_session 'auth0|csd'
as "$TOKEN" POST /api/sessions/invalidate-all/ -H 'Content-Type: application/json' -d '{}'
[ -z "$(header Clear-Site-Data)" ] && pass "no Clear-Site-Data on invalidate-all by default" || fail "Clear-Site-Data on invalidate-all"
expect_header Set-Cookie '^session_token=; Path=/; Max-Age=0' "invalidate-all clears the session cookie"
printf 'logout_clear_site_data = on\n' >>"$CONF"
sessiond_restart || fail "restart with logout_clear_site_data"
new_session 'auth0|csd'
as "$TOKEN" DELETE /api/sessions/current/
expect_header Clear-Site-Data '^"cookies"$' "logout_clear_site_data = on: Clear-Site-Data on logout"
expect_header Set-Cookie '^session_token=; Path=/; Max-Age=0' "and the cookie cleared"

check "no 5xx in the log except the refused-header ones" bash -c "! grep 'status=5[0-9][0-9]' '$VAR/log/sessiond.log' | grep -v 'route=auth status=500'"
