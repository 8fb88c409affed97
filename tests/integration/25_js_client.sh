#!/usr/bin/env bash
# clients/js, the sessiond-client npm package, over the real stack:
#   1. Node's own test runner (node --test) runs clients/js/test/*.test.mjs
#      against sessiond behind nginx: every method of the core, every error
#      it maps, CSRF in cookie mode, conflicts, the signed-out transition,
#      the retry policy, billing, and the server helpers (sessionRoute,
#      getSession, serviceClient) on web-standard Request/Response;
#   2. tsc checks the shipped declarations (a strict consumer) and the
#      migration guide's examples (copied, only import paths changed);
#   3. a React app bundled with esbuild (the guide's component among it)
#      walks the guide's flows in headless Chromium over WebDriver, two tabs
#      at once: login → onboarding → dashboard, payment through the service
#      route, logout in one tab seen in the other, two tabs rotating at the
#      same moment, a revoked session, a write without the CSRF token;
#   4. npm pack, the tarball installed into an empty project, each entry imported.
# Screenshots go to build/test-logs/25_js_client/.
. "$(dirname "$0")/../lib.sh"
. "$TOP/tests/js.sh"
. "$TOP/tests/webdriver.sh"
CJS=$TOP/clients/js
for bin in /usr/bin/chromium /usr/bin/chromedriver node npm; do
	command -v "$bin" >/dev/null || { fail "$bin is installed (scripts/setup-deps)"; exit 1; }
done
js_setup "$CJS" || exit 1
pass "clients/js: npm ci from its package-lock.json (esbuild, typescript, react, react-dom, @types/react pinned)"

