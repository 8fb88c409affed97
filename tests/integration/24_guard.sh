#!/usr/bin/env bash
# The brute-force guard and the audit trail under hostile clients at scale
# (issue 25, items 1-3) over the real stack: one guard per real client behind a
# trusted proxy (canonical binary addresses, IPv6 per /64, a proxy's own bucket
# for an empty or malformed X-Forwarded-For), a host-wide bound on auth_failed
# audit rows with summary rows, and a full guard table that never lifts an
# active block.
. "$(dirname "$0")/../lib.sh"
LIMIT=5
stack_up "auth_fail_limit = $LIMIT
auth_fail_window = 600
trusted_proxies = 127.0.0.1
auth_fail_table_size = 64
auth_fail_audit_rate = 5
auth_fail_ipv6_prefix = 64"

rand_token() { openssl rand 32 | basenc --base64url | tr -d '=\n'; }
metric() { # series: its value now (0 when absent)
	curl -s "$BASE/api/sessions/metrics/" | awk -v k="$1" '$1 == k { v = $2 } END { print (v == "" ? 0 : v) }'
}
# bad XFF-HEADER N: N requests with unknown tokens through one curl, the header as given to curl -H
# ('X-Forwarded-For: 1.2.3.4'; 'X-Forwarded-For;' sends it empty; '' sends none); prints the statuses in order.
bad() {
	local h=$1 n=$2 args=() i
	for i in $(seq 1 "$n"); do
		[ "$i" -gt 1 ] && args+=(--next)
		args+=(-s -o /dev/null -w '%{http_code} ' -H "Authorization: Session $(rand_token)")
		[ -n "$h" ] && args+=(-H "$h")
		args+=("$BASE/api/sessions/current/")
	done
	curl "${args[@]}" | sed 's/ $//'
}
code() { curl -s -o /dev/null -w '%{http_code}' "$@"; }
new_token() { # xff-header: a live session token created through that header
	create "auth0|g$RANDOM" >/dev/null
	printf '%s' "$TOKEN"
}
rows_since() { psql_q "SELECT count(*) FROM session_events WHERE event = 'auth_failed' AND id NOT IN (SELECT id FROM $1) AND detail->>'reason' <> 'audit_summary'"; }
# mark_events NAME: remembers which audit rows exist now; "id > max(id)" would not do,
# since each backend takes its ids from a cached block of the sequence (sql/014).
mark_events() { psql_q "CREATE TABLE $1 AS SELECT id FROM session_events" >/dev/null; }
GOOD=$(new_token)
[ -n "$GOOD" ] && pass "a live session to check with" || fail "no session: $STATUS $BODY"
# The test proxy is nginx on 127.0.0.1 (trusted_proxies): X-Forwarded-For from curl reaches sessiond.
S="$BASE/api/sessions/current/"
G=(-H "Authorization: Session $GOOD")

# --- item 1: one guard per real client behind a trusted proxy ------------------------------------------------
r=$(bad 'X-Forwarded-For;' 8)
[ "$r" = "401 401 401 401 401 429 429 429" ] &&
	pass "8 unknown tokens through the proxy with an empty X-Forwarded-For: 5x 401, then 429 in the proxy's own bucket" ||
	fail "empty X-Forwarded-For: $r"
[ "$(code "${G[@]}" -H 'X-Forwarded-For: not-an-ip' "$S")" = 429 ] && [ "$(code "${G[@]}" -H 'X-Forwarded-For: 203.0.113.5:443' "$S")" = 429 ] &&
	pass "a malformed X-Forwarded-For (garbage, an address with a port) lands in the same blocked proxy bucket" ||
	fail "malformed X-Forwarded-For not in the proxy's bucket"
[ "$(code "${G[@]}" "$S")" = 200 ] &&
	pass "a direct caller from the trusted address, no X-Forwarded-For: not blocked by the proxy's bucket (200)" ||
	fail "the direct trusted caller is blocked by failures that carried no client address"
[ "$(bad '' 1)" = 401 ] && pass "the direct trusted caller's own failure is 401, counted apart" || fail "direct caller's failure not 401"
[ "$(code "${G[@]}" -H 'X-Forwarded-For: 192.0.2.50' "$S")" = 200 ] && [ "$(bad 'X-Forwarded-For: 192.0.2.51' 1)" = 401 ] &&
	pass "requests that carry a valid client address are never blocked by the proxy's bucket (200, 401)" ||
	fail "a named client was blocked by the proxy's bucket"
grep -q 'event=auth_failed .*addr=127.0.0.1 bucket=proxy' "$VAR/log/sessiond.log" &&
	pass "the log marks failures counted in the proxy's bucket (bucket=proxy)" || fail "no bucket=proxy in the log"

