#!/usr/bin/env bash
# docs/openapi.yaml against the code: linted by Redocly CLI (no error, no
# warning), then real answers of every route — successes and every error the
# stack can be driven to — recorded here and validated against the
# document's schemas and headers with ajv (tests/js/validate-responses.mjs).
# Every operation of the document must have been exercised.
. "$(dirname "$0")/../lib.sh"
. "$TOP/tests/js.sh"
js_setup || exit 1

# --- lint ------------------------------------------------------------------------------------
out=$(cd "$JS_DIR" && NO_COLOR=1 REDOCLY_TELEMETRY=off REDOCLY_SUPPRESS_UPDATE_NOTICE=true \
	node_modules/.bin/redocly lint --format=stylish --config "$TOP/docs/redocly.yaml" "$TOP/docs/openapi.yaml" 2>&1)
rc=$?
if [ "$rc" -eq 0 ] && ! grep -qiE '(^|[^a-z])(warning|error)s?([^a-z]|$)' <<<"$(grep -v 'Node.js' <<<"$out" | grep -iv 'deprecation')"; then
	pass "docs/openapi.yaml: redocly lint, no error and no warning"
else
	fail "docs/openapi.yaml: redocly lint rc $rc: $(tail -20 <<<"$out")"
fi

# --- a stack that can show every answer ------------------------------------------------------
service_key_new
stack_up "auth_fail_limit = 3
trusted_proxies = 127.0.0.1
max_session_data_bytes = 64
cors_allowed_origins = https://app.example.test
backchannel_logout = on
backchannel_audience = client-1
service_key_file = $SERVICE_KEY_FILE"
secret_note "$SERVICE_KEY"
OPENAPI_RECORDS=$VAR/openapi-records.jsonl
: >"$OPENAPI_RECORDS"
S=/api/sessions
n=0
# r METHOD PATH [curl args]: req from its own client address (the guard counts per address), recorded.
r() { n=$((n + 1)); req "$1" "$2" -H "X-Forwarded-For: 192.0.2.$((n % 200 + 1))" "${@:3}"; openapi_record "$1" "$2"; }
J=(-H 'Content-Type: application/json')
mint() { mint_jwt "$(std_claims "$1" '"email":"ada@example.com","name":"Ada","org_id":"t-1","org_name":"Acme"')"; }

r GET $S/health/
r GET $S/metrics/
r OPTIONS $S/current/ -H 'Origin: https://app.example.test' -H 'Access-Control-Request-Method: PATCH'
for p in create/ refresh/ "" invalidate-all/ 0b7c6f1e-8d2a-4c51-9a3e-2f1d0c9b8a77/ auth/ internal/users/x/ internal/users/x/revoke/ \
	backchannel-logout/ health/ metrics/; do r OPTIONS "$S/$p"; done
r OPTIONS $S/not-a-uuid/
r PUT $S/current/
r GET $S/no/such/route/

# create: success and every rejection
jwt=$(mint 'auth0|oa')
r POST $S/create/ -H "Authorization: Bearer $jwt" "${J[@]}" -d '{"needs_onboarding":true,"onboarding_step":"business_info","subscription_plan":"free","session_data":{"a":1}}'
expect_status 201 "create"
T=$(jq_body .session_token)
SID=$(jq_body .session.id)
r POST $S/create/ -H "Authorization: Bearer $jwt" "${J[@]}" -d '{"session_type":"mobile"}'
T2=$(jq_body .session_token)
r POST $S/create/ "${J[@]}" -d '{}'
r POST $S/create/ -H 'Authorization: Bearer not.a.jwt' "${J[@]}" -d '{}'
r POST $S/create/ -H "Authorization: Bearer $jwt" "${J[@]}" -d '{"nope":1}'
r POST $S/create/ -H "Authorization: Bearer $jwt" "${J[@]}" -d '{"id":"x"}'
r POST $S/create/ -H "Authorization: Bearer $jwt" "${J[@]}" -d '{"a":'
r POST $S/create/ -H "Authorization: Bearer $jwt" "${J[@]}" -d '[1]'
r POST $S/create/ -H "Authorization: Bearer $jwt" -H 'Content-Type: text/plain' -d 'hello'
r POST $S/create/ -H "Authorization: Bearer $jwt" "${J[@]}" --data-binary @<(head -c 20000 /dev/zero | tr '\0' ' ')
r POST $S/create/ -H "Authorization: Bearer $jwt" -H 'Content-Length:'
r POST $S/create/ -H "Authorization: Bearer $jwt" "${J[@]}" -d '{"session_data":{"x":"0123456789012345678901234567890123456789012345678901234567890123456789"}}'

