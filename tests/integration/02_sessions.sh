#!/usr/bin/env bash
# Session core over the real stack: the frontend's happy path, JWT rejections,
# malformed tokens and bodies, field ownership, versions, cookies and CSRF,
# refresh bounds and rotation, concurrent PATCHes, the cache emptied, a
# PostgreSQL crash, and no raw token anywhere afterwards.
. "$(dirname "$0")/../lib.sh"
# The guard is tested in 03_users; here every request comes from 127.0.0.1.
stack_up "auth_fail_limit = 0"
TOKENS=$VAR/tokens.txt   # every token and JWT this test saw, checked against logs and tables at the end
: >"$TOKENS"
keep() { printf '%s\n' "$1" >>"$TOKENS"; }

CREATE_CLAIMS='"email":"ada@example.com","name":"Ada","picture":"https://p/a.png","org_id":"t-1","org_name":"Acme"'
on_create() { keep "$JWT"; if [ -n "$TOKEN" ]; then keep "$TOKEN"; fi; }
json() { printf '%s' "$1"; }

# --- the happy path, in the order a frontend uses it -------------------------------------
create 'auth0|ada' '{"needs_onboarding":true,"onboarding_step":"business_info","session_type":"web","subscription_plan":"free","session_data":{"theme":"dark"}}'
expect_status 201 "create"
[ "${#TOKEN}" -eq 43 ] && pass "session token is 43 base64url chars (256 bits)" || fail "token length ${#TOKEN}"
expect_json '.session.user.id' 'auth0|ada' "user.id is the JWT sub"
expect_json '.session.user.email + "|" + .session.user.name + "|" + .session.user.picture' 'ada@example.com|Ada|https://p/a.png' "user claims"
expect_json '.session.tenant.id + "|" + .session.tenant.name' 't-1|Acme' "tenant from claims"
expect_json '.session.subscription_plan + "|" + .session.subscription_status' 'free|active' "billing defaults"
expect_json '.session.session_data.theme' 'dark' "session_data from the body"
expect_json '.session.version' '1' "version starts at 1"
expect_json '.expires_at == .session.expires_at' 'true' "expires_at at top level"
expect_json '[.session | keys[]] | join(",")' 'created_at,expires_at,id,is_active,is_expired,last_activity,needs_onboarding,onboarding_completed,onboarding_step,session_data,session_type,subscription_plan,subscription_status,tenant,updated_at,user,version' "session object has exactly the SPEC fields"
expect_json '.session.created_at | test("^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z$")' 'true' "timestamps are RFC 3339 UTC"
created=$(jq_body '.session.created_at | fromdateiso8601')
expires=$(jq_body '.session.expires_at | fromdateiso8601')
[ $((expires - created)) -eq 86400 ] && pass "default lifetime 24 h" || fail "lifetime $((expires - created))"
expect_header Set-Cookie "^session_token=$TOKEN; Path=/; Max-Age=[0-9]+; HttpOnly; SameSite=Lax$" "Set-Cookie on create"
T1=$TOKEN
SID=$(jq_body .session.id)