# Canonical binary addresses; IPv6 per /64.
r=$(bad 'X-Forwarded-For: 2001:db8:1:2::1' 5)
[ "$r" = "401 401 401 401 401" ] && pass "5 failures from 2001:db8:1:2::1" || fail "IPv6 failures: $r"
[ "$(code "${G[@]}" -H 'X-Forwarded-For: 2001:db8:1:2:0:0:0:1' "$S")" = 429 ] &&
	pass "2001:db8:1:2:0:0:0:1 is the same client (429)" || fail "another spelling of the address is not blocked"
[ "$(code "${G[@]}" -H 'X-Forwarded-For: 2001:DB8:1:2::BEEF' "$S")" = 429 ] &&
	pass "another address of the same /64 shares the bucket (429)" || fail "the /64 is not one bucket"
[ "$(code "${G[@]}" -H 'X-Forwarded-For: 2001:db8:1:3::1' "$S")" = 200 ] &&
	pass "another /64 is another client (200)" || fail "another /64 blocked"
r=$(bad 'X-Forwarded-For: ::ffff:198.51.100.20' 5)
[ "$(code "${G[@]}" -H 'X-Forwarded-For: 198.51.100.20' "$S")" = 429 ] &&
	pass "5 failures as ::ffff:198.51.100.20 block 198.51.100.20 (an IPv4-mapped address is IPv4)" ||
	fail "::ffff:198.51.100.20 and 198.51.100.20 are counted apart ($r)"
[ "$(psql_q "SELECT count(*) FROM session_events WHERE event = 'auth_failed' AND ip_address = '198.51.100.20'")" -ge 1 ] &&
	pass "its audit row holds the canonical 198.51.100.20" || fail "no audit row for 198.51.100.20"

# --- item 2: a host-wide bound on auth_failed audit rows (auth_fail_audit_rate = 5) ---------------------------
# settled: every dropped row is in a summary row (the metric equals the summaries' sum).
summarized() { psql_q "SELECT coalesce(sum((detail->>'dropped')::bigint), 0) FROM session_events WHERE event = 'auth_failed' AND detail->>'reason' = 'audit_summary' ${1:+AND id NOT IN (SELECT id FROM $1)}"; }
settled() { [ "$(metric sessiond_audit_rows_dropped_total)" = "$(summarized)" ]; }
wait_until 20 settled || fail "audit summaries did not catch up before the burst"
start=events_before_burst
mark_events "$start"
d0=$(metric sessiond_audit_rows_dropped_total)
u0=$(metric 'sessiond_auth_failures_total{scheme="session",reason="unknown"}')
args=()
for i in $(seq 1 200); do
	[ "$i" -gt 1 ] && args+=(--next)
	args+=(-s -o /dev/null -w '%{http_code}\n' -H "Authorization: Session $(rand_token)" -H "X-Forwarded-For: 10.25.$((i / 200)).$((i % 200))" "$S")
done
t0=$(date +%s)
curl "${args[@]}" >"$VAR/burst.txt"
t1=$(date +%s)
[ "$(grep -c '^401$' "$VAR/burst.txt")" = 200 ] && pass "200 addresses, one unknown token each: 200x 401" || fail "burst: $(sort "$VAR/burst.txt" | uniq -c | tr '\n' ' ')"
wait_until 20 settled && pass "every dropped row is counted in a summary row once its second ended" || fail "summaries: metric $(metric sessiond_audit_rows_dropped_total), rows $(summarized)"
rows=$(rows_since "$start")
dropped=$(summarized "$start")
distinct=$(psql_q "SELECT coalesce(sum((detail->>'distinct_addresses')::bigint), 0) FROM session_events WHERE detail->>'reason' = 'audit_summary' AND id NOT IN (SELECT id FROM $start)")
summaries=$(psql_q "SELECT count(*) FROM session_events WHERE detail->>'reason' = 'audit_summary' AND id NOT IN (SELECT id FROM $start)")
secs=$((t1 - t0 + 1))
[ $((rows + dropped)) = 200 ] && pass "rows written ($rows) + rows dropped in summaries ($dropped) = the 200 first failures" ||
	fail "rows $rows + dropped $dropped != 200"
[ "$rows" -le $((5 * (secs + 1))) ] && [ "$dropped" -gt 0 ] &&
	pass "at most 5 rows a second were written ($rows in ${secs}s), the rest summarized" || fail "$rows rows in ${secs}s, dropped $dropped"
