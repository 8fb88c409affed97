#!/usr/bin/env bash
# Sessions end when the identity provider says so (issue 26): OpenID Connect
# Back-Channel Logout, the service revoke, and rotated-token reuse. The test is
# its own identity provider: it makes a CA, serves the JWKS over real TLS from
# its own nginx and signs access and logout tokens with its own key. Two
# sessiond hosts (A: the stack's, with the back-channel route on; B: a second
# master with its own socket and the route off, as by default) share one
# PostgreSQL; every revocation made on A is seen on B.
. "$(dirname "$0")/../lib.sh"

# --- the identity provider: a CA, a certificate for 127.0.0.1, a JWKS over https -----------
IDP=$(itest_mkdir 21_idp_logout-idp)
mkdir -p "$IDP/www/.well-known" "$IDP/keys" "$IDP/certs"
IDP_PORT=$(free_port)
ISS="https://127.0.0.1:$IDP_PORT/"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout "$IDP/certs/ca.key" \
	-out "$IDP/certs/ca.pem" -days 2 -subj "/CN=test-ca" 2>/dev/null &&
	openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout "$IDP/certs/server.key" \
		-out "$IDP/certs/server.csr" -subj "/CN=idp" 2>/dev/null &&
	openssl x509 -req -in "$IDP/certs/server.csr" -CA "$IDP/certs/ca.pem" -CAkey "$IDP/certs/ca.key" -CAcreateserial \
		-out "$IDP/certs/server.pem" -days 2 \
		-extfile <(printf 'subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n') 2>/dev/null ||
	{ fail "openssl made the test CA and certificate"; exit 1; }
