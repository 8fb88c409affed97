#!/usr/bin/env bash
# Keys from the issuer's URL (issue 14), over real TLS on loopback: the test
# makes its own CAs and server certificates, serves a JWKS it rewrites from
# its own nginx with ssl, and signs tokens with keys it makes. sessiond is
# configured with only jwt_issuer (the test server), jwt_audience and
# jwks_ca_file. Covered: start without keys ("missing"), first fetch,
# --check-config, rotation with exactly one fetch, key removal, bad answers
# (500, garbage, 10 MiB, a server that never answers) keep the old keys,
# TLS verification (another CA, another host name), a burst of 1,000 random
# kids (rate limit, wait bound), tokens that are not a JWS, the issuer down
# with a restart from the cached file, and "stale". Then kid-miss storms
# against an issuer that trickles (tests/tools/jwks_trickle.py): at most
# jwks_kid_miss_waiters wait, the others and everyone once the fetch is older
# than the wait answer 401 unknown_kid at once, known kids and sessions are
# served meanwhile (issue 25).
. "$(dirname "$0")/../lib.sh"

MIN_REFETCH=2
# The test's identity provider: files under $IDP, nginx with ssl on a free port.
IDP=$(itest_mkdir 12_jwks-idp)
mkdir -p "$IDP/www/.well-known" "$IDP/keys" "$IDP/certs"
IDP_PORT=$(free_port)
ISS="https://127.0.0.1:$IDP_PORT/"
DOC=$IDP/www/.well-known/jwks.json
ACCESS=$IDP/access.log

idp_conf() {
	nginx_conf "$IDP" "$IDP/error.log" 256 <<CONF
    access_log $ACCESS;
    server {
        listen 127.0.0.1:$IDP_PORT ssl;
        ssl_certificate $IDP/certs/server.pem;
        ssl_certificate_key $IDP/certs/server.key;
        root $IDP/www;
        location = /.well-known/jwks.json {
            default_type application/json;
            if (-f $IDP/www/fail500) { return 500; }
        }
    }
CONF
}
idp_start() { nginx -p "$IDP" -c "$IDP/nginx.conf" 2>>"$IDP/start.log"; }
idp_stop() {
	local pid
	[ -f "$IDP/nginx.pid" ] || return 0
	pid=$(cat "$IDP/nginx.pid")
	kill -CONT "$pid" $(pgrep -P "$pid") 2>/dev/null
	kill -TERM "$pid" 2>/dev/null
	for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
	rm -f "$IDP/nginx.pid"
}
idp_reload() { # new certificate: wait until only new workers (with it) run
	local pid old w
	pid=$(cat "$IDP/nginx.pid")
	old=$(pgrep -P "$pid")
	kill -HUP "$pid"
	# Done when every worker from before has exited and a new one runs: an old
	# worker still accepts connections (with the old certificate) until it exits.
	for _ in $(seq 1 200); do
		local now left=0
		now=$(pgrep -P "$pid")
		for w in $old; do grep -qx "$w" <<<"$now" && left=1; done
		[ "$left" = 0 ] && [ -n "$now" ] && return 0
		sleep 0.1
	done
	fail "the test's issuer nginx did not take its new certificate within 20 s"
}
use_cert() { cp "$IDP/certs/$1.pem" "$IDP/certs/server.pem"; cp "$IDP/certs/$1.key" "$IDP/certs/server.key"; }
fetched_since() { [ "$(fetches)" -gt "$1" ]; }
fetches() { cat "$ACCESS" 2>/dev/null | awk '/GET \/\.well-known\/jwks\.json/ { n++ } END { print n + 0 }'; }
publish() { # KID...: the served JWKS holds these keys (written atomically, like a CDN would switch)
	local args=() k
	for k in "$@"; do args+=("$k=$IDP/keys/$k.pub.pem"); done
	"$MINT" jwks --out "$DOC.new" "${args[@]}" && chmod 644 "$DOC.new" && mv "$DOC.new" "$DOC"
}

