# Sourced by the integration tests that drive headless Chromium over
# WebDriver (chromedriver, spoken to with curl): start and stop the browser,
# send commands, wait for a state in the page, take screenshots.
# shellcheck shell=bash

WSID="" CHROME_PID="" WD_PID=""

# webdriver_start PORT PROFILE_DIR [extra chromium args as a JSON array]: chromedriver on
# 127.0.0.1:PORT and one headless Chromium session; sets WSID, CHROME_PID, WD_PID and
# WD_VERSION (the browser's version). HOME is $VAR/home (where Chromium keeps its NSS database).
webdriver_start() {
	local caps out
	WD_PORT=$1
	mkdir -p "$VAR/home"
	# WARNING level: chromedriver logs commands (and so the JWTs given to scripts) at INFO.
	HOME=$VAR/home chromedriver --port="$WD_PORT" --log-level=WARNING >>"$VAR/log/chromedriver.log" 2>&1 &
	WD_PID=$!
	wait_until 30 eval "curl -fs http://127.0.0.1:$WD_PORT/status >/dev/null 2>&1" || return 1
	caps=$(jq -nc --arg profile "$2" --argjson extra "${3:-[]}" '{capabilities: {alwaysMatch: {browserName: "chrome", acceptInsecureCerts: false,
		"goog:chromeOptions": {binary: "/usr/bin/chromium", args: (["--headless=new", "--no-sandbox", "--disable-gpu",
		"--disable-dev-shm-usage", "--user-data-dir=\($profile)", "--no-proxy-server", "--window-size=1000,700"] + $extra)}}}}')
	out=$(curl -s -m 60 -X POST -H 'Content-Type: application/json' -d "$caps" "http://127.0.0.1:$WD_PORT/session")
	WSID=$(jq -r '.value.sessionId // empty' <<<"$out")
	CHROME_PID=$(jq -r '.value.capabilities["goog:processID"] // empty' <<<"$out")
	[ -n "$WSID" ] || { echo "no WebDriver session: ${out:0:400}" >&2; return 1; }
	WD_VERSION=$(jq -r .value.capabilities.browserVersion <<<"$out")
	wd POST /timeouts '{"script":20000,"pageLoad":20000}' >/dev/null
}

webdriver_stop() {
	if [ -n "$WSID" ]; then curl -s -m 10 -X DELETE "http://127.0.0.1:$WD_PORT/session/$WSID" >/dev/null; fi
	[ -n "$WD_PID" ] && kill "$WD_PID" 2>/dev/null
	if [ -n "$CHROME_PID" ] && kill -0 "$CHROME_PID" 2>/dev/null; then kill "$CHROME_PID"; fi
	WSID="" CHROME_PID="" WD_PID=""
}

wd() { # METHOD PATH [JSON]: a WebDriver command of this session → its .value
	curl -s -m 30 -X "$1" -H 'Content-Type: application/json' ${3:+--data-binary "$3"} \
		"http://127.0.0.1:$WD_PORT/session/$WSID$2" | jq -c '.value'
}
wd_go() { wd POST /url "$(jq -nc --arg u "$1" '{url: $u}')" >/dev/null; }
# wd_js SCRIPT: runs SCRIPT (a function body; `return` its value) → the value as JSON.
wd_js() { wd POST /execute/sync "$(jq -nc --arg s "$1" '{script: $s, args: []}')"; }
# wd_await EXPR: the value of the promise EXPR → JSON ({"thrown": "..."} when it rejects).
wd_await() {
	wd POST /execute/async "$(jq -nc --arg s "const d = arguments[arguments.length - 1]; Promise.resolve().then(() => $1).then(d, (e) => d({thrown: String(e && (e.code || e.message) || e)}));" \
		'{script: $s, args: []}')"
}
# wd_wait SCRIPT [TRIES]: polls SCRIPT (returning a boolean) every 0.1 s until it is true, TRIES times at most (default 200: 20 s).
wd_wait() {
	for _ in $(seq 1 "${2:-200}"); do
		[ "$(wd_js "$1")" = true ] && return 0
		sleep 0.1
	done
	return 1
}
wd_shot() { wd GET /screenshot | jq -r . | base64 -d >"$1" 2>/dev/null; }
# wd_tab_new: opens a tab and prints its handle; wd_tab HANDLE switches to it.
wd_tab_new() { wd POST /window/new '{"type":"tab"}' | jq -r .handle; }
wd_tab() { wd POST /window "$(jq -nc --arg h "$1" '{handle: $h}')" >/dev/null; }
# wd_cookies: every cookie in the browser (HttpOnly ones too), through the DevTools protocol; values noted as secrets.
wd_cookies() {
	local j
	j=$(wd POST /goog/cdp/execute '{"cmd":"Network.getAllCookies","params":{}}' | jq -c '.cookies')
	secret_note $(jq -r '.[].value' <<<"$j")
	printf '%s\n' "$j"
}