[ "$summaries" -ge 1 ] && [ "$summaries" -le $((secs + 2)) ] &&
	pass "one summary row per second with drops ($summaries)" || fail "$summaries summary rows in ${secs}s"
[ "$distinct" = "$dropped" ] && pass "the summaries' distinct_addresses add up to $distinct (one row each per address)" ||
	fail "distinct_addresses $distinct, dropped $dropped"
[ "$(psql_q "SELECT count(*) FROM session_events WHERE detail->>'reason' = 'audit_summary' AND id NOT IN (SELECT id FROM $start) AND ip_address IS NULL AND (detail->>'from')::timestamptz < (detail->>'to')::timestamptz")" = "$summaries" ] &&
	pass "summary rows carry no address and their [from, to) window" || fail "summary row shape"
u1=$(metric 'sessiond_auth_failures_total{scheme="session",reason="unknown"}')
d1=$(metric sessiond_audit_rows_dropped_total)
[ $((u1 - u0)) = 200 ] && [ $((d1 - d0)) = "$dropped" ] &&
	pass "metrics count every failure (+200) and every dropped row (+$dropped)" || fail "metrics: failures +$((u1 - u0)), dropped +$((d1 - d0))"
grep -q 'event=audit_rows_dropped dropped=' "$VAR/log/sessiond.log" && pass "the log says when audit rows were dropped" || fail "no audit_rows_dropped in the log"

# --- item 3: a full table never lifts an active block --------------------------------------------------------
X='X-Forwarded-For: 192.0.2.200'
r=$(bad "$X" 6)
[ "$r" = "401 401 401 401 401 429" ] && pass "192.0.2.200 is blocked after 5 failures" || fail "block: $r"
e0=$(metric sessiond_guard_evictions_total)
args=()
for i in $(seq 1 300); do
	[ "$i" -gt 1 ] && args+=(--next)
	args+=(-s -o /dev/null -w '%{http_code}\n' -H "Authorization: Session $(rand_token)" -H "X-Forwarded-For: 10.26.$((i / 200)).$((i % 200))" "$S")
done
curl "${args[@]}" >"$VAR/fill.txt"
e1=$(metric sessiond_guard_evictions_total)
[ $((e1 - e0)) -gt 0 ] && pass "300 more addresses in a 64-slot table evicted windows below the limit ($((e1 - e0)) evictions)" ||
	fail "no eviction counted"
[ "$(code "${G[@]}" -H "$X" "$S")" = 429 ] && pass "the blocked address is still 429 after 300 others failed once" ||
	fail "the block was lifted by eviction"
# Fill every slot with an active block, address after address, until one goes untracked.
n=0
while [ "$(metric sessiond_guard_untracked_total)" = 0 ] && [ "$n" -lt 200 ]; do
	n=$((n + 1))
	bad "X-Forwarded-For: 10.27.0.$n" $LIMIT >/dev/null
done
[ "$(metric sessiond_guard_untracked_total)" -gt 0 ] && pass "with the table full of blocks a new address went untracked (after $n blocked addresses)" ||
	fail "no untracked address after $n blocks"
# A new address whose probed slots all hold blocks (its first failure went untracked) stays untracked:
# blocks are never evicted within their window.
U=
for c in $(seq 1 200); do
	u0=$(metric sessiond_guard_untracked_total)
	bad "X-Forwarded-For: 198.18.1.$c" 1 >/dev/null
	[ "$(metric sessiond_guard_untracked_total)" -gt "$u0" ] && { U="X-Forwarded-For: 198.18.1.$c"; break; }
done
[ -n "$U" ] && pass "found a new address the full table cannot track (${U#*: })" || fail "no untracked address among 200"
u0=$(metric sessiond_guard_untracked_total)
r=$(bad "$U" 8)
u1=$(metric sessiond_guard_untracked_total)
[ "$r" = "401 401 401 401 401 401 401 401" ] && [ $((u1 - u0)) = 8 ] &&
	pass "its 8 more failures: 401 each, all counted untracked (+8), no shared counter blocks it" ||
	fail "untracked: $r (untracked +$((u1 - u0)))"
[ "$(code "${G[@]}" -H "$U" "$S")" = 200 ] && [ "$(code "${G[@]}" -H 'X-Forwarded-For: 198.18.2.1' "$S")" = 200 ] &&
	pass "it and another new client are served (200)" || fail "an untracked client was refused"
[ "$(code "${G[@]}" -H "$X" "$S")" = 429 ] && [ "$(code "${G[@]}" -H 'X-Forwarded-For: 10.27.0.1' "$S")" = 429 ] &&
	pass "the active blocks stay (429)" || fail "a block was lifted when the table was full"
