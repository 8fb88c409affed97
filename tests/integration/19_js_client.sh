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
# Screenshots go to build/test-logs/19_js_client/.
. "$(dirname "$0")/../lib.sh"
. "$TOP/tests/js.sh"
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
