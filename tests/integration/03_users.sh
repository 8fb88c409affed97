#!/usr/bin/env bash
# A user's sessions over the real stack with 4 workers: listing, revoking,
# invalidate-all, cross-user isolation, revocation seen by every worker on the
# next request, the session cap, the service route, the brute-force guard.
. "$(dirname "$0")/../lib.sh"
service_key_new
stack_up "workers = 4
max_sessions_per_user = 3
touch_interval = 0
auth_fail_limit = 5
auth_fail_window = 30
trusted_proxies = 127.0.0.1
service_key_file = $SERVICE_KEY_FILE"

CREATE_CLAIMS='"org_id":"tenant-9"'
CREATE_ARGS=(-H "User-Agent: test-agent/{sub}" -H "X-Forwarded-For: 192.0.2.1")

[ "$(worker_pids | wc -l)" -eq 4 ] && pass "4 workers running" || fail "workers: $(worker_pids | wc -l)"

# --- list ----------------------------------------------------------------------------------
create 'auth0|ann'; A1=$TOKEN; A1_ID=$SID
create 'auth0|ann'; A2=$TOKEN; A2_ID=$SID
create 'auth0|ben'; B1=$TOKEN; B1_ID=$SID
as "$A1" GET /api/sessions/
expect_status 200 "list"
expect_json '.count' '2' "list has only the caller's 2 sessions"
expect_json '[.sessions[].user.id] | unique | join(",")' 'auth0|ann' "no other user's session listed"
expect_json '[.sessions[] | select(.current)] | .[0].id' "$A1_ID" "the current session is marked"
expect_json '[.sessions[] | select(.current | not)] | .[0].id' "$A2_ID" "the other session is not"
expect_json '.sessions[0].ip_address + " " + .sessions[0].user_agent' '192.0.2.1 test-agent/auth0|ann' "IP (via trusted proxy) and user agent listed"
printf '%s' "$BODY" | grep -qF -e "$A1" -e "$A2" && fail "list leaks a token" || pass "list never returns tokens"
as "$A2" GET /api/sessions/current/ >/dev/null
as "$A1" GET /api/sessions/
expect_json '[.sessions[].last_activity] == ([.sessions[].last_activity] | sort | reverse)' 'true' "newest activity first"
expect_json '.sessions[0].current' 'true' "the caller's session was just active: listed first"

# --- isolation and revoke one ---------------------------------------------------------------------
as "$A1" DELETE "/api/sessions/$B1_ID/"
expect_error 404 session_not_found "revoking another user's session is 404"
other=$BODY
as "$A1" DELETE "/api/sessions/00000000-0000-4000-8000-000000000000/"
[ "$BODY" = "$other" ] && [ "$STATUS" = 404 ] && pass "another user's id is indistinguishable from an unknown id" || fail "404 bodies differ: $BODY vs $other"
as "$A1" DELETE "/api/sessions/not-a-uuid/"
expect_error 404 not_found "a malformed id is 404 (no such route)"
as "$B1" GET /api/sessions/current/
expect_status 200 "ben's session untouched"
as "$A1" DELETE "/api/sessions/$A2_ID/"
expect_status 200 "revoke one of my sessions"
as "$A2" GET /api/sessions/current/
expect_error 401 invalid_session "the revoked session is dead"
as "$A1" DELETE "/api/sessions/$A2_ID/"
expect_error 404 session_not_found "revoking it again is 404"
as "$A1" PATCH "/api/sessions/$A1_ID/"
expect_error 405 method_not_allowed "PATCH on /{id}/ is 405"

# --- revocation is honoured by every worker on the very next request -----------------------------
create 'auth0|cat'; C1=$TOKEN
create 'auth0|cat'; C2=$TOKEN
for _ in $(seq 1 12); do as "$C1" GET /api/sessions/current/; done
expect_status 200 "warm on all workers"
as "$C2" DELETE "/api/sessions/$(psql_q "SELECT id FROM sessions s WHERE user_id = 'auth0|cat' ORDER BY created_at LIMIT 1")/"
expect_status 200 "revoke from another session"
expect_revoked_everywhere "$C1"