# A CA and its server certificates (SAN IP:127.0.0.1, or a DNS name the URL does not use).
mkca() { openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout "$IDP/certs/$1.key" -out "$IDP/certs/$1.pem" -days 2 -subj "/CN=$1" 2>/dev/null; }
mkcert() { # name ca san
	openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout "$IDP/certs/$1.key" -out "$IDP/certs/$1.csr" -subj "/CN=$1" 2>/dev/null &&
		openssl x509 -req -in "$IDP/certs/$1.csr" -CA "$IDP/certs/$2.pem" -CAkey "$IDP/certs/$2.key" -CAcreateserial \
			-out "$IDP/certs/$1.pem" -days 2 -extfile <(printf 'subjectAltName=%s\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n' "$3") 2>/dev/null
}
mkca ca && mkca otherca &&
	mkcert good ca "IP:127.0.0.1" && mkcert wronghost ca "DNS:idp.example.com" && mkcert foreign otherca "IP:127.0.0.1" ||
	{ fail "openssl made the test CAs and certificates"; exit 1; }
chmod 644 "$IDP"/certs/*
use_cert good
for k in k1 k2 k9; do "$MINT" keygen --out "$IDP/keys" --kid "$k" >/dev/null || { fail "keygen $k"; exit 1; }; done
idp_conf

echo "# t=${SECONDS}s: certificates and keys made"
# Nothing but issuer, audience and the private CA (plus test timings). A create
# with a new kid waits for the refetch up to jwks_kid_miss_wait_ms: 10 s here (a
# liveness bound; the fetch itself gives up after jwks_fetch_timeout), not the
# default 1 s, which a TLS fetch on a loaded machine can outlast.
stack_up "jwks_file =
jwt_issuer = $ISS
jwks_ca_file = $IDP/certs/ca.pem
jwks_cache_file = $IDP/jwks-cache.json
jwks_min_refetch_interval = $MIN_REFETCH
jwks_refresh_interval = 60
jwks_fetch_timeout = 2
jwks_kid_miss_wait_ms = 10000
auth_fail_limit = 0"
trap 'idp_stop; stack_down; rm -rf "$IDP"' EXIT
ISSUER=$ISS
echo "# t=${SECONDS}s: stack up"
LOG=$VAR/log/sessiond.log
MASTER=$(cat "$VAR/run/sessiond.pid")

mint() { # kid [sub]: a token signed by kid's key for this issuer and audience
	local jwt
	jwt=$("$MINT" sign --key "$IDP/keys/$1.key.pem" --kid "$1" --claims-json "$(std_claims "${2:-auth0|jwks}")") || return
	secret_note "$jwt"
	printf '%s\n' "$jwt"
}
create_jwt() { req POST /api/sessions/create/ -H "Authorization: Bearer $1" -H 'Content-Type: application/json' -d '{}'; }
health_jwks() { curl -s "$BASE/api/sessions/health/" | jq -r '.jwks'; }
metric() { curl -s "$BASE/api/sessions/metrics/" | awk -v n="$1" '$1 == n { print $2 }'; }
fetch_count() { metric "sessiond_jwks_fetches_total{result=\"$1\"}"; }
wait_until() { # timeout_s cmd...: polls every 0.1 s
	local t=$1
	shift
	for _ in $(seq 1 $((t * 10))); do "$@" && return 0; sleep 0.1; done
	return 1
}
jwks_is() { [ "$(health_jwks)" = "$1" ]; }
count_is() { [ "$(fetch_count "$1")" -ge "$2" ]; }
status_is() { create_jwt "$2"; [ "$STATUS" = "$1" ]; }
# A fetch of kind result was counted (forced by SIGHUP to the master, which passes it to the fetcher).
hup_expect() { # result desc
	local before
	before=$(fetch_count "$1")
	kill -HUP "$MASTER"
	if wait_until 6 count_is "$1" $((before + 1)); then pass "$2: counted as result=$1"; else fail "$2: result=$1 stayed at $before"; fi
}

echo "# t=${SECONDS}s"
# --- no keys yet and the issuer unreachable: sessiond starts, says "missing" --------------------------
[ "$(pgrep -P "$MASTER" -x sessiond-jwks | wc -l)" = 1 ] && pass "one fetcher process (sessiond-jwks) per host" || fail "fetchers: $(pgrep -P "$MASTER" -x sessiond-jwks | wc -l)"
req GET /api/sessions/health/
expect_status 200 "health without keys"
expect_json .jwks missing "health: jwks missing before any key was fetched"
K1=$(mint k1)
create_jwt "$K1"
expect_error 503 auth_unavailable "create without keys: 503, not a crash or a 401"
wait_until 5 grep -q 'event=jwks_fetch_failed .*result=network' "$LOG" && pass "the failed fetch is logged with its reason" || fail "no jwks_fetch_failed result=network"

echo "# t=${SECONDS}s"
# --- 1. the issuer comes up: keys fetched, create succeeds, --check-config lists the kid ----------------
publish k1
idp_start || { fail "the test's TLS server started: $(cat "$IDP/start.log")"; exit 1; }
wait_until 10 jwks_is ok && pass "health: jwks ok once the issuer answers (retry after a failure)" || fail "jwks: $(health_jwks)"
create_jwt "$K1"
expect_status 201 "create with only jwt_issuer, jwt_audience and jwks_ca_file configured"
grep -q 'event=jwks_keys .*kids=k1' "$LOG" && pass "the key set's kids are logged" || fail "no jwks_keys line"
grep -q '"kid":"k1"' "$IDP/jwks-cache.json" && pass "the fetched JWKS is kept in jwks_cache_file" || fail "cache file"
out=$("$BUILD/sessiond" --check-config --config "$CONF" 2>&1)
grep -qx "jwks: 1 key from https://127.0.0.1:$IDP_PORT/.well-known/jwks.json" <<<"$out" && grep -qx "jwks: kids k1" <<<"$out" &&
	pass "--check-config fetches the JWKS and lists the kid" || fail "--check-config: $(grep jwks <<<"$out")"
[ "$(metric sessiond_jwks_keys)" = 1 ] && pass "metric sessiond_jwks_keys = 1" || fail "sessiond_jwks_keys $(metric sessiond_jwks_keys)"
age=$(metric sessiond_jwks_age_seconds)
[ -n "$age" ] && [ "$age" -lt 30 ] && pass "metric sessiond_jwks_age_seconds ($age)" || fail "sessiond_jwks_age_seconds '$age'"

echo "# t=${SECONDS}s"
# --- 2. rotation: a new kid verifies on first use after exactly one fetch; a removed kid stops --------
sleep $MIN_REFETCH.2   # what is tested: a refetch is allowed once jwks_min_refetch_interval has passed
publish k1 k2
n0=$(fetches)
K2=$(mint k2)
create_jwt "$K2"
expect_status 201 "the first create with the new kid succeeds (no restart, no SIGHUP)"
[ "$(fetches)" = $((n0 + 1)) ] && pass "exactly one fetch for the new kid" || fail "fetches: $n0 -> $(fetches)"
publish k2
n0=$(fetches)
kill -HUP "$MASTER"
wait_until 5 fetched_since "$n0" && pass "SIGHUP forces a refetch" || fail "no fetch after SIGHUP"
wait_until 5 status_is 401 "$K1"
expect_error 401 invalid_token "after the next fetch, a token with the removed kid is rejected"
[[ "$(jq_body .error.message)" == *unknown_kid* ]] && pass "... as unknown_kid" || fail "message: $(jq_body .error.message)"
create_jwt "$K2"
expect_status 201 "the kept key still verifies"

echo "# t=${SECONDS}s"
# --- tokens that are not a signed JWT ----------------------------------------------------------------
create_jwt "Xk3nq0b2R7cT9LmYh5dW1sVa8uPzQ2"
expect_error 401 token_not_jws "an opaque access token"
[[ "$(jq_body .error.message)" == *"$AUDIENCE"* ]] && pass "the message says to request an access token for jwt_audience" || fail "message: $(jq_body .error.message)"
create_jwt "eyJhbGciOiJkaXIiLCJlbmMiOiJBMjU2R0NNIn0..aXZhaXZhaXZh.Y2lwaGVydGV4dA.dGFndGFndGFn"
expect_error 401 token_not_jws "a JWE (five segments)"

echo "# t=${SECONDS}s"
# --- 4. bad answers keep the old keys ------------------------------------------------------------------
touch "$IDP/www/fail500"
hup_expect http_status "an HTTP 500"
rm -f "$IDP/www/fail500"
create_jwt "$K2"
expect_status 201 "after the 500 the old keys still verify"
printf '<html>oops</html>' >"$DOC"
hup_expect invalid "a body that is not JSON"
printf '{"keys":[{"kty":"EC","kid":"e1","crv":"P-256","x":"AA","y":"AA"}]}' >"$DOC"
hup_expect invalid "a JWKS without a usable key"
{ printf '{"keys":['; head -c $((10 * 1024 * 1024)) /dev/zero | tr '\0' ' '; printf ']}'; } >"$DOC"
hup_expect too_large "a 10 MiB body"
create_jwt "$K2"
expect_status 201 "after garbage and 10 MiB the old keys still verify"
grep -q 'event=jwks_fetch_failed .*result=too_large' "$LOG" && pass "the too-large body is logged" || fail "no too_large log"
publish k2
hup_expect ok "a good JWKS again"
# A server that accepts (the kernel completes the handshake into the backlog) and never answers.
pid=$(cat "$IDP/nginx.pid")
sleep $MIN_REFETCH.2   # what is tested: a refetch is allowed once jwks_min_refetch_interval has passed
before=$(fetch_count network)
kill -STOP "$pid" $(pgrep -P "$pid")
K9=$(mint k9)
read -r STATUS t < <(curl -s -o /dev/null -w '%{http_code} %{time_total}\n' -X POST -H "Authorization: Bearer $K9" \
	-H 'Content-Type: application/json' -d '{}' "$BASE/api/sessions/create/")
expect_status 401 "an unknown kid while the issuer hangs"
awk -v t="$t" 'BEGIN { exit !(t >= 0.9 && t < 2.5) }' && pass "the worker waited for the fetch and was released at the bound (${t}s, bound 1 s)" || fail "took ${t}s"
wait_until 6 count_is network $((before + 1)) && pass "the hanging fetch ends at jwks_fetch_timeout (result=network)" || fail "no timeout counted"
kill -CONT "$pid" $(pgrep -P "$pid")
create_jwt "$K2"
expect_status 201 "after the hang the old keys still verify"

echo "# t=${SECONDS}s"
# --- 5. TLS is verified: another CA, another host name ------------------------------------------------
use_cert foreign
idp_reload
hup_expect tls "a certificate from another CA"
grep -q 'event=jwks_fetch_failed .*result=tls' "$LOG" && pass "the refused certificate is logged" || fail "no tls log"
create_jwt "$K2"
expect_status 201 "after the foreign certificate the old keys still verify"
use_cert good
idp_reload
hup_expect ok "the right certificate again"
grep -q 'event=jwks_fetch_recovered' "$LOG" && pass "recovery is logged" || fail "no jwks_fetch_recovered"
use_cert wronghost
idp_reload
hup_expect tls "a certificate for another host name"
[ "$(grep -c 'event=jwks_fetch_failed .*result=tls' "$LOG")" -ge 2 ] && pass "the host-name mismatch is logged" || fail "second tls failure not logged"
create_jwt "$K2"
expect_status 201 "after the wrong host name the old keys still verify"
use_cert good
idp_reload
hup_expect ok "fetching again"

echo "# t=${SECONDS}s"
# --- 6. 1,000 creates with random unknown kids in a burst ---------------------------------------------
# Tokens with random kids (rejected before the signature is looked at), built by one jq.
seed=$RANDOM$RANDOM
pl=$(std_claims "auth0|burst" | basenc --base64url | tr -d '=\n')
cfgf=$VAR/burst.curl
jq -rn --arg s "$seed" 'range(1000) | {alg: "RS256", typ: "JWT", kid: "r\($s)x\(.)"} | tojson | @base64' |
	tr '+/' '-_' | tr -d '=' | while read -r h; do
	printf 'next\nurl = "%s/api/sessions/create/"\nrequest = "POST"\nheader = "Authorization: Bearer %s.%s.AAAA"\nheader = "Content-Type: application/json"\ndata = "{}"\noutput = "/dev/null"\nwrite-out = "%%{http_code} %%{time_total}\\n"\n' "$BASE" "$h" "$pl"
done | tail -n +2 >"$cfgf"   # "next" between the requests, not before the first
sleep $MIN_REFETCH.2   # what is tested: a refetch is allowed once jwks_min_refetch_interval has passed
n0=$(fetches)
uk0=$(metric 'sessiond_auth_failures_total{scheme="bearer",reason="unknown_kid"}')
t0=$(date +%s.%N)
curl -s --no-progress-meter --parallel --parallel-max 32 -K "$cfgf" >"$VAR/burst.out"
t1=$(date +%s.%N)
n1=$(fetches)
total=$(wc -l <"$VAR/burst.out")
n401=$(grep -c '^401 ' "$VAR/burst.out")
slowest=$(awk '{ print $2 }' "$VAR/burst.out" | sort -g | tail -1)
allowed=$(awk -v a="$t0" -v b="$t1" -v m=$MIN_REFETCH 'BEGIN { print int((b - a) / m) + 1 }')
[ "$total" = 1000 ] && [ "$n401" = 1000 ] && pass "1,000 random kids: every one answered 401" || fail "burst: $total answers, $n401 × 401"
uk1=$(metric 'sessiond_auth_failures_total{scheme="bearer",reason="unknown_kid"}')
[ $((uk1 - uk0)) = 1000 ] && pass "... all counted as unknown_kid" || fail "unknown_kid moved by $((uk1 - uk0))"
[ $((n1 - n0)) -ge 1 ] && [ $((n1 - n0)) -le "$allowed" ] &&
	pass "... caused $((n1 - n0)) fetch(es), at most one per jwks_min_refetch_interval (allowed $allowed in $(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }') s)" ||
	fail "burst caused $((n1 - n0)) fetches, allowed $allowed"
awk -v t="$slowest" 'BEGIN { exit !(t < 2.5) }' && pass "... the slowest answered in ${slowest}s (wait bound 1 s)" || fail "slowest burst answer ${slowest}s"

echo "# t=${SECONDS}s"
# --- workers = 1 (mod_fcgid: no master, no fetcher process): the process fetches for itself -----------
# Straight to a one-worker sessiond over FastCGI with cgi-fcgi (no web server involved).
ALT=$VAR/run/alt.sock
SESSIOND_LISTEN=$ALT SESSIOND_WORKERS=1 SESSIOND_JWKS_CACHE_FILE=$IDP/alt-cache.json \
	"$BUILD/sessiond" --config "$CONF" </dev/null >>"$VAR/log/sessiond-alt.log" 2>&1 &
alt=$!
fcgi() { # method uri [jwt]: prints the response head and body
	printf '{}' | env -i REQUEST_METHOD="$1" REQUEST_URI="$2" CONTENT_TYPE=application/json CONTENT_LENGTH=2 \
		${3:+HTTP_AUTHORIZATION="Bearer $3"} REMOTE_ADDR=127.0.0.1 cgi-fcgi -bind -connect "$ALT" 2>/dev/null
}
wait_until 10 test -S "$ALT"
out=$(fcgi GET /api/sessions/health/)
grep -q '"jwks":"ok"' <<<"$out" && pass "workers = 1: keys fetched in-process at start" || fail "workers = 1 health: $out"
[ -z "$(pgrep -P "$alt")" ] && pass "workers = 1: no helper process" || fail "workers = 1 has children: $(pgrep -P "$alt")"
out=$(fcgi POST /api/sessions/create/ "$K2")
secret_note "$(sed -n 's/.*"session_token":"\([^"]*\)".*/\1/p' <<<"$out")"
grep -q '^Status: 201' <<<"$out" && pass "workers = 1: create verifies with the fetched key" || fail "workers = 1 create: $(head -1 <<<"$out")"
publish k2 k9
sleep $MIN_REFETCH.2   # what is tested: a refetch is allowed once jwks_min_refetch_interval has passed
n0=$(fetches)
out=$(fcgi POST /api/sessions/create/ "$K9")
secret_note "$(sed -n 's/.*"session_token":"\([^"]*\)".*/\1/p' <<<"$out")"
grep -q '^Status: 201' <<<"$out" && [ "$(fetches)" = $((n0 + 1)) ] &&
	pass "workers = 1: a new kid is fetched in-process on first use (one fetch)" || fail "workers = 1 rotation: $(head -1 <<<"$out"), fetches $n0 -> $(fetches)"
kill -TERM "$alt"
wait "$alt" 2>/dev/null

echo "# t=${SECONDS}s"
# --- 3. the issuer down: old keys keep working; a restart starts from the cached file; "stale" -----------
idp_stop
create_jwt "$K2"
expect_status 201 "issuer down: the fetched keys keep working"
printf 'jwks_refresh_interval = 5\n' >>"$CONF"   # stale after 10 s without a successful fetch
sessiond_restart && pass "sessiond restarts while the issuer is unreachable" || fail "restart"
MASTER=$(cat "$VAR/run/sessiond.pid")
create_jwt "$K2"
expect_status 201 "after the restart, tokens verify with the keys from jwks_cache_file"
out=$("$BUILD/sessiond" --check-config --config "$CONF" 2>&1)
grep -q "jwks: cannot fetch https://127.0.0.1:$IDP_PORT/.well-known/jwks.json: " <<<"$out" &&
	grep -qx "jwks: 1 key from the cached copy $IDP/jwks-cache.json" <<<"$out" && grep -qx "jwks: kids k2" <<<"$out" &&
	pass "--check-config falls back to the cached copy and lists its kid" || fail "--check-config: $(grep jwks <<<"$out")"
wait_until 15 jwks_is stale && pass "health: jwks stale after twice jwks_refresh_interval without a successful fetch" || fail "jwks: $(health_jwks)"
req GET /api/sessions/health/
expect_status 200 "a stale key set does not fail the health check (the store is up)"
create_jwt "$K2"
expect_status 201 "stale keys still verify"

echo "# t=${SECONDS}s"
# --- 7. kid-miss storms while the issuer trickles: the waits are bounded (issue 25) ---------------------
# The test's trickling issuer (tests/tools/jwks_trickle.py): while $TRK/hold exists it
# sends the headers, then a byte at a time, and the rest only once $TRK/release exists;
# its log says when it started trickling and when it was released.
TRK=$IDP/trickle
STORM=$IDP/storm
mkdir -p "$TRK" "$STORM"
TRK_PORT=$(free_port)
publish_trickle() { # KID...
	local args=() k
	for k in "$@"; do args+=("$k=$IDP/keys/$k.pub.pem"); done
	"$MINT" jwks --out "$TRK/jwks.json.new" "${args[@]}" && mv "$TRK/jwks.json.new" "$TRK/jwks.json"
}
trk_lines() { awk -v w="$1" '$1 == w { n++ } END { print n + 0 }' "$TRK/log"; }
trk_more() { [ "$(trk_lines "$1")" -gt "$2" ]; }
for k in k7 k8; do "$MINT" keygen --out "$IDP/keys" --kid "$k" >/dev/null || { fail "keygen $k"; exit 1; }; done
publish_trickle k2
python3 "$TOP/tests/tools/jwks_trickle.py" --port "$TRK_PORT" --cert "$IDP/certs/server.pem" --key "$IDP/certs/server.key" \
	--dir "$TRK" >"$TRK/log" 2>&1 &
trk=$!
trap 'kill "$trk" 2>/dev/null; idp_stop; stack_down; rm -rf "$IDP"' EXIT
wait_until 10 grep -q '^listening' "$TRK/log" || { fail "the trickling issuer started: $(cat "$TRK/log")"; exit 1; }
# Four workers (so the default jwks_kid_miss_waiters is 2), a fetch that may run 120 s, and a
# 30 s wait: every step below happens while the first waiters still wait, by state, not timing.
sed -i '/^jwks_kid_miss_wait_ms = /d' "$CONF"
cat >>"$CONF" <<CONF
workers = 4
jwks_url = https://127.0.0.1:$TRK_PORT/jwks.json
jwks_refresh_interval = 3600
jwks_fetch_timeout = 120
jwks_kid_miss_wait_ms = 30000
CONF
sessiond_restart && pass "sessiond restarts with workers = 4 and a trickling jwks_url" || fail "restart"
MASTER=$(cat "$VAR/run/sessiond.pid")
wait_until 10 count_is ok 1 && pass "the start-up fetch from the trickling issuer (not holding yet)" || fail "no start-up fetch: $(cat "$TRK/log")"
kid_miss() { metric "sessiond_jwks_kid_miss_total{outcome=\"$1\"}"; }
waiting() { metric sessiond_jwks_kid_miss_waiting; }
storm_done() { ls "$STORM" | grep -c '^code\.[0-9]*$'; }
storm() { # N JWT: N concurrent creates in the background; storm_done counts the answered
	rm -f "$STORM"/*
	for i in $(seq 1 "$1"); do
		(curl -s -o "$STORM/body.$i" -w '%{http_code}' -X POST -H "Authorization: Bearer $2" \
			-H 'Content-Type: application/json' -d '{}' "$BASE/api/sessions/create/" >"$STORM/part.$i" &&
			mv "$STORM/part.$i" "$STORM/code.$i") &
	done
}
storm_all() { [ "$(storm_done)" = "$1" ]; }
storm_codes() { local f; for f in "$STORM"/code.*; do [ -f "$f" ] && printf '%s\n' "$(cat "$f")"; done; }
storm_count() { storm_codes | grep -c "^$1\$"; }
storm_unknown_kid() { # the 401 answers all carry invalid_token with the reason unknown_kid
	local f n=0
	for f in "$STORM"/code.*; do
		[ "$(cat "$f")" = 401 ] || continue
		jq -e '.error.code == "invalid_token" and (.error.message | contains("unknown_kid"))' "$STORM/body.${f##*.}" >/dev/null && n=$((n + 1))
	done
	echo "$n"
}
storm_note_tokens() { local f; for f in "$STORM"/body.*; do secret_note "$(jq -r '.session_token // empty' "$f")"; done; }
storm_waiters() { [ "$(waiting)" = 2 ] && [ "$(storm_done)" = $(($1 - 2)) ]; }

# A: while a fetch is observed running, a storm of 10 unknown-kid creates: 2 wait, 8 answer at once.
publish_trickle k2 k7
touch "$TRK/hold"
t0=$(trk_lines trickling)
kill -HUP "$MASTER"
wait_until 10 trk_more trickling "$t0" && pass "a forced fetch is running: the issuer logs that it trickles" ||
	fail "no trickling fetch: $(cat "$TRK/log")"
K7=$(mint k7 "auth0|storm")
full0=$(kid_miss waiters_full)
fetched0=$(kid_miss fetched)
storm 10 "$K7"
if wait_until 20 storm_waiters 10; then
	pass "storm of 10 unknown kids during the fetch: 2 waiting (half of 4 workers), 8 answered"
else
	fail "storm: waiting $(waiting), answered $(storm_done) of 10"
fi
[ "$(storm_count 401)" = 8 ] && [ "$(storm_unknown_kid)" = 8 ] &&
	pass "... the 8 not waiting answered 401 invalid_token, reason unknown_kid" ||
	fail "... answers: $(storm_codes | sort | uniq -c | tr -s ' \n' ' ')"
[ $(($(kid_miss waiters_full) - full0)) = 8 ] && pass "... counted as outcome=waiters_full (8)" ||
	fail "... waiters_full moved by $(($(kid_miss waiters_full) - full0))"
create_jwt "$K2"
expect_status 201 "while the storm's waiters wait and the fetch trickles, a known-kid create"
TK=$(jq_body '.session_token // empty')
as "$TK" GET /api/sessions/current/
expect_status 200 "... and a GET /current/ with its session"
[ "$(trk_lines released)" = 0 ] && [ "$(waiting)" = 2 ] && [ "$(storm_done)" = 8 ] &&
	pass "... both answered while the fetch still ran (not released in the issuer's log) and the 2 still waited" ||
	fail "... released $(trk_lines released), waiting $(waiting), answered $(storm_done)"
touch "$TRK/release"
wait_until 20 storm_all 10 && pass "released: every storm request answered" || fail "answered $(storm_done) of 10 after the release"
storm_note_tokens
[ "$(storm_count 201)" = 2 ] && [ "$(storm_count 401)" = 8 ] &&
	pass "... the 2 that waited were created with the new key (201), the 8 others stayed 401" ||
	fail "... answers: $(storm_codes | sort | uniq -c | tr -s ' \n' ' ')"
[ $(($(kid_miss fetched) - fetched0)) = 2 ] && [ "$(waiting)" = 0 ] && pass "... counted as outcome=fetched (2); none waiting now" ||
	fail "... fetched moved by $(($(kid_miss fetched) - fetched0)), waiting $(waiting)"
create_jwt "$K7"
expect_status 201 "the new kid verifies for everyone after the fetch"
rm -f "$TRK/hold" "$TRK/release"

echo "# t=${SECONDS}s"
# B: once the running fetch is older than jwks_kid_miss_wait_ms (1 s, the default), nobody waits.
sed -i '/^jwks_kid_miss_wait_ms = /d' "$CONF"
sessiond_restart && pass "sessiond restarts with the default 1 s wait" || fail "restart"
MASTER=$(cat "$VAR/run/sessiond.pid")
wait_until 10 count_is ok 1 || fail "no start-up fetch after the restart"
publish_trickle k2 k7 k8
touch "$TRK/hold"
t0=$(trk_lines trickling)
r0=$(trk_lines released)
kill -HUP "$MASTER"
wait_until 10 trk_more trickling "$t0" && pass "a forced fetch trickles again" || fail "no trickling fetch: $(cat "$TRK/log")"
K8=$(mint k8 "auth0|storm")
overdue() { create_jwt "$K8"; [ "$(kid_miss fetch_overdue)" -ge 1 ]; }
# Probes (each 401) until one finds the fetch older than the wait: then every later one does too.
wait_until 20 overdue && pass "an unknown kid answers at once once the running fetch is older than the wait (outcome=fetch_overdue)" ||
	fail "fetch_overdue stayed $(kid_miss fetch_overdue)"
over0=$(kid_miss fetch_overdue)
w0="$(kid_miss fetched) $(kid_miss wait_expired) $(kid_miss waiters_full)"
storm 12 "$K8"
wait_until 20 storm_all 12 && pass "a storm of 12 unknown kids against the overdue fetch: all answered" ||
	fail "answered $(storm_done) of 12"
[ "$(storm_unknown_kid)" = 12 ] && pass "... all 401 invalid_token, reason unknown_kid" || fail "... answers: $(storm_codes | sort | uniq -c | tr -s ' \n' ' ')"
[ $(($(kid_miss fetch_overdue) - over0)) = 12 ] && [ "$(kid_miss fetched) $(kid_miss wait_expired) $(kid_miss waiters_full)" = "$w0" ] &&
	pass "... none of them waited: 12 × outcome=fetch_overdue, no other outcome moved" ||
	fail "... fetch_overdue moved by $(($(kid_miss fetch_overdue) - over0)); fetched/wait_expired/waiters_full $w0 -> $(kid_miss fetched) $(kid_miss wait_expired) $(kid_miss waiters_full)"
create_jwt "$K2"
expect_status 201 "a known-kid create while the overdue fetch still trickles"
[ "$(trk_lines released)" = "$r0" ] && pass "... the fetch was still running then (not released in the issuer's log)" || fail "... released $(trk_lines released): $(tr "\n" " " <"$TRK/log")"
touch "$TRK/release"
wait_until 20 count_is ok 2 && pass "released: the fetch installs the new key set" || fail "no second ok fetch"
create_jwt "$K8"
expect_status 201 "the kid of the released fetch verifies"
kill "$trk" 2>/dev/null
wait "$trk" 2>/dev/null || true   # it ends by our SIGTERM
