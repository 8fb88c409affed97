#!/usr/bin/env bash
# CORS over the real stack (curl, as a browser would send it): preflights on
# every route, the headers of actual answers (errors included) for a listed
# origin, none for another, a CORS origin trusted by the CSRF check, the
# configuration refusing origins that can never match, and no CORS at all
# when cors_allowed_origins is empty. The browser's side is 13_browser.
. "$(dirname "$0")/../lib.sh"
APP=https://app.example.test
EVIL=https://evil.example.test
stack_up "auth_fail_limit = 0
cors_allowed_origins = http://other.example.test:8000, $APP"

# header_absent name desc: no such header in the last answer.
header_absent() { if grep -qi "^$1:" "$HDRS"; then fail "$2: has $(grep -i "^$1:" "$HDRS" | tr -d '\r')"; else pass "$2"; fi; }

# --- preflight on every route ----------------------------------------------------------------
UUID=0b7c6f1e-8d2a-4c51-9a3e-2f1d0c9b8a77
for route in "health/:GET" "metrics/:GET" "create/:POST" "current/:GET, PATCH, DELETE" "refresh/:POST" ":GET" \
	"invalidate-all/:POST" "auth/:GET" "$UUID/:DELETE" "internal/users/auth0%7C42/:PATCH"; do
	path=/api/sessions/${route%%:*} methods=${route#*:}
	req OPTIONS "$path" -H "Origin: $APP" -H "Access-Control-Request-Method: ${methods%%,*}" \
		-H 'Access-Control-Request-Headers: content-type, if-match, x-csrf-token'
	if [ "$STATUS" = 204 ] && [ "$(header Access-Control-Allow-Origin)" = "$APP" ] &&
		[ "$(header Access-Control-Allow-Credentials)" = true ] &&
		[ "$(header Access-Control-Allow-Methods)" = "$methods" ] &&
		[ "$(header Access-Control-Allow-Headers)" = "Authorization, Content-Type, If-Match, X-CSRF-Token" ] &&
		[ "$(header Access-Control-Max-Age)" = 600 ] && [ "$(header Vary)" = Origin ] &&
		[ "$(header Allow)" = "$methods, OPTIONS" ] && [ -z "$BODY" ]; then
		pass "preflight $path: 204, exact origin, credentials, methods '$methods', headers, max age, Vary"
	else
		fail "preflight $path: status $STATUS, headers: $(tr -d '\r' <"$HDRS" | paste -sd'|')"
	fi
done
req OPTIONS /api/sessions/current/ -H "Origin: $EVIL" -H 'Access-Control-Request-Method: PATCH'
expect_status 204 "preflight from an origin not listed"
header_absent Access-Control-Allow-Origin "  carries no Access-Control-Allow-Origin (the browser refuses)"
header_absent Access-Control-Allow-Methods "  nor -Allow-Methods"
header_absent Access-Control-Allow-Credentials "  nor -Allow-Credentials"
expect_header Vary '^Origin$' "  but Vary: Origin"
req OPTIONS /api/sessions/current/ -H "Origin: ${APP}.evil.test" -H 'Access-Control-Request-Method: PATCH'
header_absent Access-Control-Allow-Origin "a listed origin as a prefix of another is not listed"
req OPTIONS /api/sessions/current/ -H 'Origin: null' -H 'Access-Control-Request-Method: PATCH'
header_absent Access-Control-Allow-Origin "the opaque origin null is never allowed"
req OPTIONS /api/sessions/current/ -H "Origin: HTTP://OTHER.example.test:8000" -H 'Access-Control-Request-Method: GET'
expect_header Access-Control-Allow-Origin '^HTTP://OTHER.example.test:8000$' "origins compare case-insensitively, the answer echoes the request's"
req OPTIONS /api/sessions/nothing-here/x/ -H "Origin: $APP"
expect_error 404 not_found "OPTIONS on an unknown path is still 404"
req PUT /api/sessions/current/ -H "Origin: $APP"
expect_error 405 method_not_allowed "other methods are still 405"
expect_header Allow '^GET, PATCH, DELETE$' "  with the route's Allow"

# --- actual answers --------------------------------------------------------------------------
req GET /api/sessions/health/ -H "Origin: $APP"
expect_status 200 "health from a listed origin"
expect_header Access-Control-Allow-Origin "^$APP\$" "  Access-Control-Allow-Origin is the exact origin"
expect_header Access-Control-Allow-Credentials '^true$' "  with credentials"
expect_header Access-Control-Expose-Headers '^ETag, X-CSRF-Token, Retry-After, WWW-Authenticate$' "  exposes ETag and X-CSRF-Token"
expect_header Vary '^Origin$' "  Vary: Origin"
req GET /api/sessions/health/ -H "Origin: $EVIL"
header_absent Access-Control-Allow-Origin "an answer to an origin not listed has no CORS headers"
expect_header Vary '^Origin$' "  only Vary: Origin"
req GET /api/sessions/health/
header_absent Access-Control-Allow-Origin "no Origin, no CORS headers"

jwt=$(mint_jwt "$(std_claims 'auth0|cors')")
req POST /api/sessions/create/ -H "Origin: $APP" -H "Authorization: Bearer $jwt" -H 'Content-Type: application/json' -d '{}'
expect_status 201 "create from the listed origin"
expect_header Access-Control-Allow-Origin "^$APP\$" "  carries the CORS headers"
T=$(jq_body .session_token)
secret_note "$T"
req GET /api/sessions/current/ -H "Origin: $APP"
expect_error 401 missing_credentials "a 401 from a listed origin"
expect_header Access-Control-Allow-Origin "^$APP\$" "  is readable by the page (CORS headers on errors too)"

# --- CSRF: a CORS origin is trusted, another is not ------------------------------------------
cookie="Cookie: session_token=$T"
req PATCH /api/sessions/current/ -H "$cookie" -H "Origin: $APP" -H 'Content-Type: application/json' -d '{"onboarding_step":"cors"}'
expect_status 200 "cookie PATCH with a CORS origin passes the CSRF check"
expect_header ETag '^"2"$' "  and its ETag is there to expose"
req PATCH /api/sessions/current/ -H "$cookie" -H "Referer: $APP/settings?x=1" -H 'Content-Type: application/json' -d '{"onboarding_step":"referer"}'
expect_status 200 "cookie PATCH with only a Referer from a CORS origin passes too"
req PATCH /api/sessions/current/ -H "$cookie" -H "Origin: $EVIL" -H 'Content-Type: application/json' -d '{"onboarding_step":"evil"}'
expect_error 403 csrf_failed "cookie PATCH from an origin not listed"
req POST /api/sessions/invalidate-all/ -H "$cookie" -H "Origin: $EVIL" -H 'Content-Type: application/json' -d '{}'
expect_error 403 csrf_failed "cookie invalidate-all from an origin not listed"
req DELETE /api/sessions/current/ -H "$cookie" -H "Origin: $EVIL"
expect_error 403 csrf_failed "cookie logout from an origin not listed"
[ "$(psql_q "SELECT onboarding_step || ' ' || version || ' ' || (revoked_at IS NULL) FROM sessions WHERE user_id = 'auth0|cors'")" = "referer 3 true" ] &&
	pass "the refused writes changed nothing (step, version, not revoked)" || fail "session row: $(psql_q "SELECT onboarding_step, version, revoked_at FROM sessions WHERE user_id = 'auth0|cors'")"

# --- metrics: preflights have their own route label -----------------------------------------
req GET /api/sessions/metrics/
[[ "$BODY" =~ sessiond_requests_total\{route=\"preflight\",status=\"204\"\}\ 1[0-9] ]] &&
	pass "preflights are counted as route=preflight" || fail "no preflight series: $(grep preflight <<<"$BODY" | head -2)"

# --- configuration ---------------------------------------------------------------------------
for bad in '*' 'https://app.example.test/' 'app.example.test' 'https://*.example.test' 'https://'; do
	out=$(SESSIOND_CORS_ALLOWED_ORIGINS="$APP, $bad" "$BUILD/sessiond" --check-config --config "$CONF" 2>&1)
	rc=$?
	if [ "$rc" -ne 0 ] && grep -q "cors_allowed_origins: '$(sed 's/[*.]/\\&/g' <<<"$bad")' is not an origin" <<<"$out"; then
		pass "cors_allowed_origins '$bad' is refused at start-up"
	else
		fail "cors_allowed_origins '$bad': rc $rc: $out"
	fi
done

# --- empty list: same-origin only, as before --------------------------------------------------
sed -i '/^cors_allowed_origins/d' "$CONF"
sessiond_restart || fail "sessiond restarted without cors_allowed_origins"
req OPTIONS /api/sessions/current/ -H "Origin: $APP" -H 'Access-Control-Request-Method: PATCH'
expect_status 204 "without cors_allowed_origins OPTIONS still answers"
expect_header Allow '^GET, PATCH, DELETE, OPTIONS$' "  with Allow"
header_absent Access-Control-Allow-Origin "  but no CORS header for any origin"
header_absent Vary "  and no Vary"
req PATCH /api/sessions/current/ -H "$cookie" -H "Origin: $APP" -H 'Content-Type: application/json' -d '{"onboarding_step":"x"}'
expect_error 403 csrf_failed "the former CORS origin no longer passes the CSRF check"