# --- invalidate-all ----------------------------------------------------------------------------------
create 'auth0|dan'; D1=$TOKEN
create 'auth0|dan'; D2=$TOKEN
create 'auth0|dan'; D3=$TOKEN
create 'auth0|eve'; E1=$TOKEN
as "$D1" POST /api/sessions/invalidate-all/ -H 'Content-Type: application/json' -d '{"keep_current":true}'
expect_status 200 "invalidate-all keeping the current one"
expect_json '.count' '2' "count is exactly the others"
as "$D1" GET /api/sessions/current/
expect_status 200 "the current session is kept"
as "$D2" GET /api/sessions/current/
expect_error 401 invalid_session "the others are revoked"
as "$E1" GET /api/sessions/current/
expect_status 200 "another user's session is untouched"
as "$D1" POST /api/sessions/invalidate-all/ -H 'Content-Type: application/json' -d '{"keep_current":"yes"}'
expect_error 400 invalid_field "keep_current must be boolean"
as "$D1" POST /api/sessions/invalidate-all/ -H 'Content-Length: 0'
expect_json '.count' '1' "invalidate-all with no body revokes all, count 1"
expect_header Set-Cookie '^session_token=; Path=/; Max-Age=0' "invalidate-all clears the session cookie"
[ -z "$(header Clear-Site-Data)" ] && pass "no Clear-Site-Data (logout_clear_site_data off)" || fail "Clear-Site-Data sent by default"
as "$D1" GET /api/sessions/current/
expect_error 401 invalid_session "then the current one is gone too"
[ "$(psql_q "SELECT count(*) FROM session_cache c JOIN sessions s USING (id) WHERE s.revoked_at IS NOT NULL")" = 0 ] && pass "no revoked session left in the cache" || fail "revoked rows cached"

# --- session cap: the least recently active goes ---------------------------------------------------------
create 'auth0|fay'; F1=$TOKEN
create 'auth0|fay'; F2=$TOKEN
create 'auth0|fay'; F3=$TOKEN
# Activity is compared in PostgreSQL's clock: wait until it is past the creations by more than a second.
past_creations() { [ "$(psql_q "SELECT clock_timestamp() > max(created_at) + interval '1.1 second' FROM sessions WHERE user_id = 'auth0|fay'")" = t ]; }
wait_until 30 past_creations
as "$F1" GET /api/sessions/current/  # F1 is now more recent than F2
create 'auth0|fay'; F4=$TOKEN
as "$F2" GET /api/sessions/current/
expect_error 401 invalid_session "the 4th session evicts the least recently active (F2)"
ok=1; for t in "$F1" "$F3" "$F4"; do as "$t" GET /api/sessions/current/; [ "$STATUS" = 200 ] || ok=0; done
[ "$ok" = 1 ] && pass "the other three stay" || fail "cap evicted the wrong session"
[ "$(psql_q "SELECT count(*) FROM sessions WHERE user_id = 'auth0|fay' AND revoked_at IS NULL")" = 3 ] && pass "exactly max_sessions_per_user live" || fail "cap count"

# --- the service route -------------------------------------------------------------------------------------
create 'auth0|gus'; G1=$TOKEN
create 'auth0|gus'; G2=$TOKEN
svc() { req PATCH "/api/sessions/internal/users/$1/" -H "Authorization: Service $2" -H 'Content-Type: application/json' -d "$3"; }
svc 'auth0%7Cgus' "wrong-key-0123456789" '{"subscription_plan":"pro"}'
expect_error 401 invalid_service_key "service route with a wrong key"
expect_header WWW-Authenticate '^Service$' "names the Service scheme"
req PATCH '/api/sessions/internal/users/auth0%7Cgus/' -H "Authorization: Session $G1" -H 'Content-Type: application/json' -d '{"subscription_plan":"pro"}'
expect_error 401 invalid_service_key "a session token is not a service key"
svc 'auth0%7Cgus' "$SERVICE_KEY" '{"subscription_plan":"pro","subscription_status":"active"}'
expect_status 200 "service route sets billing"
expect_json '.count' '2' "count of the user's live sessions"
as "$G1" GET /api/sessions/current/
expect_json '.subscription_plan' 'pro' "the session sees the new plan"
as "$G2" GET /api/sessions/current/
expect_json '.subscription_plan' 'pro' "every session of the user does"
as "$B1" GET /api/sessions/current/
expect_json '.subscription_plan' 'free' "other users keep theirs"
create 'auth0|gus'
expect_json '.session.subscription_plan' 'pro' "a new session starts from the recorded plan"
svc 'auth0%7Cgus' "$SERVICE_KEY" '{"plan":"x"}'
expect_error 400 unknown_field "service route: unknown field"
svc 'auth0%7Cgus' "$SERVICE_KEY" '{}'
expect_error 400 invalid_body "service route: nothing to set"
svc 'auth0%7Cnobody' "$SERVICE_KEY" '{"subscription_status":"past_due"}'
expect_json '.count' '0' "a user with no session: count 0 (billing recorded)"

