# Sourced by tests/lib.sh: remembers every credential a test sends or
# receives (session tokens, JWTs, service keys, cookie values) and, when the
# stack goes down, checks that none of them reached its logs.
# shellcheck shell=bash

# secret_note VALUE...: remembers values long enough to be unmistakable (>= 16 chars).
secret_note() {
	local v
	[ -n "${VAR:-}" ] && [ -d "$VAR" ] || return 0
	for v in "$@"; do
		[ "${#v}" -ge 16 ] && printf '%s\n' "$v" >>"$VAR/secrets.txt"
	done
	return 0
}

# secret_scan_args CURL-ARGS...: the credentials in Authorization and Cookie headers.
secret_scan_args() {
	local a v
	for a in "$@"; do
		case "$a" in
		[Aa]uthorization:*)
			v=${a#*:}; v=${v# }; v=${v#* }
			secret_note "$v" ;;
		[Cc]ookie:*)
			v=${a#*:}
			local IFS=';'
			for kv in $v; do secret_note "${kv#*=}"; done ;;
		esac
	done
}

# secret_scan_body: the session_token of a response body ($BODY).
secret_scan_body() {
	local t
	t=$(printf '%s' "${BODY:-}" | jq -r '.session_token? // empty' 2>/dev/null)
	[ -n "$t" ] && secret_note "$t"
	return 0
}

# secret_check_logs: one PASS/FAIL line; every remembered credential, and anything shaped like a JWT, is absent from the logs.
secret_check_logs() {
	local logs n
	[ -n "${VAR:-}" ] && [ -d "$VAR/log" ] || return 0
	logs=$(find "$VAR/log" -name '*.log' -type f)
	[ -n "$logs" ] || return 0
	n=0
	[ -s "$VAR/secrets.txt" ] && n=$(sort -u "$VAR/secrets.txt" | wc -l)
	# shellcheck disable=SC2086
	if [ "$n" -gt 0 ] && sort -u "$VAR/secrets.txt" | grep -qF -f - $logs; then
		fail "the logs contain a token, JWT, key or cookie value the test used"
	elif grep -qE 'eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}' $logs; then
		fail "the logs contain something shaped like a JWT"
	else
		pass "none of the $n credentials this test used (tokens, JWTs, keys, cookies) is in the logs"
	fi
}
