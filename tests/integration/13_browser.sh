#!/usr/bin/env bash
# A real browser (Debian's headless Chromium, driven over WebDriver by
# chromedriver with curl) against the stack, pages served by this test's
# nginx on four origins of one site (*.sessiond.test mapped to 127.0.0.1):
#   1. same origin, cookie mode: create → HttpOnly cookie invisible to the
#      page → GET, PATCH (CSRF passes with the browser's Origin), rotation
#      (new cookie, old token dead), logout (cookie gone, next GET 401);
#   2. another origin listed in cors_allowed_origins: the same flow with
#      credentials: 'include';
#   3. an origin not listed (same site, so SameSite=Lax does not help):
#      reads unreadable, cookie-authenticated writes (JSON, text/plain
#      no-cors, forms) change nothing;
#   4. HTTPS through the shipped conf/nginx/sessiond-tls.conf, the test's CA
#      trusted in the profile's NSS database: the __Host- cookie is set and
#      used, and refused over plain HTTP;
#   5. header mode from Node's fetch, as the legacy Next.js /api/session route.
# The cookie jar is read through chromedriver (Network.getAllCookies), the
# rows with psql; screenshots of each page's final state go to
# build/test-logs/13_browser/.
. "$(dirname "$0")/../lib.sh"
. "$TOP/tests/js.sh"
for bin in /usr/bin/chromium /usr/bin/chromedriver /usr/bin/certutil node; do
	command -v "$bin" >/dev/null || { fail "$bin is installed (scripts/setup-deps)"; exit 1; }
done
js_setup || exit 1