# the session routes
ST=(-H "Authorization: Session $T")
r GET $S/current/ "${ST[@]}"
r GET $S/current/ -H "Cookie: session_token=$T"
r GET $S/current/
r GET $S/current/ -H 'Authorization: Session AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA'
r PATCH $S/current/ "${ST[@]}" "${J[@]}" -H 'If-Match: "1"' -d '{"onboarding_completed":true,"session_data":{"b":2}}'
r PATCH $S/current/ "${ST[@]}" "${J[@]}" -H 'If-Match: "1"' -d '{"onboarding_step":"x"}'
r PATCH $S/current/ "${ST[@]}" "${J[@]}" -H 'If-Match: one' -d '{"onboarding_step":"x"}'
r PATCH $S/current/ "${ST[@]}" "${J[@]}" -d '{"subscription_plan":"pro"}'
r PATCH $S/current/ "${ST[@]}" "${J[@]}" -d '{"version":3}'
r PATCH $S/current/ "${ST[@]}" "${J[@]}" -d '{"session_data":{"big":"0123456789012345678901234567890123456789012345678901234567890123456789"}}'
r PATCH $S/current/ -H "Cookie: session_token=$T" -H 'Origin: https://evil.example.test' "${J[@]}" -d '{"onboarding_step":"x"}'
r POST $S/refresh/ "${ST[@]}" "${J[@]}" -d '{"hours":48}'
r POST $S/refresh/ "${ST[@]}" "${J[@]}" -d '{"hours":0}'
r POST $S/refresh/ "${ST[@]}" "${J[@]}" -d '{"rotate":true}'
T=$(jq_body .session_token)
ST=(-H "Authorization: Session $T")
r GET $S/ "${ST[@]}"
expect_json '.count' 2 "list"
r DELETE "$S/$(jq_body '.sessions[] | select(.current | not) | .id')/" "${ST[@]}"
r DELETE $S/0b7c6f1e-8d2a-4c51-9a3e-2f1d0c9b8a77/ "${ST[@]}"
r DELETE $S/not-a-uuid/ "${ST[@]}"
r GET $S/auth/ "${ST[@]}"
r GET $S/auth/
r POST $S/invalidate-all/ "${ST[@]}" "${J[@]}" -d '{"keep_current":true}'
r POST $S/invalidate-all/ "${ST[@]}" "${J[@]}" -d '{"keep_current":"yes"}'

# the service route
SV=(-H "Authorization: Service $SERVICE_KEY")
r PATCH "$S/internal/users/auth0%7Coa/" "${SV[@]}" "${J[@]}" -d '{"subscription_plan":"pro","subscription_status":"active"}'
expect_json '.count' 1 "service route"
r PATCH "$S/internal/users/auth0%7Coa/" -H 'Authorization: Service wrong-key-wrong-key' "${J[@]}" -d '{"subscription_plan":"pro"}'
r PATCH "$S/internal/users/auth0%7Coa/" "${SV[@]}" "${J[@]}" -d '{}'

# expired, logged out
psql_q "UPDATE sessions SET expires_at = now() - interval '1 minute' WHERE id = '$SID'" >/dev/null
psql_q "DELETE FROM session_cache" >/dev/null
r GET $S/current/ "${ST[@]}"
expect_error 401 session_expired "an expired session"
jwt=$(mint 'auth0|oa2')
r POST $S/create/ -H "Authorization: Bearer $jwt" "${J[@]}" -d '{}'
T3=$(jq_body .session_token)
r DELETE $S/current/ -H "Authorization: Session $T3"
r POST $S/invalidate-all/ -H "Authorization: Session $T2" "${J[@]}" -d '{}'

# the service revoke
r POST "$S/internal/users/auth0%7Coa/revoke/" "${SV[@]}" "${J[@]}" -d '{"reason":"password_changed"}'
expect_json '.count' 1 "service revoke"
r POST "$S/internal/users/auth0%7Coa/revoke/" "${SV[@]}"
r POST "$S/internal/users/auth0%7Coa/revoke/" "${SV[@]}" "${J[@]}" -d '{"reason":"Not Allowed"}'
r POST "$S/internal/users/auth0%7Coa/revoke/" "${J[@]}" -d '{}'

# back-channel logout: a logout token signed with the stack's key
now=$(date +%s)
lt=$(mint_jwt "{\"iss\":\"$ISSUER\",\"aud\":\"client-1\",\"iat\":$now,\"exp\":$((now + 120)),\"jti\":\"oa-1\",\"sub\":\"auth0|oa\",\"events\":{\"http://schemas.openid.net/event/backchannel-logout\":{}}}")
F=(-H 'Content-Type: application/x-www-form-urlencoded')
r POST $S/backchannel-logout/ "${F[@]}" --data-urlencode "logout_token=$lt"
expect_status 200 "back-channel logout"
r POST $S/backchannel-logout/ "${F[@]}" --data-urlencode "logout_token=$lt"
expect_error 400 invalid_logout_token "back-channel logout replayed"
r POST $S/backchannel-logout/ "${F[@]}" -d 'other=1'
r POST $S/backchannel-logout/ "${J[@]}" -d '{}'

# the guard: one address over auth_fail_limit
for _ in 1 2 3 4; do
	req GET $S/current/ -H 'Authorization: Session BBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBB' -H 'X-Forwarded-For: 198.51.100.9'
done
openapi_record GET $S/current/
expect_error 429 too_many_failures "the guard"
req GET $S/auth/ -H 'X-Forwarded-For: 198.51.100.9'
openapi_record GET $S/auth/

# PostgreSQL down: 503 everywhere it is needed
pg_ctl_as -m fast -w stop >/dev/null
r GET $S/health/
r GET $S/current/ "${ST[@]}"
expect_error 503 store_unavailable "store down"
pg_ctl_as -l "$VAR/log/postgresql.log" -w start >/dev/null
# sessiond unreachable: nginx's own JSON 503
mv "$VAR/run/sessiond.sock" "$VAR/run/sessiond.sock.away"
r GET $S/health/
mv "$VAR/run/sessiond.sock.away" "$VAR/run/sessiond.sock"

# --- validation ------------------------------------------------------------------------------
node "$JS_DIR/validate-responses.mjs" "$TOP/docs/openapi.yaml" "$OPENAPI_RECORDS"
[ "$(wc -l <"$OPENAPI_RECORDS")" -ge 60 ] && pass "$(wc -l <"$OPENAPI_RECORDS") real answers were validated" || fail "only $(wc -l <"$OPENAPI_RECORDS") answers recorded"
