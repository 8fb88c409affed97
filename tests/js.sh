# Sourced by the integration tests that use npm packages: the tools in tests/js
# (the OpenAPI linter and validator, the browser tests' Node client) and the
# JavaScript client's development tree in clients/js; installs them from the
# committed package-lock.json, and records answers for
# tests/js/validate-responses.mjs.
# shellcheck shell=bash

JS_DIR=$TOP/tests/js

# js_setup [DIR]: npm ci into DIR/node_modules (default tests/js) unless it already holds exactly the locked tree.
js_setup() {
	local dir=${1:-$JS_DIR} want have log
	log=$TOP/build/npm-ci-$(basename "$dir").log
	command -v node >/dev/null && command -v npm >/dev/null || { fail "node and npm are installed (scripts/setup-deps)"; return 1; }
	want=$(sha256sum "$dir/package-lock.json" | cut -c1-64)
	have=$(cat "$dir/node_modules/.sessiond-lock" 2>/dev/null)
	[ "$want" = "$have" ] && return 0
	mkdir -p "$TOP/build"
	if (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error) >"$log" 2>&1; then
		echo "$want" >"$dir/node_modules/.sessiond-lock"
		return 0
	fi
	tail -5 "$log"
	fail "npm ci in ${dir#"$TOP"/} (see ${log#"$TOP"/})"
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
