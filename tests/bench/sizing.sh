#!/usr/bin/env bash
# Storage per session, for the sizing arithmetic in docs/scaling.md: creates
# SIZING_API sessions through the API (each PATCHed with a small session_data,
# read once so it has a cache row, a quarter logged out), then copies them in
# SQL up to SIZING_N sessions and reports the bytes per session of every table
# with its indexes (pg_total_relation_size / rows) and the average row width
# (pg_column_size). Not part of make test.
#
#   tests/bench/sizing.sh            SIZING_N=20000 SIZING_API=200
. "$(dirname "$0")/../lib.sh"
N=${SIZING_N:-20000}
API=${SIZING_API:-200}
stack_up "auth_fail_limit = 0"
jwt=$(mint_jwt "$(std_claims "auth0|sizing")")
for i in $(seq 1 "$API"); do
	req POST /api/sessions/create/ -H "Authorization: Bearer $jwt" -H 'Content-Type: application/json' -d '{}' \
		-H 'User-Agent: Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36'
	t=$(jq_body .session_token)
	req PATCH /api/sessions/current/ -H "Authorization: Session $t" -H 'Content-Type: application/json' \
		-d '{"session_data":{"theme":"dark","locale":"en-GB","last_page":"/projects/42/settings","flags":["beta","new-nav"]}}' >/dev/null
	req GET /api/sessions/current/ -H "Authorization: Session $t" >/dev/null
	[ $((i % 4)) = 0 ] && req DELETE /api/sessions/current/ -H "Authorization: Session $t" >/dev/null
done
# Copies of the API-made rows (same widths), new ids and hashes, up to N live sessions.
psql_q "INSERT INTO sessions SELECT gen_random_uuid(), sha256(convert_to(gen_random_uuid()::text, 'UTF8')), s.user_id, s.user_email, s.user_name,
		s.user_picture, s.tenant_id, s.tenant_name, s.needs_onboarding, s.onboarding_completed, s.onboarding_step,
		s.subscription_plan, s.subscription_status, s.session_data, s.session_type, s.version, s.created_at,
		s.updated_at, s.last_activity, s.expires_at, NULL, NULL, s.ip_address, s.user_agent
	FROM (SELECT * FROM sessions WHERE revoked_at IS NULL LIMIT 1) s, generate_series(1, $N - (SELECT count(*) FROM sessions))" >/dev/null
psql_q "INSERT INTO session_cache SELECT s.token_hash, s.id, s.user_id, s.user_email, s.user_name, s.user_picture,
		s.tenant_id, s.tenant_name, s.needs_onboarding, s.onboarding_completed, s.onboarding_step, s.subscription_plan,
		s.subscription_status, s.session_data, s.session_type, s.version, s.created_at, s.updated_at, s.last_activity,
		s.expires_at, s.ip_address, s.user_agent, s.last_activity
	FROM sessions s WHERE s.revoked_at IS NULL ON CONFLICT DO NOTHING" >/dev/null
psql_q "VACUUM ANALYZE sessions; VACUUM ANALYZE session_cache; VACUUM ANALYZE session_events" >/dev/null 2>&1
echo "sessions: $(psql_q "SELECT count(*) FROM sessions") rows; API-made: $API (events from those only)"
psql_q "SELECT format('%-15s %7s rows  avg row %4s B  table+indexes %6s B/row  (%s total)', t,
		n, w, CASE WHEN n > 0 THEN sz / n END, pg_size_pretty(sz))
	FROM (SELECT 'sessions' t, (SELECT count(*) FROM sessions) n, (SELECT avg(pg_column_size(s.*))::int FROM sessions s) w,
	             pg_total_relation_size('sessions') sz
	      UNION ALL SELECT 'session_cache', (SELECT count(*) FROM session_cache), (SELECT avg(pg_column_size(c.*))::int FROM session_cache c),
	             pg_total_relation_size('session_cache')
	      UNION ALL SELECT 'session_events', (SELECT count(*) FROM session_events), (SELECT avg(pg_column_size(e.*))::int FROM session_events e),
	             pg_total_relation_size('session_events')) x"
echo "events per API-made session: $(psql_q "SELECT round(count(*)::numeric / $API, 2) FROM session_events")" \
	"($(psql_q "SELECT string_agg(event || ' ' || n, ', ') FROM (SELECT event, count(*) n FROM session_events GROUP BY 1 ORDER BY 1) x"))"