# --- brute-force guard ------------------------------------------------------------------------------------------
bad="$(printf 'B%.0s' $(seq 1 43))"
got=""
for i in 1 2 3 4 5; do
	req GET /api/sessions/current/ -H "Authorization: Session $bad" -H 'X-Forwarded-For: 192.0.2.66'
	got="$got$STATUS "
done
[ "$got" = "401 401 401 401 401 " ] && pass "5 failures from 192.0.2.66 answered 401" || fail "failures answered: $got"
req GET /api/sessions/current/ -H "Authorization: Session $G1" -H 'X-Forwarded-For: 192.0.2.66'
expect_error 429 too_many_failures "past the limit the address gets 429, even with a valid token"
ra=$(header Retry-After)
[ -n "$ra" ] && [ "$ra" -ge 1 ] && [ "$ra" -le 30 ] && pass "Retry-After is the rest of the window ($ra s)" || fail "Retry-After '$ra'"
req POST /api/sessions/create/ -H "Authorization: Bearer x" -H 'X-Forwarded-For: 192.0.2.66'
expect_status 429 "create is guarded too"
req GET /api/sessions/current/ -H "Authorization: Session $G1" -H 'X-Forwarded-For: 192.0.2.67'
expect_status 200 "another address is not affected"
req GET /api/sessions/health/ -H 'X-Forwarded-For: 192.0.2.66'
expect_status 200 "health is not guarded"
sleep "$ra"; sleep 0.2   # the guard's window is what is checked: a fixed wait of Retry-After (+0.2 s)
req GET /api/sessions/current/ -H "Authorization: Session $G1" -H 'X-Forwarded-For: 192.0.2.66'
expect_status 200 "service again after the window"
for i in 1 2 3 4 5; do
	req POST /api/sessions/create/ -H "Authorization: Bearer not.a.jwt" -H 'X-Forwarded-For: 192.0.2.70' -H 'Content-Type: application/json' -d '{}'
done
expect_error 401 invalid_token "a bad JWT is 401"
req POST /api/sessions/create/ -H "Authorization: Bearer not.a.jwt" -H 'X-Forwarded-For: 192.0.2.70' -H 'Content-Type: application/json' -d '{}'
expect_status 429 "failed JWT verifications count too"
# A long forged chain: the address nearest our proxy is the one counted.
chain=$(for i in $(seq 1 20); do printf '198.51.100.%d, ' "$i"; done)192.0.2.77
for i in 1 2 3 4 5; do req GET /api/sessions/current/ -H "Authorization: Session $bad" -H "X-Forwarded-For: $chain"; done
req GET /api/sessions/current/ -H "Authorization: Session $G1" -H 'X-Forwarded-For: 192.0.2.77'
expect_status 429 "a 21-entry X-Forwarded-For is attributed to its right-most untrusted address"
req GET /api/sessions/current/ -H "Authorization: Session $G1" -H 'X-Forwarded-For: 198.51.100.1'
expect_status 200 "not to an address the client wrote further left"
# X-Forwarded-For is believed only from trusted proxies: restart without them.
printf 'trusted_proxies = \n' >>"$CONF"
sessiond_restart
for i in 1 2 3 4 5; do req GET /api/sessions/current/ -H "Authorization: Session $bad" -H "X-Forwarded-For: 192.0.2.$((100 + i))"; done
req GET /api/sessions/current/ -H "Authorization: Session $G1" -H 'X-Forwarded-For: 192.0.2.99'
expect_status 429 "an untrusted X-Forwarded-For does not dodge the guard"
