# Sourced by the integration tests that use the npm tools in tests/js
# (the OpenAPI linter and validator, the browser tests' Node client): installs
# them from the committed package-lock.json, and records answers for
# tests/js/validate-responses.mjs.
# shellcheck shell=bash

JS_DIR=$TOP/tests/js

# js_setup: npm ci into tests/js/node_modules unless it already holds exactly the locked tree.
js_setup() {
	local want have
	command -v node >/dev/null && command -v npm >/dev/null || { fail "node and npm are installed (scripts/setup-deps)"; return 1; }
	want=$(sha256sum "$JS_DIR/package-lock.json" | cut -c1-64)
	have=$(cat "$JS_DIR/node_modules/.sessiond-lock" 2>/dev/null)
	[ "$want" = "$have" ] && return 0
	if (cd "$JS_DIR" && npm ci --no-audit --no-fund --loglevel=error) >"$TOP/build/npm-ci.log" 2>&1; then
		echo "$want" >"$JS_DIR/node_modules/.sessiond-lock"
		return 0
	fi
	tail -5 "$TOP/build/npm-ci.log"
	fail "npm ci in tests/js (see build/npm-ci.log)"
	return 1
}

# openapi_record METHOD PATH: appends the last req's answer ($STATUS, $HDRS, $BODY) to $OPENAPI_RECORDS.
openapi_record() {
	jq -nc --arg m "$1" --arg p "$2" --argjson s "${STATUS:-0}" --arg b "$BODY" --rawfile h "$HDRS" '
		{method: $m, path: $p, status: $s, body: $b,
		 headers: ([$h | split("\r\n")[1:][] | select(test("^[^:]+:")) | capture("^(?<k>[^:]+):[ \t]*(?<v>.*)$")]
			   | group_by(.k | ascii_downcase) | map({key: (.[0].k | ascii_downcase), value: (map(.v) | join(", "))}) | from_entries)}' \
		>>"$OPENAPI_RECORDS"
}