P_WEB=$(free_port) WD_PORT=$(free_port) P_BACKEND=$(free_port)
WEB=http://127.0.0.1:$P_WEB
service_key_new
# The pages' origin is deliberately not in allowed_origins: cookie-mode writes pass only with X-CSRF-Token.
stack_up "auth_fail_limit = 5
trusted_proxies = 127.0.0.1
local_cache_entries = 0
allowed_origins = https://not-the-app.example.test
service_key_file = $SERVICE_KEY_FILE"
secret_note "$SERVICE_KEY"
WN=$VAR/web-nginx BACKEND_PID=""
cleanup() {
	webdriver_stop
	[ -n "$BACKEND_PID" ] && kill "$BACKEND_PID" 2>/dev/null
	[ -f "$WN/nginx.pid" ] && nginx -p "$WN" -c "$WN/nginx.conf" -s stop 2>/dev/null
	stack_down
}
trap cleanup EXIT
SHOTS=$TOP/build/test-logs/$TEST_NAME
mkdir -p "$SHOTS"
rm -f "$SHOTS"/*.png
# sql.sh STATEMENT: psql_q for the Node tests.
cat >"$VAR/sql.sh" <<SH
#!/usr/bin/env bash
if [ "\$(id -u)" -eq 0 ]; then exec runuser -u postgres -- psql -h "$PGSOCK" -U sessiond -d sessiond -qtAX -c "\$1"; fi
exec psql -h "$PGSOCK" -U sessiond -d sessiond -qtAX -c "\$1"
SH
chmod +x "$VAR/sql.sh"
touch "$VAR/secrets.txt"

# --- 1. node --test against the live stack ------------------------------------------------------
# tap_verdicts: one PASS:/FAIL: line per top-level test of node --test's TAP output.
tap_verdicts() {
	awk -v p="$1" '
		/^# Subtest: / { next }
		/^ok [0-9]+ - / { sub(/^ok [0-9]+ - /, ""); print "PASS: " p $0; n++ }
		/^not ok [0-9]+ - / { sub(/^not ok [0-9]+ - /, ""); print "FAIL: " p $0; n++ }
		END { if (n == 0) print "FAIL: " p "no test verdict in the output" }'
}
out=$(cd "$CJS" && SESSIOND_BASE=$BASE MINT=$MINT KEYS=$KEYS SERVICE_KEY_FILE=$SERVICE_KEY_FILE SQL_SH=$VAR/sql.sh \
	SECRETS_FILE=$VAR/secrets.txt timeout 120 node --test --test-reporter=tap test/core.test.mjs test/server.test.mjs 2>&1)
rc=$?
printf '%s\n' "$out" >"$SHOTS/node-test.tap"
tap_verdicts "node --test: " <<<"$out"
[ "$rc" -eq 0 ] && pass "node --test exited 0" || { fail "node --test exited $rc (output in build/test-logs/$TEST_NAME/node-test.tap)"; grep -A12 '^not ok' <<<"$out" | head -60; }

# --- 2. tsc: the declarations, and the guide's examples against them ----------------------------
out=$(cd "$CJS" && node_modules/.bin/tsc -p test/types 2>&1) && pass "tsc (strict): a TypeScript consumer of the three entries' declarations" ||
	fail "tsc on test/types: $(head -20 <<<"$out")"
out=$(cd "$CJS" && node_modules/.bin/tsc -p test/guide 2>&1) && pass "tsc (checkJs): the migration guide's six examples, only import paths changed, type-check" ||
	fail "tsc on test/guide: $(head -20 <<<"$out")"
n=$(grep -c "from 'sessiond-client/react'" "$CJS"/test/guide/*.jsx | awk -F: '{ s += $2 } END { print s }')
[ "$n" -eq 4 ] && pass "the four examples that import do so from sessiond-client/react" || fail "imports of sessiond-client/react in test/guide: $n"

# --- 3. the React app in Chromium -----------------------------------------------------------------
APPDIR=$VAR/app
mkdir -p "$APPDIR"
if (cd "$CJS" && node test/app/build.mjs "$APPDIR") >"$VAR/log/esbuild.log" 2>&1; then
	pass "esbuild bundled the test app with React 18 and the guide's component ($(($(stat -c %s "$APPDIR/app.js") / 1024)) KiB)"
else
	fail "esbuild: $(tail -20 "$VAR/log/esbuild.log")"
	exit 1
fi
chmod -R a+rX "$APPDIR"
SERVICE_KEY_FILE=$SERVICE_KEY_FILE node "$CJS/test/app/backend.mjs" "$P_BACKEND" "$BASE" >"$VAR/log/backend.log" 2>&1 &
BACKEND_PID=$!
# The app's origin: the shipped site (socket and port substituted) with the app and its backend added.
mkdir -p "$WN"
locs="location /app/ { alias $APPDIR/; } location /backend/ { proxy_pass http://127.0.0.1:$P_BACKEND; }"
sed -e "s|unix:/run/sessiond/sessiond.sock|unix:$VAR/run/sessiond.sock|" -e "s|listen 127.0.0.1:8080;|listen 127.0.0.1:$P_WEB;|" \
	-e "s|server_name _;|server_name _; $locs|" -e "s|include fastcgi_params;|include $WN/fastcgi_params;|" \
	"$TOP/conf/nginx/sessiond.conf" >"$WN/site.conf"
cp /etc/nginx/fastcgi_params "$WN/"
nginx_conf "$WN" "$VAR/log/web-nginx-error.log" 256 <<CONF
    include /etc/nginx/mime.types;
    access_log $VAR/log/web-nginx-access.log;
    include $WN/site.conf;
CONF
nginx -p "$WN" -c "$WN/nginx.conf" 2>"$VAR/log/web-nginx-start.log" && pass "the app's nginx: the shipped site plus /app/ and /backend/" ||
	{ fail "web nginx: $(cat "$VAR/log/web-nginx-start.log")"; exit 1; }
wait_until 30 curl -s -o /dev/null -X POST "http://127.0.0.1:$P_BACKEND/" || fail "the test backend did not answer"
webdriver_start "$WD_PORT" "$VAR/chrome-profile" && pass "Chromium $WD_VERSION started headless under chromedriver" || { fail "no WebDriver session"; exit 1; }

APP_URL=$WEB/app/index.html
text() { wd_js "return document.body.innerText.includes($(jq -nc --arg t "$1" '$t'))"; }
wait_text() { wd_wait "return document.body.innerText.includes($(jq -nc --arg t "$1" '$t'))"; }
status_is() { wd_wait "const e = document.getElementById('status'); return !!e && e.dataset.status === '$1'"; }
load_id() { wd_js 'return window.app.loadId' | grep -E '^"[a-z0-9]+"$'; }
click() { wd_js "document.getElementById('$1').click(); return true" >/dev/null; }
# login SUB: the Auth0 SDK's token handed to the callback page, which calls createSession.
login() {
	local jwt
	jwt=$(mint_jwt "$(std_claims "$1" '"email":"ada@example.com","name":"Ada","org_id":"org_acme","org_name":"Acme"')")
	wd_js "sessionStorage.setItem('auth0Token', $(jq -nc --arg t "$jwt" '$t')); location.hash = '#/callback'; return true" >/dev/null
}
sessions_of() { psql_q "SELECT count(*) FROM sessions WHERE user_id = '$1'"; }

# Flow 1: Auth0 callback → createSession → needsOnboarding() → onboarding updateSession → dashboard.
TAB_A=$(wd GET /window | jq -r .)
wd_go "$APP_URL"
wait_text 'Please login' && pass "tab A: before login the guide's component says Please login (signed out, no error)" ||
	fail "tab A: $(wd_js 'return document.body.innerText')"
login 'auth0|ui-ada'
wd_wait "return !!document.getElementById('onboarding')" && pass "tab A: after createSession, needsOnboarding() is true: the component renders OnboardingFlow" ||
	fail "tab A: no onboarding: $(wd_js 'return document.body.innerText')"
[ "$(sessions_of 'auth0|ui-ada')" = 1 ] && pass "StrictMode ran the callback's effect twice: one session in PostgreSQL" ||
	fail "sessions for the user: $(sessions_of 'auth0|ui-ada')"
[ "$(grep -c 'POST /api/sessions/create/' "$VAR/log/web-nginx-access.log")" = 1 ] && pass "one POST /create/ left the browser" ||
	fail "POST /create/ count: $(grep -c 'POST /api/sessions/create/' "$VAR/log/web-nginx-access.log")"
[ "$(psql_q "SELECT user_name || '|' || tenant_name FROM sessions WHERE user_id = 'auth0|ui-ada'")" = "Ada|Acme" ] &&
	pass "the identity is the token's (the SDK's user object was not sent)" || fail "identity row: $(psql_q "SELECT user_name, tenant_name FROM sessions WHERE user_id = 'auth0|ui-ada'")"
wd_shot "$SHOTS/1-onboarding.png"
# Flow 6: cookie mode. The page's origin is not in allowed_origins: a hand-written write with the cookie alone is refused.
out=$(wd_await 'window.app.rawPatch()')
[ "$out" = '"403 csrf_failed"' ] && pass "a cookie-mode PATCH without X-CSRF-Token is refused: 403 csrf_failed" || fail "raw PATCH: $out"
click finish
wait_text 'Welcome Ada' && pass "tab A: onboarding's updateSession succeeds (the client's own write carries the CSRF token): dashboard" ||
	fail "tab A after onboarding: $(wd_js 'return document.body.innerText')"
is_text() { [ "$(text "$1")" = true ] && pass "$2" || fail "$2: page says $(wd_js 'return document.body.innerText')"; }
is_text 'Tenant: Acme' "tab A: the dashboard shows session.tenant.name"
is_text 'Plan: free' "tab A: the dashboard shows session.subscription_plan"
[ "$(psql_q "SELECT onboarding_completed::text || '|' || needs_onboarding::text || '|' || coalesce(onboarding_step, '-') FROM sessions WHERE user_id = 'auth0|ui-ada'")" = "true|false|-" ] &&
	pass "the onboarding update is in PostgreSQL; the refused write changed nothing" || fail "row: $(psql_q "SELECT onboarding_completed, needs_onboarding, onboarding_step FROM sessions WHERE user_id = 'auth0|ui-ada'")"
wd_shot "$SHOTS/2-dashboard.png"

# A second tab of the same browser: the same cookie, the same session.
TAB_B=$(wd_tab_new)
wd_tab "$TAB_B"
wd_go "$APP_URL"
wait_text 'Welcome Ada' && pass "tab B: opened on the same session" || fail "tab B: $(wd_js 'return document.body.innerText')"
LOAD_B=$(load_id) || fail "tab B: no load id"

# Flow 2: payment. The browser's billing write is refused; the webhook sets it through the service route.
wd_tab "$TAB_A"
LOAD_A=$(load_id) || fail "tab A: no load id"
click pay
wait_text 'plan now pro' && pass "tab A: the guide's payment update is refused (ServerOwnedFieldError), the backend's service route sets the plan" ||
	fail "tab A payment: $(wd_js 'return document.body.innerText')"
is_text 'refused: server_owned_field; webhook 200' "tab A: the typed error's code, then the webhook's 200"
wait_text 'Plan: pro' && pass "tab A: the dashboard shows Plan: pro" || fail "tab A plan: $(wd_js 'return document.body.innerText')"
[ "$(load_id)" = "$LOAD_A" ] && pass "tab A: without a reload" || fail "tab A reloaded"
wd_shot "$SHOTS/3-payment-tab-a.png"
wd_tab "$TAB_B"
wait_text 'Plan: pro' && pass "tab B: sees Plan: pro (BroadcastChannel), no polling" || fail "tab B plan: $(wd_js 'return document.body.innerText')"
[ "$(load_id)" = "$LOAD_B" ] && pass "tab B: without a reload" || fail "tab B reloaded"
wd_shot "$SHOTS/3-payment-tab-b.png"

# Flow 4: two tabs rotate at the same moment. Both queue on the rotation lock (held here until
# both are waiting, so they really overlap); one rotates, the other adopts its cookie.
refreshes() { grep -c 'event=request method=POST route=refresh status=200' "$VAR/log/sessiond.log"; }
r0=$(refreshes)
old=$(wd_cookies | jq -r '.[] | select(.name == "session_token") | .value')
wd_tab "$TAB_A"
[ "$(wd_await 'window.app.holdLock()')" = '"held"' ] || fail "could not hold the rotation lock"
for t in "$TAB_A" "$TAB_B"; do
	wd_tab "$t"
	wd_js 'window.rot = null; window.app.rotate().then((r) => { window.rot = r; }, (e) => { window.rot = { error: String(e.code || e) }; }); return true' >/dev/null
done
wd_tab "$TAB_A"
both_pending() { [ "$(wd_await 'navigator.locks.query().then((q) => q.pending.length)')" = 2 ]; }
wait_until 20 both_pending
[ "$(wd_await 'navigator.locks.query().then((q) => q.pending.length)')" = 2 ] && pass "both tabs wait on the rotation lock" || fail "pending locks: $(wd_await 'navigator.locks.query()')"
wd_js 'window.app.release(); return true' >/dev/null
rots=""
for t in "$TAB_A" "$TAB_B"; do
	wd_tab "$t"
	wd_wait 'return window.rot !== null' && rots="$rots$(wd_js 'return window.rot' | jq -c '{rotated, adopted, error}')" || fail "no rotation result in a tab"
done
[ "$(jq -sc 'map(.rotated) | sort' <<<"$rots")" = '[false,true]' ] && [ "$(jq -sc 'map(.adopted) | sort' <<<"$rots")" = '[false,true]' ] &&
	pass "one tab rotated, the other adopted its result: $rots" || fail "rotation results: $rots"
[ $(($(refreshes) - r0)) -eq 1 ] && pass "one rotation reached sessiond" || fail "rotations: $(($(refreshes) - r0))"
new=$(wd_cookies | jq -r '.[] | select(.name == "session_token") | .value')
[ -n "$new" ] && [ "$new" != "$old" ] && pass "the jar holds the new token" || fail "cookie after rotation unchanged"
req GET /api/sessions/current/ -H "Authorization: Session $old"
expect_error 401 invalid_session "the old token is dead"
for t in A B; do
	v=TAB_$t
	wd_tab "${!v}"
	out=$(wd_await "window.app.client.update({ session_data: { tab: '$t' } }).then((s) => s.version)")
	[[ "$out" =~ ^[0-9]+$ ]] && [ "$(wd_js "return document.getElementById('status').dataset.status")" = '"signed-in"' ] &&
		pass "tab $t: still signed in after the simultaneous rotation, and its write (new CSRF token) succeeds" || fail "tab $t after rotation: $out"
done
# The same without the lock held: both tabs start their rotation on one timer tick of the clock.
for t in "$TAB_A" "$TAB_B"; do
	wd_tab "$t"
	wd_js 'window.rot = null; const at = Math.ceil(Date.now() / 2000) * 2000 + 2000; setTimeout(() => window.app.rotate().then((r) => { window.rot = r; }, (e) => { window.rot = { error: String(e.code || e) }; }), at - Date.now()); return true' >/dev/null
done
for t in A B; do
	v=TAB_$t
	wd_tab "${!v}"
	wd_wait 'return window.rot !== null' 100 || fail "tab $t: no result of the second rotation"
	out=$(wd_await "window.app.client.update({ session_data: { again: '$t' } }).then((s) => s.version)")
	[[ "$out" =~ ^[0-9]+$ ]] && [ "$(wd_js 'return window.rot.error === undefined')" = true ] &&
		pass "tab $t: rotating again at the same tick as the other tab, still signed in and writing" || fail "tab $t: $(wd_js 'return window.rot') $out"
done
wd_shot "$SHOTS/4-rotation.png"

# Flow 3: logout in tab A signs out tab B.
wd_tab "$TAB_A"
click logout
wait_text 'Please login' && pass "tab A: logout → Please login" || fail "tab A after logout: $(wd_js 'return document.body.innerText')"
wd_tab "$TAB_B"
wait_text 'Please login' && pass "tab B: signed out by tab A's logout, without polling" || fail "tab B: $(wd_js 'return document.body.innerText')"
[ "$(load_id)" = "$LOAD_B" ] && pass "tab B: without a reload" || fail "tab B reloaded"
wd_shot "$SHOTS/5-logout-seen-in-tab-b.png"
[ "$(psql_q "SELECT count(*) FROM sessions WHERE user_id = 'auth0|ui-ada' AND revoked_at IS NULL")" = 0 ] && pass "no live session left for the user" ||
	fail "live sessions: $(psql_q "SELECT count(*) FROM sessions WHERE user_id = 'auth0|ui-ada' AND revoked_at IS NULL")"

# Flow 5: a session revoked elsewhere, then one that expired, show signed-out.
wd_tab "$TAB_A"
login 'auth0|ui-bob'
wd_wait "return !!document.getElementById('onboarding')" || fail "tab A: second login: $(wd_js 'return document.body.innerText')"
sid=$(psql_q "SELECT id FROM sessions WHERE user_id = 'auth0|ui-bob' AND revoked_at IS NULL")
create 'auth0|ui-bob'
as "$TOKEN" DELETE "/api/sessions/$sid/"
expect_status 200 "another device of the user revokes the browser's session"
out=$(wd_await 'window.app.check()')
[ "$out" = '"signed-out"' ] && wait_text 'Please login' && [ "$(wd_js "return document.getElementById('status').dataset.reason")" = '"invalid_session"' ] &&
	pass "tab A: the revoked session shows signed-out (invalid_session)" || fail "tab A after revoke: $out $(wd_js 'return document.body.innerText')"
wd_shot "$SHOTS/6-revoked.png"
login 'auth0|ui-cy'
wd_wait "return !!document.getElementById('onboarding')" || fail "tab A: third login: $(wd_js 'return document.body.innerText')"
psql_q "UPDATE sessions SET expires_at = now() - interval '1 minute' WHERE user_id = 'auth0|ui-cy'" >/dev/null
psql_q "DELETE FROM session_cache" >/dev/null
out=$(wd_await 'window.app.check()')
[ "$out" = '"signed-out"' ] && wait_text 'Please login' && [ "$(wd_js "return document.getElementById('status').dataset.reason")" = '"session_expired"' ] &&
	pass "tab A: the expired session shows signed-out (session_expired)" || fail "tab A after expiry: $out $(wd_js 'return document.body.innerText')"
wd_shot "$SHOTS/7-expired.png"
[ "$(find "$SHOTS" -name '*.png' -size +2k | wc -l)" -eq 8 ] && pass "8 screenshots saved in build/test-logs/$TEST_NAME/" || fail "screenshots: $(ls -la "$SHOTS")"
webdriver_stop

# --- 4. npm pack, installed into an empty project ------------------------------------------------
PK=$VAR/pack
mkdir -p "$PK/proj"
ver=$(jq -r .version "$CJS/package.json")
grep -rqF "$ver" "$CJS/src" && fail "the version $ver is written in src/ too" || pass "the version ($ver) is in package.json only"
tgz=$(cd "$CJS" && npm pack --pack-destination "$PK" --loglevel=error 2>"$VAR/log/npm-pack.log" | tail -1)
[ "$tgz" = "sessiond-client-$ver.tgz" ] && pass "npm pack → $tgz" || { fail "npm pack: $tgz $(cat "$VAR/log/npm-pack.log")"; exit 1; }
files=$(tar tzf "$PK/$tgz" | sed 's|^package/||' | sort | tr '\n' ' ')
[ "$files" = "README.md package.json src/errors.js src/index.d.ts src/index.js src/react.d.ts src/react.js src/server.d.ts src/server.js " ] &&
	pass "the tarball holds the sources, their declarations, README and package.json only" || fail "tarball: $files"
[ "$(tar xzOf "$PK/$tgz" package/package.json | jq -c '[.dependencies // {}, .peerDependenciesMeta.react.optional]')" = '[{},true]' ] &&
	pass "no runtime dependencies; react an optional peer (only /react needs it)" || fail "dependencies: $(tar xzOf "$PK/$tgz" package/package.json | jq -c '{dependencies, peerDependencies}')"
reactv=$(jq -r '.packages["node_modules/react"].version' "$CJS/package-lock.json")
echo '{"name":"empty-project","private":true,"type":"module"}' >"$PK/proj/package.json"
if (cd "$PK/proj" && npm install --no-audit --no-fund --prefer-offline --loglevel=error "../$tgz") >"$VAR/log/npm-install.log" 2>&1; then
	pass "the tarball installs into an empty project"
else
	fail "npm install of the tarball: $(tail -5 "$VAR/log/npm-install.log")"
fi
out=$(cd "$PK/proj" && node --input-type=module -e "
const core = await import('sessiond-client');
const server = await import('sessiond-client/server');
const c = core.createClient({ baseUrl: '$BASE', credentials: 'header' });
console.log(JSON.stringify({ core: typeof core.createClient, server: typeof server.sessionRoute, current: await c.current() }));" 2>&1)
[ "$out" = '{"core":"function","server":"function","current":null}' ] && pass "the installed package: core and /server import and answer (current() without a session is null)" ||
	fail "import from the installed package: $out"
out=$(cd "$PK/proj" && node --input-type=module -e "await import('sessiond-client/react')" 2>&1)
grep -q "Cannot find package 'react'" <<<"$out" && pass "/react without react installed names the missing peer" || fail "/react without react: $out"
(cd "$PK/proj" && npm install --no-audit --no-fund --prefer-offline --loglevel=error "react@$reactv") >>"$VAR/log/npm-install.log" 2>&1
out=$(cd "$PK/proj" && node --input-type=module -e "
const r = await import('sessiond-client/react');
console.log([typeof r.SessionProvider, typeof r.useSession, typeof r.useSessionClient].join(' '));" 2>&1)
[ "$out" = "function function function" ] && pass "with react $reactv added, sessiond-client/react imports" || fail "import sessiond-client/react: $out"