P_API=$(free_port) P_APP=$(free_port) P_EVIL=$(free_port) P_TLS=$(free_port) P_TLS80=$(free_port) WD_PORT=$(free_port)
API=http://api.sessiond.test:$P_API
APP=http://app.sessiond.test:$P_APP
EVIL=http://evil.sessiond.test:$P_EVIL
SECURE=https://secure.sessiond.test:$P_TLS
PLAIN=http://plain.sessiond.test:$P_API
# sessiond reads SESSIOND_<KEY> over its file, on every restart too.
export SESSIOND_ALLOWED_ORIGINS=$API SESSIOND_CORS_ALLOWED_ORIGINS=$APP
stack_up "auth_fail_limit = 0
trusted_proxies = 127.0.0.1"
SHOTS=$TOP/build/test-logs/$TEST_NAME
mkdir -p "$SHOTS"
rm -f "$SHOTS"/*.png
BN=$VAR/browser-nginx
WSID="" CHROME_PID=""

browser_down() {
	if [ -n "$WSID" ]; then curl -s -m 10 -X DELETE "http://127.0.0.1:$WD_PORT/session/$WSID" >/dev/null; fi
	[ -n "${WD_PID:-}" ] && kill "$WD_PID" 2>/dev/null
	if [ -n "$CHROME_PID" ] && kill -0 "$CHROME_PID" 2>/dev/null; then kill "$CHROME_PID"; fi
	[ -f "$BN/nginx.pid" ] && nginx -p "$BN" -c "$BN/nginx.conf" -s stop 2>/dev/null
	stack_down
}
trap browser_down EXIT

# --- the test's CA and certificate, trusted in an NSS database ------------------------------
TLS=$VAR/tls
mkdir -p "$TLS" "$VAR/home/.pki/nssdb"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj "/CN=sessiond test CA $$" \
	-addext 'basicConstraints=critical,CA:TRUE' -addext 'keyUsage=critical,keyCertSign,cRLSign' \
	-keyout "$TLS/ca.key" -out "$TLS/ca.pem" 2>/dev/null
openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=secure.sessiond.test" \
	-keyout "$TLS/server.key" -out "$TLS/server.csr" 2>/dev/null
printf 'subjectAltName=DNS:secure.sessiond.test\nextendedKeyUsage=serverAuth\nbasicConstraints=CA:FALSE\n' >"$TLS/ext.cnf"
openssl x509 -req -in "$TLS/server.csr" -CA "$TLS/ca.pem" -CAkey "$TLS/ca.key" -CAcreateserial -days 2 \
	-extfile "$TLS/ext.cnf" -out "$TLS/server.pem" 2>/dev/null
chmod 644 "$TLS/server.key"
# Chromium on Linux trusts the roots in $HOME/.pki/nssdb: the CA is really trusted, no certificate error is ignored.
certutil -N -d "sql:$VAR/home/.pki/nssdb" --empty-password &&
	certutil -A -d "sql:$VAR/home/.pki/nssdb" -n "sessiond test CA" -t "C,," -i "$TLS/ca.pem" &&
	pass "the test's CA is in the browser's NSS database" || fail "NSS database"

# --- the test's nginx: the shipped sites plus the test pages ---------------------------------
mkdir -p "$BN/tmp" "$VAR/pages"
cp "$TOP/tests/browser/page.html" "$VAR/pages/"
chmod -R a+rX "$VAR/pages"
pages="location /pages/ { alias $VAR/pages/; }"
# API origin: the shipped plain site (socket and port substituted) with the pages added.
sed -e "s|unix:/run/sessiond/sessiond.sock|unix:$VAR/run/sessiond.sock|" -e "s|listen 127.0.0.1:8080;|listen 127.0.0.1:$P_API;|" \
	-e "s|server_name _;|server_name _; $pages|" "$TOP/conf/nginx/sessiond.conf" >"$BN/api.conf"
# HTTPS: the shipped TLS site (socket, ports, certificate, upstream name substituted), pages added where it invites them.
sed -e "s|unix:/run/sessiond/sessiond.sock|unix:$VAR/run/sessiond.sock|" -e "/listen \[::\]:/d" \
	-e "s|listen 80;|listen 127.0.0.1:$P_TLS80;|" -e "s|listen 443 ssl http2;|listen 127.0.0.1:$P_TLS ssl http2;|" \
	-e "s|https://\$host\$request_uri|https://\$host:$P_TLS\$request_uri|" \
	-e "s|/etc/ssl/certs/sessions.example.com.pem|$TLS/server.pem|" -e "s|/etc/ssl/private/sessions.example.com.key|$TLS/server.key|" \
	-e "s|upstream sessiond {|upstream sessiond_tls {|" -e "s|fastcgi_pass sessiond;|fastcgi_pass sessiond_tls;|" \
	-e "s|# cookie needs no CORS) may go here.|&\n    $pages|" "$TOP/conf/nginx/sessiond-tls.conf" >"$BN/tls.conf"
nginx_conf "$BN" "$VAR/log/browser-nginx-error.log" 256 <<CONF
    include /etc/nginx/mime.types;
    access_log $VAR/log/browser-nginx-access.log;
    include $BN/api.conf;
    include $BN/tls.conf;
    server { listen 127.0.0.1:$P_APP; $pages }
    server { listen 127.0.0.1:$P_EVIL; $pages }
CONF
cp /etc/nginx/fastcgi_params "$BN/"
sed -i "s|include fastcgi_params;|include $BN/fastcgi_params;|" "$BN/api.conf" "$BN/tls.conf"
if nginx -p "$BN" -c "$BN/nginx.conf" 2>"$VAR/log/browser-nginx-start.log"; then
	pass "the test's nginx runs the shipped plain and TLS sites"
else
	fail "browser nginx: $(cat "$VAR/log/browser-nginx-start.log")"
	exit 1
fi

# --- chromedriver and Chromium -----------------------------------------------------------------
# WARNING level: chromedriver logs commands (and so the JWTs given to scripts) at INFO.
HOME=$VAR/home chromedriver --port="$WD_PORT" --log-level=WARNING >>"$VAR/log/chromedriver.log" 2>&1 &
WD_PID=$!
for _ in $(seq 1 100); do curl -fs "http://127.0.0.1:$WD_PORT/status" >/dev/null 2>&1 && break; sleep 0.1; done
caps=$(jq -nc --arg profile "$VAR/chrome-profile" '{capabilities: {alwaysMatch: {browserName: "chrome", acceptInsecureCerts: false,
	"goog:chromeOptions": {binary: "/usr/bin/chromium", args: ["--headless=new", "--no-sandbox", "--disable-gpu",
	"--disable-dev-shm-usage", "--user-data-dir=\($profile)", "--no-proxy-server", "--window-size=1000,700",
	"--host-resolver-rules=MAP *.sessiond.test 127.0.0.1",
	"--disable-features=HttpsUpgrades,HttpsFirstBalancedModeAutoEnable,HttpsFirstModeV2ForTypicallySecureUsers"]}}}}')
out=$(curl -s -m 60 -X POST -H 'Content-Type: application/json' -d "$caps" "http://127.0.0.1:$WD_PORT/session")
WSID=$(jq -r '.value.sessionId // empty' <<<"$out")
CHROME_PID=$(jq -r '.value.capabilities["goog:processID"] // empty' <<<"$out")
[ -n "$WSID" ] && pass "Chromium $(jq -r .value.capabilities.browserVersion <<<"$out") started headless under chromedriver" ||
	{ fail "no WebDriver session: ${out:0:400}"; exit 1; }

wd() { # METHOD PATH [JSON]: a WebDriver command of this session → its .value
	curl -s -m 30 -X "$1" -H 'Content-Type: application/json' ${3:+--data-binary "$3"} \
		"http://127.0.0.1:$WD_PORT/session/$WSID$2" | jq -c '.value'
}
wd POST /timeouts '{"script":20000,"pageLoad":20000}' >/dev/null
go() { wd POST /url "$(jq -nc --arg u "$1" '{url: $u}')" >/dev/null; }
js() { wd POST /execute/sync "$(jq -nc --arg s "$1" '{script: $s, args: []}')"; }
# call BASE METHOD PATH [OPTIONS-JSON]: window.call() in the page → its result (JSON).
call() {
	local res
	res=$(wd POST /execute/async "$(jq -nc --arg b "$1" --arg m "$2" --arg p "$3" --argjson o "${4:-{\}}" \
		'{script: "const d = arguments[arguments.length - 1]; window.call(...arguments).then(d, (e) => d({blocked: String(e)}));", args: [$b, $m, $p, $o]}')")
	secret_note "$(jq -r '.json.session_token? // empty' <<<"$res")"
	printf '%s\n' "$res"
}
form_post() { wd POST /execute/async "$(jq -nc --arg a "$1" --arg e "$2" --argjson f "${3:-{\}}" \
	'{script: "const d = arguments[arguments.length - 1]; window.formPost(arguments[0], arguments[1], arguments[2]).then(d);", args: [$a, $e, $f]}')" >/dev/null; }
# jar: every cookie in the browser (HttpOnly ones too), through the DevTools protocol.
jar() {
	local j
	j=$(wd POST /goog/cdp/execute '{"cmd":"Network.getAllCookies","params":{}}' | jq -c '.cookies')
	secret_note $(jq -r '.[].value' <<<"$j")
	printf '%s\n' "$j"
}
cookie_of() { jar | jq -c --arg n "$1" --arg d "$2" '[.[] | select(.name == $n and .domain == $d)]'; }
shot() { wd GET /screenshot | jq -r . | base64 -d >"$SHOTS/$1.png" 2>/dev/null; }
is() { # desc jq-filter json: passes when the filter is true on json
	if [ "$(jq -r "$2" <<<"$3" 2>/dev/null)" = true ]; then pass "$1"; else fail "$1: $2 on ${3:0:300}"; fi
}
mint() { mint_jwt "$(std_claims "$1" '"email":"ada@example.com","name":"Ada","org_id":"t-1","org_name":"Acme"')"; }
create_body='{"needs_onboarding":true,"onboarding_step":"business_info","subscription_plan":"free"}'

# flow BASE COOKIE_DOMAIN COOKIE_NAME LABEL: create → GET → PATCH → rotate → logout from the loaded page.
flow() {
	local base=$1 dom=$2 name=$3 l=$4 res c old sid jwt
	jwt=$(mint "auth0|${l// /-}")   # a subject has no spaces
	res=$(call "$base" POST /api/sessions/create/ "$(jq -nc --arg a "Bearer $jwt" --argjson b "$create_body" '{auth: $a, body: $b}')")
	is "$l: create with the Bearer token → 201" '.status == 201' "$res"
	is "$l: the page can read X-CSRF-Token" '.csrf | test("^[A-Za-z0-9_-]{43}$")' "$res"
	sid=$(jq -r .json.session.id <<<"$res")
	c=$(cookie_of "$name" "$dom")
	is "$l: the browser stored the session cookie for $dom: HttpOnly, Path=/, SameSite=Lax, value = the token" \
		"length == 1 and .[0].httpOnly and .[0].path == \"/\" and .[0].sameSite == \"Lax\" and .[0].value == \"$(jq -r .json.session_token <<<"$res")\"" "$c"
	old=$(jq -r '.[0].value' <<<"$c")
	[ "$(js 'return document.cookie')" = '""' ] && pass "$l: document.cookie does not show it" || fail "$l: document.cookie = $(js 'return document.cookie')"
	res=$(call "$base" GET /api/sessions/current/)
	is "$l: GET /current/ by the cookie → 200, the session" ".status == 200 and .json.id == \"$sid\" and .json.onboarding_step == \"business_info\"" "$res"
	res=$(call "$base" PATCH /api/sessions/current/ '{"body":{"onboarding_step":"browser","session_data":{"tab":"one"}}}')
	is "$l: PATCH by the cookie, CSRF passed on the browser's own Origin → 200" '.status == 200 and .json.version == 2' "$res"
	is "$l: the page can read the ETag" '.etag == "\"2\""' "$res"
	[ "$(psql_q "SELECT onboarding_step || ' ' || (session_data->>'tab') FROM sessions WHERE id = '$sid'")" = "browser one" ] &&
		pass "$l: the PATCH is in PostgreSQL" || fail "$l: row $(psql_q "SELECT onboarding_step, session_data FROM sessions WHERE id = '$sid'")"
	res=$(call "$base" POST /api/sessions/refresh/ '{"body":{"rotate":true}}')
	is "$l: refresh with rotation → 200 with a new token" '.status == 200 and (.json.session_token | length) == 43' "$res"
	c=$(cookie_of "$name" "$dom")
	is "$l: the jar holds the new token, not the old one" \
		"length == 1 and .[0].value == \"$(jq -r .json.session_token <<<"$res")\" and .[0].value != \"$old\"" "$c"
	req GET /api/sessions/current/ -H "Authorization: Session $old"
	expect_error 401 invalid_session "$l: the old token is dead"
	res=$(call "$base" GET /api/sessions/current/)
	is "$l: the new cookie works" ".status == 200 and .json.id == \"$sid\"" "$res"
	res=$(call "$base" DELETE /api/sessions/current/)
	is "$l: logout → 200" '.status == 200' "$res"
	is "$l: the cookie is gone from the jar" 'length == 0' "$(cookie_of "$name" "$dom")"
	res=$(call "$base" GET /api/sessions/current/)
	is "$l: the next GET is 401 missing_credentials, readable by the page" '.status == 401 and .code == "missing_credentials"' "$res"
	[ "$(psql_q "SELECT revoked_at IS NOT NULL FROM sessions WHERE id = '$sid'")" = t ] && pass "$l: revoked in PostgreSQL" || fail "$l: not revoked"
}

# --- 1. same origin, cookie mode ---------------------------------------------------------------
go "$API/pages/page.html"
[ "$(js 'return location.origin')" = "\"$API\"" ] && pass "1: the page loaded from $API" || fail "1: page not loaded: $(js 'return location.href')"
flow "" api.sessiond.test session_token "1 same-origin"
shot 1-same-origin

# --- 2. another origin, allowed by cors_allowed_origins ---------------------------------------
go "$APP/pages/page.html"
flow "$API" api.sessiond.test session_token "2 cors"
shot 2-cross-origin-allowed

# --- 3. an origin not listed: nothing readable, nothing changed -------------------------------
go "$API/pages/page.html"
jwt=$(mint 'auth0|victim')
res=$(call "" POST /api/sessions/create/ "$(jq -nc --arg a "Bearer $jwt" '{auth: $a, body: {}}')")
sid=$(jq -r .json.session.id <<<"$res")
before=$(psql_q "SELECT version, expires_at, onboarding_step, revoked_at FROM sessions WHERE id = '$sid'")
csrf_before=$(grep -c 'event=csrf_rejected' "$VAR/log/sessiond.log")
patches_before=$(grep -c 'method=PATCH' "$VAR/log/sessiond.log")
go "$EVIL/pages/page.html"
is "3: the victim's cookie is in the jar (same site: SameSite=Lax sends it)" 'length == 1' "$(cookie_of session_token api.sessiond.test)"
is "3: GET /current/ from $EVIL: unreadable (no CORS grant)" 'has("blocked")' "$(call "$API" GET /api/sessions/current/)"
is "3: GET / (the session list): unreadable" 'has("blocked")' "$(call "$API" GET /api/sessions/)"
is "3: PATCH (JSON) is refused at the preflight" 'has("blocked")' "$(call "$API" PATCH /api/sessions/current/ '{"body":{"onboarding_step":"pwned"}}')"
is "3: DELETE /current/ is refused at the preflight" 'has("blocked")' "$(call "$API" DELETE /api/sessions/current/)"
is "3: POST invalidate-all (JSON) is refused at the preflight" 'has("blocked")' "$(call "$API" POST /api/sessions/invalidate-all/ '{"body":{}}')"
is "3: no-cors text/plain POST /refresh/ is sent, its answer opaque" '.type == "opaque"' \
	"$(call "$API" POST /api/sessions/refresh/ '{"mode":"no-cors","body":"{\"rotate\":true}","contentType":"text/plain"}')"
is "3: no-cors POST /invalidate-all/ without a body: opaque" '.type == "opaque"' \
	"$(call "$API" POST /api/sessions/invalidate-all/ '{"mode":"no-cors"}')"
is "3: no-cors POST /refresh/ with an empty text/plain body: opaque" '.type == "opaque"' \
	"$(call "$API" POST /api/sessions/refresh/ '{"mode":"no-cors","body":"","contentType":"text/plain"}')"
form_post "$API/api/sessions/invalidate-all/" application/x-www-form-urlencoded
form_post "$API/api/sessions/refresh/" text/plain '{"{\"rotate\":true,\"x\":\"":"\"}"}'
form_post "$API/api/sessions/current/" application/x-www-form-urlencoded '{"_method":"DELETE"}'
shot 3-cross-origin-refused
after=$(psql_q "SELECT version, expires_at, onboarding_step, revoked_at FROM sessions WHERE id = '$sid'")
[ "$before" = "$after" ] && [ -n "$before" ] && pass "3: the session row is unchanged (version, expiry, step, not revoked)" || fail "3: before '$before', after '$after'"
[ "$(psql_q "SELECT count(*) FROM sessions WHERE user_id = 'auth0|victim' AND revoked_at IS NULL")" = 1 ] && pass "3: still live" || fail "3: revoked"
n=$(($(grep -c 'event=csrf_rejected' "$VAR/log/sessiond.log") - csrf_before))
[ "$n" -ge 3 ] && pass "3: $n cookie-authenticated writes reached sessiond and were refused by the CSRF check" || fail "3: csrf_rejected $n times"
[ "$(grep -c 'method=PATCH' "$VAR/log/sessiond.log")" = "$patches_before" ] && pass "3: the PATCH never left the browser" || fail "3: a PATCH reached sessiond"
go "$API/pages/page.html"
is "3: back on $API the session still works" ".status == 200 and .json.version == 1" "$(call "" GET /api/sessions/current/)"

# --- 4. HTTPS with the __Host- cookie (sessiond's defaults) ------------------------------------
export SESSIOND_COOKIE_NAME=__Host-session_token SESSIOND_COOKIE_SECURE=on SESSIOND_ALLOWED_ORIGINS=$SECURE,$PLAIN
unset SESSIOND_CORS_ALLOWED_ORIGINS
sessiond_restart && pass "4: sessiond restarted with the default __Host-session_token, Secure" || fail "4: restart"
rs=(--resolve "secure.sessiond.test:$P_TLS:127.0.0.1" --resolve "secure.sessiond.test:$P_TLS80:127.0.0.1" --cacert "$TLS/ca.pem")
out=$(curl -s "${rs[@]}" -o /dev/null -w '%{http_code} %{redirect_url}' "http://secure.sessiond.test:$P_TLS80/api/sessions/health/?x=1")
[ "$out" = "301 $SECURE/api/sessions/health/?x=1" ] && pass "4: plain HTTP on the TLS site redirects to HTTPS" || fail "4: redirect: $out"
out=$(curl -s "${rs[@]}" -D - -o /dev/null -w '%{http_version}' "$SECURE/api/sessions/health/")
grep -qi '^strict-transport-security: max-age=63072000' <<<"$out" && pass "4: HSTS on HTTPS answers" || fail "4: no HSTS: $out"
[ "$(tail -1 <<<"$out")" = 2 ] && pass "4: HTTP/2" || fail "4: http version $(tail -1 <<<"$out")"
out=$(curl -s "${rs[@]}" -D - -o /dev/null "$SECURE/api/sessions/nope/")
grep -qi '^strict-transport-security' <<<"$out" && pass "4: HSTS on error answers too" || fail "4: no HSTS on 404"
curl -s "${rs[@]}" --tlsv1.2 --tls-max 1.2 -o /dev/null "$SECURE/api/sessions/health/" && pass "4: TLS 1.2 accepted" || fail "4: TLS 1.2"
curl -s "${rs[@]}" --tlsv1.3 -o /dev/null "$SECURE/api/sessions/health/" && pass "4: TLS 1.3 accepted" || fail "4: TLS 1.3"
curl -s "${rs[@]}" --tlsv1.1 --tls-max 1.1 --ciphers 'DEFAULT@SECLEVEL=0' -o /dev/null "$SECURE/api/sessions/health/" 2>/dev/null &&
	fail "4: TLS 1.1 accepted" || pass "4: TLS 1.1 refused"
go "$SECURE/pages/page.html"
[ "$(js 'return location.origin')" = "\"$SECURE\"" ] && pass "4: the page loaded over HTTPS with the test's CA trusted (no certificate error ignored)" ||
	fail "4: HTTPS page not loaded: $(js 'return location.href')"
flow "" secure.sessiond.test __Host-session_token "4 https"
jwt=$(mint 'auth0|https2')
res=$(call "" POST /api/sessions/create/ "$(jq -nc --arg a "Bearer $jwt" '{auth: $a, body: {}}')")
c=$(cookie_of __Host-session_token secure.sessiond.test)
is "4: the __Host- cookie is Secure and host-only" 'length == 1 and .[0].secure and (.[0].domain | startswith(".") | not)' "$c"
shot 4-https
go "$PLAIN/pages/page.html"
[ "$(js 'return location.origin')" = "\"$PLAIN\"" ] && pass "4: a page over plain HTTP ($PLAIN)" || fail "4: plain page not loaded"
jwt=$(mint 'auth0|plain')
res=$(call "" POST /api/sessions/create/ "$(jq -nc --arg a "Bearer $jwt" '{auth: $a, body: {}}')")
is "4: create over plain HTTP answers 201 (with its Set-Cookie)" '.status == 201' "$res"
is "4: but the browser refuses a __Host- cookie from a non-secure origin: none for plain.sessiond.test" \
	'length == 0' "$(cookie_of __Host-session_token plain.sessiond.test)"
res=$(call "" GET /api/sessions/current/)
is "4: so the next GET over plain HTTP is 401 missing_credentials" '.status == 401 and .code == "missing_credentials"' "$res"
shot 4-plain-http-refused

# --- 5. header mode, as the legacy Next.js /api/session route ---------------------------------
jwt=$(mint 'auth0|legacy')
out=$(LEGACY_JWT=$jwt LEGACY_TOKEN_FILE=$VAR/legacy-token node "$JS_DIR/legacy-proxy.mjs" "$BASE" 203.0.113.7 'Mozilla/5.0 (legacy test)')
secret_note "$(cat "$VAR/legacy-token" 2>/dev/null)"
is "5: Node fetch with Authorization: Session: create 201, current 200, onboarding 200, refresh 200, logout 200, then 401" \
	'[.steps[] | "\(.name)=\(.status)"] | join(" ") == "create=201 current=200 complete_onboarding=200 refresh=200 logout=200 after_logout=401"' "$out"
is "5: header mode needs no CSRF proof (no Origin, no cookie) and reads its own session" '.current_id == .session_id and .onboarding_completed and .version == 2' "$out"
sid=$(jq -r .session_id <<<"$out")
[ "$(psql_q "SELECT host(ip_address) || '|' || user_agent FROM sessions WHERE id = '$sid'")" = "203.0.113.7|Mozilla/5.0 (legacy test)" ] &&
	pass "5: the browser's address (X-Forwarded-For from a trusted proxy) and User-Agent are recorded" ||
	fail "5: row $(psql_q "SELECT ip_address, user_agent FROM sessions WHERE id = '$sid'")"
ls "$SHOTS"/*.png >/dev/null 2>&1 && [ "$(find "$SHOTS" -name '*.png' -size +2k | wc -l)" -eq 5 ] &&
	pass "5 screenshots saved in build/test-logs/$TEST_NAME/" || fail "screenshots: $(ls -la "$SHOTS")"