chmod 644 "$IDP"/certs/*
"$MINT" keygen --out "$IDP/keys" --kid k1 >/dev/null && "$MINT" keygen --out "$IDP/keys" --kid k9 >/dev/null &&
	"$MINT" jwks --out "$IDP/www/.well-known/jwks.json" "k1=$IDP/keys/k1.pub.pem" && chmod 644 "$IDP/www/.well-known/jwks.json" ||
	{ fail "jwtmint made the keys and the JWKS"; exit 1; }
nginx_conf "$IDP" "$IDP/error.log" 64 <<CONF
    access_log off;
    server {
        listen 127.0.0.1:$IDP_PORT ssl;
        ssl_certificate $IDP/certs/server.pem;
        ssl_certificate_key $IDP/certs/server.key;
        root $IDP/www;
        location = /.well-known/jwks.json { default_type application/json; }
    }
CONF
nginx -p "$IDP" -c "$IDP/nginx.conf" 2>"$IDP/start.log" || { cat "$IDP/start.log"; fail "the identity provider's nginx started"; exit 1; }

GRACE=5
SID_CLAIM=https://sessiond.test/sid
service_key_new
secret_note "$SERVICE_KEY"
stack_up "jwks_file =
jwt_issuer = $ISS
jwks_ca_file = $IDP/certs/ca.pem
jwks_cache_file = $IDP/jwks-a.json
jwks_min_refetch_interval = 1
auth_fail_limit = 5
trusted_proxies = 127.0.0.1
service_key_file = $SERVICE_KEY_FILE
claim_sid = $SID_CLAIM
backchannel_logout = on
backchannel_audience = client-other, client-1
rotation_reuse_grace = $GRACE"
BASE_A=$BASE
ISSUER=$ISS
CONF_B=$VAR/sessiond2.conf
SOCK_B=$VAR/run/sessiond2.sock
PID_B=$VAR/run/sessiond2.pid
N2=$VAR/nginx2
stop_b() {
	local pid
	[ -f "$PID_B" ] || return 0
	pid=$(cat "$PID_B")
	kill -TERM "$pid" 2>/dev/null
	wait_until 30 eval "! kill -0 $pid 2>/dev/null" || fail "host B did not exit on SIGTERM"
	rm -f "$PID_B"
}
teardown() {
	[ -f "$N2/nginx.pid" ] && nginx -p "$N2" -c "$N2/nginx.conf" -s stop 2>/dev/null
	[ -f "$IDP/nginx.pid" ] && kill -TERM "$(cat "$IDP/nginx.pid")" 2>/dev/null
	stop_b
	stack_down
	rm -rf "$IDP"
}
trap teardown EXIT

# Host B: the same configuration with its own socket and key cache, the back-channel route at its default (off).
sed -e "s|^listen = .*|listen = $SOCK_B|" -e "s|^jwks_cache_file = .*|jwks_cache_file = $IDP/jwks-b.json|" \
	-e '/^backchannel_/d' "$CONF" >"$CONF_B"
PORT_B=$(free_port)
BASE_B="http://127.0.0.1:$PORT_B"
mkdir -p "$N2"
cp /etc/nginx/fastcgi_params "$N2/fastcgi_params"
nginx_conf "$N2" "$VAR/log/nginx2-error.log" 256 <<CONF
    access_log off;
$(nginx_fcgi_server "$PORT_B" "$SOCK_B")
CONF
nginx -p "$N2" -c "$N2/nginx.conf" 2>"$VAR/nginx2.log" || { cat "$VAR/nginx2.log"; fail "nginx for host B started"; exit 1; }
"$BUILD/sessiond" --config "$CONF_B" </dev/null >>"$VAR/log/sessiond2.log" 2>&1 &
echo $! >"$PID_B"
disown
wait_health "$BASE_B" && pass "host B (a second sessiond master on the same PostgreSQL) is up" || { fail "host B started"; exit 1; }

jwks_ok() { [ "$(curl -s "$1/api/sessions/health/" | jq -r .jwks)" = ok ]; }
wait_until 20 jwks_ok "$BASE_A" && wait_until 20 jwks_ok "$BASE_B" &&
	pass "both hosts fetched the issuer's keys over TLS" || fail "jwks: A $(jwks_ok "$BASE_A" && echo ok), B $(jwks_ok "$BASE_B" && echo ok)"
echo "# t=${SECONDS}s: identity provider and two hosts up"

# --- tokens ---------------------------------------------------------------------------------
EVENT='"events":{"http://schemas.openid.net/event/backchannel-logout":{}}'
sign() { # claims [header-json] [key]: a JWT signed by the identity provider's key k1 (or key)
	local jwt k=${3:-k1}
	jwt=$("$MINT" sign --key "$IDP/keys/$k.key.pem" --kid "$k" --claims-json "$1" ${2:+--header-json "$2"}) || return
	secret_note "$jwt"
	printf '%s\n' "$jwt"
}
# lt MEMBERS: logout-token claims: iss, aud client-1, iat, exp, a fresh jti, events, plus MEMBERS.
lt() {
	local now
	now=$(date +%s)
	printf '{"iss":"%s","aud":"client-1","iat":%d,"exp":%d,"jti":"jti-%s",%s%s}' \
		"$ISS" "$now" $((now + 120)) "$(openssl rand -hex 12)" "$EVENT" "${1:+,$1}"
}
LT_HDR='{"alg":"RS256","kid":"k1","typ":"logout+jwt"}'
XFF=0
# logout TOKEN [curl args]: POST the form to host A, each from its own client address (the guard counts per address).
logout() {
	local t=$1
	shift
	XFF=$((XFF + 1))
	on A POST /api/sessions/backchannel-logout/ -H "X-Forwarded-For: 192.0.2.$XFF" \
		-H 'Content-Type: application/x-www-form-urlencoded' --data-urlencode "logout_token=$t" "$@"
}
# login HOST SUB [SID]: a session created on HOST from an access token (with the sid claim when given).
login() {
	local jwt
	jwt=$(sign "$(std_claims "$2" "${3:+\"$SID_CLAIM\":\"$3\"}")")
	on "$1" POST /api/sessions/create/ -H "Authorization: Bearer $jwt" -H 'Content-Type: application/json' -d '{}'
	TOKEN=$(jq_body '.session_token // empty')
	SID=$(jq_body '.session.id // empty')
	[ -n "$TOKEN" ] || fail "login $2 on $1: $STATUS $BODY"
}
status_on() { curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Session $2" "$(eval echo "\$BASE_$1")/api/sessions/current/"; }
is_status() { [ "$(status_on "$1" "$2")" = "$3" ]; }
# Revocations reach other hosts within 2 s at worst (docs/invalidation.md); waited for up to 10 s.
gone_on() { wait_until 10 is_status "$1" "$2" 401; }
live_on() { is_status "$1" "$2" 200; }
metric() { curl -s "$BASE_A/api/sessions/metrics/" | awk -v n="$1" '$1 == n { print $2 }'; }
U="auth0|bc$RANDOM"

# --- back-channel logout: acceptances --------------------------------------------------------
login A "$U" sid-1; T_S1=$TOKEN; I_S1=$SID
login B "$U" sid-2; T_S2=$TOKEN
login A "$U"; T_NONE=$TOKEN
[ "$(psql_q "SELECT idp_sid FROM sessions WHERE id = '$I_S1'")" = sid-1 ] &&
	pass "create records the access token's sid claim ($SID_CLAIM)" || fail "idp_sid not recorded"
for t in "$T_S1" "$T_S2" "$T_NONE"; do status_on B "$t" >/dev/null; done   # each in B's cache
logout "$(sign "$(lt '"sid":"sid-1"')" "$LT_HDR")"
expect_status 200 "sid only (typ logout+jwt): accepted"
expect_json .count 1 "sid only: the one session created under sid-1 is revoked"
expect_header Cache-Control 'no-store' "the 200 carries Cache-Control: no-store"
gone_on B "$T_S1" && pass "sid only: the session is refused on host B too" || fail "sid only: B still serves it ($(status_on B "$T_S1"))"
live_on B "$T_S2" && live_on A "$T_NONE" && pass "sid only: the user's other sessions (another sid, no sid) live on" ||
	fail "sid only revoked too much"

login A "$U" sid-3; T_S3=$TOKEN
logout "$(sign "$(lt "\"sub\":\"$U\",\"sid\":\"sid-2\"")")"
expect_status 200 "sid and sub (typ JWT): accepted"
expect_json .count 2 "sid and sub: the session under sid-2 and the one without a sid are revoked"
gone_on B "$T_S2" && gone_on B "$T_NONE" && pass "sid and sub: both refused on host B" || fail "sid and sub: B $(status_on B "$T_S2") $(status_on B "$T_NONE")"
live_on B "$T_S3" && pass "sid and sub: the user's session under another sid lives on" || fail "sid and sub revoked sid-3"

login B "$U"; T_N2=$TOKEN
logout "$(sign "$(lt "\"sub\":\"$U\"")" '{"alg":"RS256","kid":"k1"}')"
expect_status 200 "sub only (no typ): accepted"
expect_json .count 2 "sub only: all the user's sessions are revoked"
gone_on B "$T_S3" && gone_on A "$T_N2" && pass "sub only: refused on both hosts" || fail "sub only: $(status_on B "$T_S3") $(status_on A "$T_N2")"
logout "$(sign "$(jq -c '.aud = ["client-x", "client-other"]' <<<"$(lt '"sid":"no-such-sid"')")" "$LT_HDR")"
expect_status 200 "a token matching nothing, aud an array holding the second listed audience: 200"
expect_json .count 0 "nothing matched: count 0"
n=$(psql_q "SELECT count(*) FROM session_events WHERE event = 'revoked' AND detail->>'reason' = 'backchannel' AND user_id = '$U'")
[ "$n" = 5 ] && pass "every back-channel revocation is audited with reason backchannel ($n rows)" || fail "backchannel audit rows: $n, want 5"
[ "$(metric 'sessiond_sessions_revoked_total{reason="backchannel"}')" = 5 ] && pass "the revocations are counted under reason backchannel" ||
	fail "metric: $(metric 'sessiond_sessions_revoked_total{reason="backchannel"}')"

# --- back-channel logout: rejections (each a 400 with a JSON error) -------------------------
reject() { # desc code [message-regex]
	expect_error 400 "$2" "$1"
	[ -z "${3:-}" ] || [[ "$(jq_body .error.message)" =~ $3 ]] || fail "$1: message '$(jq_body .error.message)', want /$3/"
	[ "$(header Cache-Control)" = no-store ] || fail "$1: Cache-Control '$(header Cache-Control)'"
}
login A "$U" sid-r; T_R=$TOKEN
now=$(date +%s)
base=$(lt '"sid":"sid-r"')
logout "$(sign "$(jq -c '.aud = "client-9"' <<<"$base")" "$LT_HDR")"; reject "wrong aud" invalid_logout_token bad_audience
logout "$(sign "$(jq -c '.aud = "https://api.sessiond.local"' <<<"$base")" "$LT_HDR")"; reject "the access tokens' audience" invalid_logout_token bad_audience
logout "$(sign "$(jq -c '.iss = "https://evil.example/"' <<<"$base")" "$LT_HDR")"; reject "wrong iss" invalid_logout_token bad_issuer
logout "$(sign "$(jq -c 'del(.events)' <<<"$base")" "$LT_HDR")"; reject "missing events" invalid_logout_token events
logout "$(sign "$(jq -c '.events = {"http://schemas.openid.net/event/backchannel-logout": "yes"}' <<<"$base")" "$LT_HDR")"
reject "events member not an object" invalid_logout_token events
logout "$(sign "$(jq -c '.events = ["http://schemas.openid.net/event/backchannel-logout"]' <<<"$base")" "$LT_HDR")"
reject "events an array" invalid_logout_token events
logout "$(sign "$(jq -c '.events = {"http://example.com/other": {}}' <<<"$base")" "$LT_HDR")"; reject "events without the logout member" invalid_logout_token events
logout "$(sign "$(jq -c '.nonce = "n-1"' <<<"$base")" "$LT_HDR")"; reject "nonce present" invalid_logout_token nonce
logout "$(sign "$(jq -c 'del(.sid)' <<<"$base")" "$LT_HDR")"; reject "neither sid nor sub" invalid_logout_token sid
logout "$(sign "$(jq -c 'del(.jti)' <<<"$base")" "$LT_HDR")"; reject "no jti" invalid_logout_token jti
logout "$(sign "$(jq -c 'del(.exp)' <<<"$base")" "$LT_HDR")"; reject "no exp" invalid_logout_token
logout "$(sign "$(jq -c ".exp = $((now - 3600)) | .iat = $((now - 3700))" <<<"$base")" "$LT_HDR")"; reject "expired" invalid_logout_token expired
logout "$(sign "$(jq -c ".iat = $((now + 3600))" <<<"$base")" "$LT_HDR")"; reject "iat in the future" invalid_logout_token iat
logout "$(sign "$(jq -c 'del(.iat)' <<<"$base")" "$LT_HDR")"; reject "no iat" invalid_logout_token iat
logout "$(sign "$base" '{"alg":"RS256","kid":"k1","typ":"at+jwt"}')"; reject "typ at+jwt" invalid_logout_token
logout "$("$MINT" sign --alg none --kid k1 --claims-json "$base")"; reject "alg none" invalid_logout_token bad_alg
logout "$("$MINT" sign --alg HS256 --kid k1 --hmac-key-file "$IDP/keys/k1.pub.pem" --claims-json "$base")"
reject "HS256 keyed with the public key" invalid_logout_token bad_alg
logout "$(sign "$base" '{"alg":"RS256","kid":"k9","typ":"logout+jwt"}' k9)"; reject "an unknown kid" invalid_logout_token unknown_kid
on A POST /api/sessions/backchannel-logout/ -H 'X-Forwarded-For: 192.0.2.250' -H 'Content-Type: application/x-www-form-urlencoded' -d 'state=1&token=x'
reject "a form without logout_token" invalid_request
on A POST /api/sessions/backchannel-logout/ -H 'X-Forwarded-For: 192.0.2.251' -H 'Content-Type: application/json' \
	-d "{\"logout_token\":\"$(sign "$base" "$LT_HDR")\"}"
reject "a JSON body" invalid_request
replay=$(sign "$(lt '"sid":"sid-replay"')" "$LT_HDR")
logout "$replay"; expect_status 200 "a fresh jti: accepted"
logout "$replay"; reject "the same token again (replayed jti)" invalid_logout_token replayed
live_on A "$T_R" && pass "no rejected token revoked anything" || fail "a rejected token revoked sid-r"
# A logout token is never a login.
on A POST /api/sessions/create/ -H "Authorization: Bearer $(sign "$(std_claims "$U" "$EVENT")")" -H 'Content-Type: application/json' -d '{}'
expect_error 401 invalid_token "create refuses an access token carrying events"
on A POST /api/sessions/create/ -H "Authorization: Bearer $(sign "$(std_claims "$U")" "$LT_HDR")" -H 'Content-Type: application/json' -d '{}'
expect_error 401 invalid_token "create refuses typ logout+jwt"
on B POST /api/sessions/backchannel-logout/ -H 'Content-Type: application/x-www-form-urlencoded' --data-urlencode "logout_token=$replay"
expect_error 404 not_found "the route is off by default (host B)"
# Guarded: past auth_fail_limit (5) failures from one address, 429.
for _ in 1 2 3 4 5 6; do
	on A POST /api/sessions/backchannel-logout/ -H 'X-Forwarded-For: 198.51.100.7' -H 'Content-Type: application/x-www-form-urlencoded' \
		--data-urlencode "logout_token=$("$MINT" sign --alg none --kid k1 --claims-json "$base")"
done
expect_error 429 too_many_failures "forged logout tokens from one address hit the brute-force guard"
echo "# t=${SECONDS}s: back-channel logout done"

# --- cleanup_sessions removes seen jtis once their token expired ---------------------------
# One jti expired by hand; others may have expired meanwhile on a slow run (their
# tokens' own exp): cleanup deletes exactly those before its cutoff, no other.
jti0=$(psql_q "SELECT min(jti) FROM logout_jtis")
psql_q "UPDATE logout_jtis SET expires_at = now() - interval '1 second' WHERE jti = '$jti0'" >/dev/null
before=$(psql_q "SELECT count(*) FROM logout_jtis")
out=$("$BUILD/cleanup_sessions" --config "$CONF" 2>&1)
n=$(sed -n 's/^cleanup logout_jtis=//p' <<<"$out")
cut=$(sed -n 's/^cleanup cutoff=//p' <<<"$out")
after=$(psql_q "SELECT count(*) FROM logout_jtis")
[ "${n:-0}" -ge 1 ] && [ "$after" = $((before - n)) ] && [ "$(psql_q "SELECT count(*) FROM logout_jtis WHERE jti = '$jti0'")" = 0 ] &&
	[ "$(psql_q "SELECT count(*) FROM logout_jtis WHERE expires_at < '$cut'")" = 0 ] &&
	pass "cleanup_sessions deletes the expired jtis ($n, the one expired by hand among them) and keeps the $after others" ||
	fail "cleanup: before $before, after $after: $out"

# --- the service revoke ---------------------------------------------------------------------
V="auth0|sv$RANDOM"
login A "$V"; T_V1=$TOKEN
login B "$V"; T_V2=$TOKEN
on A POST "/api/sessions/internal/users/${V/|/%7C}/revoke/" -H 'Content-Type: application/json' -d '{}'
expect_error 401 invalid_service_key "service revoke without a key"
on A POST "/api/sessions/internal/users/${V/|/%7C}/revoke/" -H 'Authorization: Service wrong-key-wrong-key-wrong' -H 'Content-Type: application/json' -d '{}'
expect_error 401 invalid_service_key "service revoke with a wrong key"
live_on B "$T_V2" && pass "neither revoked anything" || fail "a refused service revoke revoked"
on A POST "/api/sessions/internal/users/${V/|/%7C}/revoke/" -H "Authorization: Service $SERVICE_KEY" -H 'Content-Type: application/json' -d '{"reason":"Password Changed"}'
expect_error 400 invalid_field "service revoke with a malformed reason"
on A POST "/api/sessions/internal/users/${V/|/%7C}/revoke/" -H "Authorization: Service $SERVICE_KEY" -H 'Content-Type: application/json' -d '{"reason":"password_changed"}'
expect_status 200 "service revoke"
expect_json .count 2 "service revoke: both of the user's sessions"
gone_on B "$T_V2" && gone_on A "$T_V1" && pass "service revoke: refused on both hosts" || fail "service revoke: $(status_on B "$T_V2")"
[ "$(psql_q "SELECT count(*) FROM session_events WHERE event = 'revoked' AND user_id = '$V' AND detail->>'reason' = 'password_changed'")" = 2 ] &&
	[ "$(psql_q "SELECT DISTINCT revoked_reason FROM sessions WHERE user_id = '$V'")" = password_changed ] &&
	pass "service revoke: the reason is recorded and audited" || fail "service revoke audit"
[ "$(metric 'sessiond_sessions_revoked_total{reason="service"}')" = 2 ] && pass "service revoke: counted under reason service" || fail "service metric"

# --- rotated-token reuse ------------------------------------------------------------------------
rotate() { # token → NEW (the rotated token) from host A
	as_on A "$1" POST /api/sessions/refresh/ -H 'Content-Type: application/json' -d '{"rotate":true}'
	NEW=$(jq_body '.session_token // empty')
}
rotated_age_below() { [ "$(psql_q "SELECT now() - rotated_at < make_interval(secs => $GRACE) FROM gone_tokens WHERE session_id = '$1'")" = t ]; }
reuse_events() { psql_q "SELECT count(*) FROM session_events WHERE event = 'token_reuse' AND session_id = '$1'"; }
W="auth0|ru$RANDOM"

# Within the grace (checked afterwards in PostgreSQL's clock: a presentation that
# came later than that is no verdict, tried again on a fresh session, 3 times at most).
verdict=""
for try in 1 2 3; do
	login A "$W"; T0=$TOKEN; S=$SID
	rotate "$T0"; T1=$NEW
	as_on A "$T0" GET /api/sessions/current/ -H 'X-Forwarded-For: 203.0.113.5'
	st=$STATUS
	if rotated_age_below "$S"; then verdict=$try; break; fi
done
if [ -n "$verdict" ]; then
	[ "$st" = 401 ] && live_on A "$T1" && live_on B "$T1" && [ "$(reuse_events "$S")" = 0 ] &&
		pass "within rotation_reuse_grace: the old token gets 401, the session lives on, no token_reuse" ||
		fail "within the grace: old token $st, new token A $(status_on A "$T1") B $(status_on B "$T1"), events $(reuse_events "$S")"
else
	fail "within the grace: no verdict (each presentation came later than ${GRACE}s after its rotation)"
fi

# Past the grace: waited for in PostgreSQL's clock, then the old token from another address.
reuse_before=$(metric sessiond_token_reuse_total)
wait_until 20 eval '! rotated_age_below "$S"' || fail "the rotation never aged past the grace"
as_on B "$T0" GET /api/sessions/current/ -H 'X-Forwarded-For: 203.0.113.66'
expect_error 401 invalid_session "past the grace: the old token is refused"
gone_on A "$T1" && gone_on B "$T1" && pass "past the grace: the whole session ends, the current token too, on both hosts" ||
	fail "reuse: current token A $(status_on A "$T1") B $(status_on B "$T1")"
[ "$(psql_q "SELECT host(ip_address) FROM session_events WHERE event = 'token_reuse' AND session_id = '$S'")" = 203.0.113.66 ] &&
	pass "a token_reuse audit row with the presenting address" || fail "token_reuse row: $(psql_q "SELECT event, host(ip_address) FROM session_events WHERE session_id = '$S'")"
[ "$(psql_q "SELECT revoked_reason FROM sessions WHERE id = '$S'")" = token_reuse ] && pass "the session's revoked_reason is token_reuse" || fail "revoked_reason"
# The metric is read on the host that saw the reuse (counters are per host).
reuse_b=$(curl -s "$BASE_B/api/sessions/metrics/" | awk '$1 == "sessiond_token_reuse_total" { print $2 }')
[ "$reuse_b" = 1 ] && [ "$(metric sessiond_token_reuse_total)" = "$reuse_before" ] &&
	pass "sessiond_token_reuse_total counts it (1 on host B, unchanged on A)" || fail "token_reuse metric: B $reuse_b, A $(metric sessiond_token_reuse_total)"
as_on B "$T0" GET /api/sessions/current/
[ "$STATUS" = 401 ] && [ "$(reuse_events "$S")" = 1 ] && pass "presented again: 401, nothing more recorded" || fail "second reuse: $STATUS, $(reuse_events "$S") events"

# A deleted session keeps today's answer: no revocation to make, nothing recorded.
login A "$W"; T0=$TOKEN; S=$SID
rotate "$T0"
psql_q "DELETE FROM sessions WHERE id = '$S'" >/dev/null
wait_until 20 eval '! rotated_age_below "$S"' || fail "the rotation never aged past the grace"
as_on A "$T0" GET /api/sessions/current/
[ "$STATUS" = 401 ] && [ "$(reuse_events "$S")" = 0 ] && pass "a deleted session's rotated token past the grace: 401, no token_reuse" ||
	fail "deleted session: $STATUS, $(reuse_events "$S") events"

# Two tabs racing a rotation with the same token: one rotates, the other is answered like a rotated token.
ok_races=0
for i in 1 2 3 4 5; do
	login A "$W"; T0=$TOKEN; S=$SID
	for tab in 1 2; do
		curl -s -o "$VAR/tab$tab.json" -w '%{http_code}' -X POST -H "Authorization: Session $T0" -H 'Content-Type: application/json' \
			-d '{"rotate":true}' "$BASE_A/api/sessions/refresh/" >"$VAR/tab$tab.status" &
	done
	wait
	codes=$(cat "$VAR/tab1.status" "$VAR/tab2.status" | fold -w3 | sort | tr '\n' ' ')
	win=$(jq -r '.session_token // empty' "$VAR/tab1.json" "$VAR/tab2.json")
	secret_note $win
	if [ "$codes" = "200 401 " ] && [ "$(wc -w <<<"$win")" = 1 ] && live_on A "$win" && [ "$(reuse_events "$S")" = 0 ] &&
		[ "$(psql_q "SELECT count(*) FROM session_events WHERE event = 'rotated' AND session_id = '$S'")" = 1 ]; then
		ok_races=$((ok_races + 1))
	else
		fail "race $i: statuses $codes, winner live $(live_on A "$win" && echo yes), token_reuse $(reuse_events "$S")"
	fi
done
[ "$ok_races" = 5 ] && pass "two tabs racing a rotation, 5 times: one new token, the other 401, the session lives on, no token_reuse"
echo "# t=${SECONDS}s: done"