as "$T1" GET /api/sessions/current/
expect_status 200 "current"
expect_json '.id' "$SID" "current returns the session"
expect_header Cache-Control '^no-store$' "no-store on current"
as "$T1" PATCH /api/sessions/current/ -H 'Content-Type: application/json' -d '{"onboarding_completed":true,"needs_onboarding":false,"onboarding_step":null,"session_data":{"lang":"fr","theme":null}}'
expect_status 200 "patch"
expect_json '.onboarding_completed and (.needs_onboarding | not) and .onboarding_step == null' 'true' "patched fields"
expect_json '.session_data | tojson' '{"lang":"fr"}' "session_data merged per RFC 7396 (null removes)"
expect_json '.version' '2' "version increases"
expect_header ETag '^"2"$' "ETag carries the version"
# Merge patch (RFC 7396) on both of its paths: a flat patch is a concatenation,
# one with nulls or objects goes through the recursive merge (sql/011).
for c in '{"a":1,"o":{"x":1,"y":[1]}}|{"b":"s","a":[2]}' '{"a":1,"o":{"x":1,"y":[1]}}|{"o":{"y":null,"z":2}}' \
	'{"a":1,"o":{"x":1}}|{"o":3,"n":null}' '{"a":1}|{"a":{"deep":{"er":null,"k":true}}}' '{"a":1}|{}' '{"a":{"b":1}}|{"a":"x","c":{"d":null}}'; do
	t=${c%%|*} p=${c#*|}
	create 'auth0|merge'
	as "$TOKEN" PATCH /api/sessions/current/ -H 'Content-Type: application/json' -d "{\"session_data\":$t}"
	as "$TOKEN" PATCH /api/sessions/current/ -H 'Content-Type: application/json' -d "{\"session_data\":$p}"
	want=$(psql_q "SELECT sessiond_merge_patch('$t'::jsonb, '$p'::jsonb)::text")
	[ "$(jq_body '.session_data' | jq -cS .)" = "$(jq -cS . <<<"$want")" ] &&
		pass "merge patch $p onto $t gives $want" || fail "merge patch $p onto $t: got $(jq_body '.session_data | tojson'), want $want"
done
[ "$(psql_q "SELECT count(*) FROM (VALUES ('{\"a\":1}', '{\"b\":2}'), ('{\"a\":1}', '{\"a\":null}'), ('[1]', '{\"a\":1}'),
	('{\"a\":1}', '[2]'), ('{\"a\":{\"b\":1}}', '{\"a\":{\"c\":2}}'), ('{\"a\":1}', '\"s\"'), ('{}', '{\"x\":[null]}')) v(t, p)
	WHERE sessiond_merge(t::jsonb, p::jsonb) IS DISTINCT FROM sessiond_merge_patch(t::jsonb, p::jsonb)")" = 0 ] &&
	pass "sessiond_merge's fast path agrees with the recursive merge patch" || fail "sessiond_merge differs from sessiond_merge_patch"
as "$T1" POST /api/sessions/refresh/ -H 'Content-Type: application/json' -d '{"hours":48}'
expect_status 200 "refresh"
new_exp=$(jq_body '.expires_at | fromdateiso8601')
[ "$new_exp" -gt "$expires" ] && pass "refresh extends expiry" || fail "refresh did not extend: $new_exp <= $expires"
expect_json 'has("session_token")' 'false' "plain refresh issues no token"
as "$T1" DELETE /api/sessions/current/
expect_status 200 "logout"
expect_json '.message | length > 0' 'true' "logout message"
[ -z "$(header Clear-Site-Data)" ] && pass "no Clear-Site-Data by default (it would clear every cookie of the site)" || fail "Clear-Site-Data sent by default"
expect_header Set-Cookie '^session_token=; Path=/; Max-Age=0' "logout expires the cookie"
as "$T1" GET /api/sessions/current/
expect_error 401 invalid_session "current after logout"
expect_header WWW-Authenticate '^Session$' "401 carries WWW-Authenticate: Session"

# --- every JWT rejection is a 401 with the error shape ------------------------------------
now=$(date +%s)
"$MINT" keygen --out "$VAR" --kid dev >/dev/null 2>&1 # another key under the same kid
reject() { # desc jwt
	keep "$2"
	req POST /api/sessions/create/ -H "Authorization: Bearer $2" -H 'Content-Type: application/json' -d '{}'
	expect_error 401 invalid_token "JWT rejected: $1"
}
c() { printf '{"iss":"%s","aud":"%s","sub":"auth0|x","exp":%s%s}' "${1:-$ISSUER}" "${2:-$AUDIENCE}" "${3:-$((now + 600))}" "${4:-}"; }
reject "expired" "$(mint_jwt "$(c "" "" $((now - 120)))")"
reject "nbf in the future" "$(mint_jwt "$(c "" "" "" ",\"nbf\":$((now + 600))")")"
reject "wrong iss" "$(mint_jwt "$(c https://evil.example/)")"
reject "wrong aud" "$(mint_jwt "$(c "" https://other.api)")"
reject "unknown kid" "$("$MINT" sign --key "$KEYS/dev.key.pem" --kid nope --claims-json "$(c)")"
reject "signed by another key" "$("$MINT" sign --key "$VAR/dev.key.pem" --kid dev --claims-json "$(c)")"
reject "alg none" "$("$MINT" sign --key "$KEYS/dev.key.pem" --kid dev --alg none --claims-json "$(c)")"
reject "HS256 keyed with the public key PEM" "$("$MINT" sign --key "$KEYS/dev.key.pem" --kid dev --alg HS256 --hmac-key-file "$KEYS/dev.pub.pem" --claims-json "$(c)")"
reject "garbage" "not.a.jwt"
reject "oversized" "$(head -c 9000 /dev/zero | tr '\0' 'a').b.c"
good=$(mint_jwt "$(c)")
keep "$good"
reject "token with a flipped signature byte" "${good%?}$([ "${good: -1}" = A ] && echo B || echo A)"
req POST /api/sessions/create/ -H 'Content-Type: application/json' -d '{}'
expect_error 401 missing_credentials "create without a token"
expect_header WWW-Authenticate '^Bearer' "create's 401 names Bearer"
req POST /api/sessions/create/ -H "Authorization: Bearer $good" -H 'Content-Type: application/json' -d '{}'
expect_status 201 "the untampered token is accepted"
keep "$(jq_body .session_token)"

# --- JWKS rotation: the file is re-read when it changes, and on SIGHUP -----------------------------------
mkdir -p "$VAR/k2"
"$MINT" keygen --out "$VAR/k2" --kid k2 >/dev/null
"$MINT" jwks --out "$KEYS/jwks.json.new" "dev=$KEYS/dev.pub.pem" "k2=$VAR/k2/k2.pub.pem"
mv "$KEYS/jwks.json.new" "$KEYS/jwks.json"
k2jwt=$("$MINT" sign --key "$VAR/k2/k2.key.pem" --kid k2 --claims-json "$(c)")
keep "$k2jwt"
ok=0
created_with_k2() { req POST /api/sessions/create/ -H "Authorization: Bearer $k2jwt" -H 'Content-Type: application/json' -d '{}'; [ "$STATUS" = 201 ]; }
wait_until 30 created_with_k2 && ok=1
[ "$ok" = 1 ] && pass "a key added to the JWKS file is used without a restart" || fail "new key not picked up: $STATUS"
keep "$(jq_body .session_token)"
# keys_logged ERE: how many times a worker logged that it now uses the key set ERE (once per change).
keys_logged() { grep -cE "event=jwks_keys .* kids=($1)\$" "$VAR/log/sessiond.log"; }
keys_logged_at_least() { [ "$(keys_logged "$1")" -ge "$2" ]; }
n_k2=$(keys_logged k2)
"$MINT" jwks --out "$KEYS/jwks.json.new" "k2=$VAR/k2/k2.pub.pem"
mv "$KEYS/jwks.json.new" "$KEYS/jwks.json"
kill -HUP "$(cat "$VAR/run/sessiond.pid")"
wait_until 30 keys_logged_at_least k2 $((n_k2 + $(worker_pids | wc -l))) || fail "not every worker logged the key set k2"
grep -q 'event=master_reload' "$VAR/log/sessiond.log" && pass "SIGHUP reaches the master" || fail "no master_reload"
ok=1
for _ in 1 2 3 4; do
	req POST /api/sessions/create/ -H "Authorization: Bearer $good" -H 'Content-Type: application/json' -d '{}'
	[ "$STATUS" = 401 ] || ok=0
done
[ "$ok" = 1 ] && pass "a key removed from the JWKS is refused on every worker after SIGHUP" || fail "removed key still accepted: $STATUS"
printf '{"keys": [' >"$KEYS/jwks.json.new"
mv "$KEYS/jwks.json.new" "$KEYS/jwks.json"
# Workers look at the file every second: wait until one has seen it broken.
wait_until 30 grep -q 'event=jwks_reload_failed' "$VAR/log/sessiond.log"
req POST /api/sessions/create/ -H "Authorization: Bearer $k2jwt" -H 'Content-Type: application/json' -d '{}'
expect_status 201 "a broken JWKS file keeps the previous keys"
keep "$(jq_body .session_token)"
grep -q 'event=jwks_reload_failed' "$VAR/log/sessiond.log" && pass "the broken JWKS is logged" || fail "no jwks_reload_failed"
# Back to the stack's key for the rest of the file.
n_back=$(keys_logged 'dev,k2|k2,dev')
"$MINT" jwks --out "$KEYS/jwks.json.new" "dev=$KEYS/dev.pub.pem" "k2=$VAR/k2/k2.pub.pem"
mv "$KEYS/jwks.json.new" "$KEYS/jwks.json"
kill -HUP "$(cat "$VAR/run/sessiond.pid")"
wait_until 30 keys_logged_at_least 'dev,k2|k2,dev' $((n_back + $(worker_pids | wc -l))) || fail "not every worker went back to the key set dev,k2"

# --- malformed session tokens: 401, never 500 -------------------------------------------------
for t in "short" "$(printf 'A%.0s' $(seq 1 44))" "$(printf 'A%.0s' $(seq 1 200))" "' OR 1=1 --" "abc%00def" "ééééééééééééééééééééééééééééééééééééééééééé" "$(printf 'A%.0s' $(seq 1 42))=" ; do
	req GET /api/sessions/current/ -H "Authorization: Session $t"
	expect_error 401 invalid_session "malformed token '${t:0:12}…'"
done
req GET /api/sessions/current/ -H "Authorization: Session"
expect_error 401 missing_credentials "Session scheme without a token"
req GET /api/sessions/current/
expect_error 401 missing_credentials "no token at all"
req GET /api/sessions/current/ -H "Authorization: Session $(printf 'A%.0s' $(seq 1 43))"
expect_error 401 invalid_session "well-formed unknown token"

# --- bodies --------------------------------------------------------------------------------------
create 'auth0|bob'
T2=$TOKEN
patch() { as "$T2" PATCH /api/sessions/current/ "$@"; }
patch -H 'Content-Type: application/json' -d '{"needs_onboarding": tru'
expect_error 400 invalid_json "malformed JSON"
patch -H 'Content-Type: application/json' -d '[1,2]'
expect_error 400 invalid_body "non-object body"
patch -H 'Content-Type: application/json' -d '{"needs_onboarding":"yes"}'
expect_error 400 invalid_field "wrong type"
patch -H 'Content-Type: application/json' -d '{"colour":"red"}'
expect_error 400 unknown_field "unknown field"
patch -H 'Content-Type: application/json' -d '{"user":{"id":"auth0|mallory"}}'
expect_error 400 read_only_field "identity is read-only"
patch -H 'Content-Type: application/json' -d '{"session_data":[1]}'
expect_error 400 invalid_field "session_data must be an object"
patch -H 'Content-Type: application/json' -d "$(printf '{"a":%.0s' $(seq 1 40))1$(printf '}%.0s' $(seq 1 40))"
expect_error 400 invalid_json "JSON nested too deeply"
patch -H 'Content-Type: text/plain' -d '{"needs_onboarding":false}'
expect_error 415 unsupported_media_type "not JSON"
head -c 20000 /dev/zero | tr '\0' ' ' >"$VAR/big.json"
patch -H 'Content-Type: application/json' --data-binary @"$VAR/big.json"
expect_error 413 body_too_large "body over max_body_bytes"
head -c 100000 /dev/zero | tr '\0' ' ' >"$VAR/huge.json"
patch -H 'Content-Type: application/json' --data-binary @"$VAR/huge.json"
expect_error 413 body_too_large "body over nginx's client_max_body_size: JSON from the shipped site too"
expect_header Cache-Control '^no-store$' "nginx's own 413 carries no-store"
as "$T2" PATCH /api/sessions/current/ -H 'Content-Type: application/json' -H 'Content-Length:'
expect_error 411 length_required "PATCH without Content-Length"
big=$(head -c 9000 /dev/zero | tr '\0' 'x')
patch -H 'Content-Type: application/json' -d "{\"session_data\":{\"blob\":\"$big\"}}"
expect_error 413 session_data_too_large "session_data over its cap"
patch -H 'Content-Type: application/json' -d '{"session_data":{"k":"v"}}'
expect_status 200 "a good PATCH after the bad ones"

# --- field ownership and versions -------------------------------------------------------------------
create 'auth0|carol' '{"subscription_plan":"enterprise","subscription_status":"active"}'
T3=$TOKEN
expect_json '.session.subscription_plan' 'free' "billing in the create body is ignored"
as "$T3" PATCH /api/sessions/current/ -H 'Content-Type: application/json' -d '{"subscription_plan":"pro"}'
expect_error 403 server_owned_field "client cannot change subscription_plan"
as "$T3" PATCH /api/sessions/current/ -H 'Content-Type: application/json' -d '{"subscription_status":"canceled"}'
expect_error 403 server_owned_field "client cannot change subscription_status"
as "$T3" PATCH /api/sessions/current/ -H 'Content-Type: application/json' -d '{"subscription_plan":"free","onboarding_step":"a"}'
expect_status 200 "sending the unchanged plan back is allowed"
as "$T3" PATCH /api/sessions/current/ -H 'Content-Type: application/json' -H 'If-Match: "1"' -d '{"onboarding_step":"b"}'
expect_error 412 version_conflict "stale If-Match"
as "$T3" PATCH /api/sessions/current/ -H 'Content-Type: application/json' -H 'If-Match: "2"' -d '{"onboarding_step":"b"}'
expect_status 200 "current If-Match"
expect_json '.version' '3' "version after the conditional PATCH"
as "$T3" PATCH /api/sessions/current/ -H 'Content-Type: application/json' -H 'If-Match: "v3"' -d '{"onboarding_step":"b"}'
expect_error 400 invalid_if_match "a malformed If-Match"

# --- cookies and CSRF ----------------------------------------------------------------------------------
CK="session_token=$T3"
req GET /api/sessions/current/ -H "Cookie: $CK"
expect_status 200 "cookie authentication"
CSRF=$(header X-CSRF-Token)
req GET /api/sessions/current/ -H "Cookie: session_token=$T1" -H "Authorization: Session $T3"
expect_status 200 "a valid header wins over a stale cookie"
req PATCH /api/sessions/current/ -H "Cookie: $CK" -H 'Content-Type: application/json' -d '{"onboarding_step":"c"}'
expect_error 403 csrf_failed "cookie PATCH without Origin"
req PATCH /api/sessions/current/ -H "Cookie: $CK" -H 'Origin: https://evil.example' -H 'Content-Type: application/json' -d '{"onboarding_step":"c"}'
expect_error 403 csrf_failed "cookie PATCH from a foreign Origin"
req PATCH /api/sessions/current/ -H "Cookie: $CK" -H "Origin: http://127.0.0.1:$PORT" -H 'Content-Type: application/json' -d '{"onboarding_step":"c"}'
expect_status 200 "cookie PATCH from an allowed Origin"
req PATCH /api/sessions/current/ -H "Cookie: $CK" -H "Referer: http://localhost:$PORT/app/page" -H 'Content-Type: application/json' -d '{"onboarding_step":"d"}'
expect_status 200 "cookie PATCH with an allowed Referer"
req PATCH /api/sessions/current/ -H "Cookie: $CK" -H "X-CSRF-Token: $CSRF" -H 'Content-Type: application/json' -d '{"onboarding_step":"e"}'
expect_status 200 "cookie PATCH with the session's X-CSRF-Token"
req PATCH /api/sessions/current/ -H "Cookie: $CK" -H "X-CSRF-Token: ${CSRF%?}x" -H 'Content-Type: application/json' -d '{"onboarding_step":"e"}'
expect_error 403 csrf_failed "cookie PATCH with a wrong X-CSRF-Token"
req DELETE /api/sessions/current/ -H "Cookie: $CK"
expect_error 403 csrf_failed "cookie logout needs the CSRF check too"
as "$T3" PATCH /api/sessions/current/ -H 'Content-Type: application/json' -d '{"onboarding_step":"f"}'
expect_status 200 "header-authenticated writes need no CSRF check"

# --- refresh bounds and rotation ------------------------------------------------------------------------
for h in 0 169 -1 '"5"' 1.5 null; do
	as "$T3" POST /api/sessions/refresh/ -H 'Content-Type: application/json' -d "{\"hours\":$h}"
	expect_error 400 invalid_field "refresh hours $h refused"
done
as "$T3" POST /api/sessions/refresh/ -H 'Content-Type: application/json' -d '{"forever":true}'
expect_error 400 unknown_field "refresh with an unknown field"
as "$T3" POST /api/sessions/refresh/ -H 'Content-Type: application/json' -d '{"hours":168}'
expect_status 200 "refresh with the largest hours"
as "$T3" GET /api/sessions/current/
c_at=$(jq_body '.created_at | fromdateiso8601')
e_at=$(jq_body '.expires_at | fromdateiso8601')
[ $((e_at - c_at)) -le 604800 ] && pass "refresh never passes max_lifetime" || fail "expiry $((e_at - c_at)) s after creation"
for _ in 1 2 3; do as "$T3" POST /api/sessions/refresh/ -H 'Content-Type: application/json' -d '{"hours":168}'; done
as "$T3" GET /api/sessions/current/
e2=$(jq_body '.expires_at | fromdateiso8601')
[ $((e2 - c_at)) -le 604800 ] && pass "repeated refreshes still bounded" || fail "repeated refresh: $((e2 - c_at))"
as "$T3" POST /api/sessions/refresh/ -H 'Content-Type: application/json' -d '{"rotate":true}'
expect_status 200 "rotate"
T4=$(jq_body .session_token)
keep "$T4"
[ "${#T4}" -eq 43 ] && [ "$T4" != "$T3" ] && pass "rotation issues a new token" || fail "rotation token '$T4'"
as "$T3" GET /api/sessions/current/
expect_error 401 invalid_session "the old token dies at rotation"
as "$T4" GET /api/sessions/current/
expect_status 200 "the new token works"
as "$T4" POST /api/sessions/refresh/
expect_error 411 length_required "POST without Content-Length"
as "$T4" POST /api/sessions/refresh/ -H 'Content-Type: application/json' -H 'Content-Length: 0'
expect_status 200 "POST with an empty body"

# --- 64 concurrent PATCHes lose no update -----------------------------------------------------------------
create 'auth0|dave'
T5=$TOKEN
for i in $(seq 1 64); do
	curl -s -o /dev/null -w '%{http_code}\n' -X PATCH -H "Authorization: Session $T5" -H 'Content-Type: application/json' \
		-d "{\"session_data\":{\"k$i\":$i}}" "$BASE/api/sessions/current/" >>"$VAR/par.txt" &
done
wait
as "$T5" GET /api/sessions/current/
[ "$(grep -c '^200$' "$VAR/par.txt")" -eq 64 ] && pass "64 parallel PATCHes all 200" || fail "parallel statuses: $(sort "$VAR/par.txt" | uniq -c | tr '\n' ' ')"
expect_json '.session_data | length' '64' "all 64 keys present"
expect_json '.version' '65' "64 increments of version"

# --- the cache: emptied, and same shape hit or miss ------------------------------------------------------------
as "$T4" GET /api/sessions/current/
hit=$(jq_body 'del(.last_activity)')
psql_q "TRUNCATE session_cache"
as "$T4" GET /api/sessions/current/
expect_status 200 "served after the cache is emptied"
[ "$(jq_body 'del(.last_activity)')" = "$hit" ] && pass "cache miss and hit return the same object" || fail "hit/miss differ"
as "$T1" GET /api/sessions/current/
expect_error 401 invalid_session "a revoked session stays revoked after the cache is emptied"
as "$T3" GET /api/sessions/current/
expect_error 401 invalid_session "a rotated-away token stays dead after the cache is emptied"
as "$T2" PATCH /api/sessions/current/ -H 'Content-Type: application/json' -d '{"onboarding_step":"refill"}'
[ "$(psql_q "SELECT count(*) FROM session_cache")" -ge 1 ] && pass "the cache refills" || fail "cache not refilled"

# --- a PostgreSQL crash loses no session ---------------------------------------------------------------------
live=$(psql_q "SELECT count(*) FROM sessions WHERE revoked_at IS NULL")
pg_ctl_as -m immediate stop >/dev/null
pg_ctl_as -l "$VAR/log/postgresql.log" -w start >/dev/null
healthy() { req GET /api/sessions/health/; [ "$STATUS" = 200 ]; }
wait_until 30 healthy
[ "$(psql_q "SELECT count(*) FROM session_cache")" = 0 ] && pass "crash recovery empties the UNLOGGED cache" || fail "cache survived the crash?"
[ "$(psql_q "SELECT count(*) FROM sessions WHERE revoked_at IS NULL")" = "$live" ] && pass "no session lost in the crash ($live live)" || fail "sessions lost"
ok=1
for t in "$T2" "$T4" "$T5"; do
	as "$t" GET /api/sessions/current/
	[ "$STATUS" = 200 ] || ok=0
done
[ "$ok" = 1 ] && pass "sessions served after the crash" || fail "a session was not served after the crash: $STATUS $BODY"
as "$T1" GET /api/sessions/current/
expect_error 401 invalid_session "revoked session still revoked after the crash"

# --- audit events -----------------------------------------------------------------------------------------------
ev=$(psql_q "SELECT string_agg(DISTINCT event, ',' ORDER BY event) FROM session_events")
[ "$ev" = "auth_failed,created,refreshed,revoked,rotated,updated" ] && pass "audit events recorded ($ev)" || fail "events: $ev"
[ "$(psql_q "SELECT count(*) FROM session_events WHERE event = 'created' AND session_id IS NOT NULL AND user_id IS NOT NULL")" -ge 5 ] && pass "events carry session and user ids" || fail "event ids"

# --- SIGTERM lets an in-flight request finish ---------------------------------------------------------------------
psql_q "TRUNCATE session_cache"
# Ordered by what PostgreSQL and the log show, not by sleeping: the lock is
# held, the request waits on it, SIGTERM reached the workers; then the lock goes.
lock_sql="BEGIN; LOCK TABLE session_cache IN ACCESS EXCLUSIVE MODE; SELECT pg_sleep(120); COMMIT;"
( if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- env PGAPPNAME=itest-locker psql -h "$PGSOCK" -U sessiond -d sessiond -qtAX -c "$lock_sql"; else PGAPPNAME=itest-locker psql -h "$PGSOCK" -U sessiond -d sessiond -qtAX -c "$lock_sql"; fi ) >/dev/null 2>&1 &
locker=$!
lock_held() { [ "$(psql_q "SELECT count(*) FROM pg_locks l JOIN pg_stat_activity a USING (pid) WHERE a.application_name = 'itest-locker' AND l.relation = 'session_cache'::regclass AND l.granted")" -ge 1 ]; }
wait_until 30 lock_held || fail "the locker did not get its lock"
curl -s -o "$VAR/inflight.body" -w '%{http_code}' -H "Authorization: Session $T2" "$BASE/api/sessions/current/" >"$VAR/inflight.status" &
client=$!
request_waits() { [ "$(psql_q "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'sessiond' AND wait_event_type = 'Lock'")" -ge 1 ]; }
wait_until 30 request_waits || fail "the request never waited on the lock"
kill -TERM "$(cat "$VAR/run/sessiond.pid")"
# The idle worker leaving shows that the workers were told to stop.
wait_until 30 grep -q 'event=worker_stopped' "$VAR/log/sessiond.log" || fail "no worker stopped after SIGTERM"
psql_q "SELECT pg_cancel_backend(pid) FROM pg_stat_activity WHERE application_name = 'itest-locker'" >/dev/null
wait "$client"
wait "$locker"
[ "$(cat "$VAR/inflight.status")" = 200 ] && pass "SIGTERM let the in-flight request finish (200)" || fail "in-flight request got $(cat "$VAR/inflight.status")"
sessiond_gone() { ! kill -0 "$(cat "$VAR/run/sessiond.pid")" 2>/dev/null; }
wait_until 30 sessiond_gone
! kill -0 "$(cat "$VAR/run/sessiond.pid")" 2>/dev/null && pass "sessiond exited after draining" || fail "sessiond still running"

# --- no raw token or JWT in logs or tables ---------------------------------------------------------------------------
stack_down_logs=$VAR/log
dump=$VAR/dump.txt
for t in sessions session_cache session_events user_billing; do psql_q "SELECT * FROM $t" >>"$dump"; done
found=0
while read -r t; do
	[ -z "$t" ] && continue
	if grep -rqF -- "$t" "$stack_down_logs" "$dump"; then found=$((found + 1)); fi
done <"$TOKENS"
[ "$found" = 0 ] && pass "no token or JWT in the logs or any table ($(wc -l <"$TOKENS") checked)" || fail "$found tokens found in logs/tables"

# --- no usable JWKS at start: create is 503, and works once the file appears -------------------------
# Straight to a one-worker sessiond over FastCGI with cgi-fcgi (no web server involved).
ALT=$VAR/run/alt.sock
JW=$VAR/late-jwks.json
SESSIOND_LISTEN=$ALT SESSIOND_WORKERS=1 SESSIOND_JWKS_FILE=$JW "$BUILD/sessiond" --config "$CONF" </dev/null >>"$VAR/log/sessiond-alt.log" 2>&1 &
alt=$!
wait_until 30 test -S "$ALT"
fcgi_create() { # jwt → prints the response head and body
	printf '{}' | env -i REQUEST_METHOD=POST REQUEST_URI=/api/sessions/create/ CONTENT_TYPE=application/json \
		CONTENT_LENGTH=2 HTTP_AUTHORIZATION="Bearer $1" REMOTE_ADDR=127.0.0.1 cgi-fcgi -bind -connect "$ALT" 2>/dev/null
}
late=$(mint_jwt "$(std_claims 'auth0|late')")
keep "$late"
out=$(fcgi_create "$late")
grep -q '^Status: 503' <<<"$out" && grep -q '"code":"auth_unavailable"' <<<"$out" && grep -q '^Retry-After: ' <<<"$out" &&
	pass "no JWKS yet: create answers 503 auth_unavailable with Retry-After" || fail "without JWKS: $(head -1 <<<"$out")"
grep -q 'event=jwks_load_failed' "$VAR/log/sessiond-alt.log" && pass "the missing JWKS is logged" || fail "no jwks_load_failed"
cp "$KEYS/jwks.json" "$JW"
ok=0
created_late() { out=$(fcgi_create "$late"); grep -q '^Status: 201' <<<"$out"; }
wait_until 30 created_late && ok=1
[ "$ok" = 1 ] && pass "the JWKS appearing later is picked up without a restart" || fail "still $(head -1 <<<"$out")"
keep "$(sed -n 's/.*"session_token":"\([^"]*\)".*/\1/p' <<<"$out")"
kill -TERM "$alt"
wait "$alt" 2>/dev/null
