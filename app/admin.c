/* sessionctl's queries: PostgreSQL builds the JSON, json-c parses it once. */
#include "admin.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* RFC 3339 UTC, second precision; NULL stays NULL (JSON null). */
#define TS(col) "to_char(" col " AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')"

/*
 * Every session with its state as sessiond would judge it: revoked, expired
 * (past expires_at, or idle past idle_timeout = $1 by the freshest activity,
 * which the cache table may hold), else live. Each query appends its WHERE.
 */
#define BASE_SELECT \
	"SELECT s.id, s.user_id, s.user_email, s.user_name, s.user_picture, s.tenant_id, s.tenant_name, " \
	"       s.needs_onboarding, s.onboarding_completed, s.onboarding_step, s.subscription_plan, " \
	"       s.subscription_status, s.session_data, s.session_type, s.version, s.created_at, " \
	"       s.updated_at, s.expires_at, s.revoked_at, s.revoked_reason, s.ip_address, s.user_agent, " \
	"       greatest(s.last_activity, c.la) AS act, " \
	"       CASE WHEN s.revoked_at IS NOT NULL THEN 'revoked' " \
	"            WHEN s.expires_at <= now() OR ($1::int > 0 AND greatest(s.last_activity, c.la) " \
	"                 <= now() - make_interval(secs => $1::int)) THEN 'expired' " \
	"            ELSE 'live' END AS state " \
	"FROM sessions s LEFT JOIN LATERAL (SELECT max(last_activity) AS la FROM session_cache " \
	"                                   WHERE id = s.id) c ON true "

/* The fields of a listed session, as json_build_object pairs of row b. */
#define ITEM_PAIRS \
	"'id', b.id, 'user_id', b.user_id, 'user_email', b.user_email, 'tenant_id', b.tenant_id, " \
	"'state', b.state, 'created_at', " TS("b.created_at") ", 'last_activity', " TS("b.act") ", " \
	"'expires_at', " TS("b.expires_at") ", 'revoked_at', " TS("b.revoked_at") ", " \
	"'revoked_reason', b.revoked_reason, 'ip_address', host(b.ip_address), " \
	"'user_agent', b.user_agent, 'session_type', b.session_type"

/* $1 idle_timeout, $2 user, $3 email, $4 tenant, $5 all, $6 limit. */
static const char SQL_LIST[] =
	"WITH base AS (" BASE_SELECT
	"    WHERE ($2::text IS NULL OR s.user_id = $2) "
	"      AND ($3::text IS NULL OR lower(s.user_email) = lower($3)) "
	"      AND ($4::text IS NULL OR s.tenant_id = $4)), "
	"sel AS (SELECT *, row_number() OVER (ORDER BY act DESC, id) AS rn FROM base "
	"        WHERE $5::bool OR state = 'live' ORDER BY act DESC, id LIMIT $6::int + 1) "
	"SELECT json_build_object('count', count(*) FILTER (WHERE b.rn <= $6::int), "
	"       'truncated', count(*) > $6::int, "
	"       'sessions', coalesce(json_agg(json_build_object(" ITEM_PAIRS ") ORDER BY b.rn) "
	"                            FILTER (WHERE b.rn <= $6::int), '[]'::json)) "
	"FROM sel b";

/* $1 idle_timeout, $2 id. */
static const char SQL_SHOW[] =
	"WITH base AS (" BASE_SELECT " WHERE s.id = $2::uuid) "
	"SELECT json_build_object(" ITEM_PAIRS ", "
	"       'user_name', b.user_name, 'user_picture', b.user_picture, 'tenant_name', b.tenant_name, "
	"       'needs_onboarding', b.needs_onboarding, 'onboarding_completed', b.onboarding_completed, "
	"       'onboarding_step', b.onboarding_step, 'subscription_plan', b.subscription_plan, "
	"       'subscription_status', b.subscription_status, 'session_data', b.session_data, "
	"       'version', b.version, 'updated_at', " TS("b.updated_at") ", "
	"       'events', coalesce((SELECT json_agg(json_build_object('occurred_at', " TS("e.occurred_at") ", "
	"                 'event', e.event, 'user_id', e.user_id, 'ip_address', host(e.ip_address), "
	"                 'detail', e.detail) ORDER BY e.occurred_at DESC, e.id DESC) "
	"                 FROM (SELECT * FROM session_events WHERE session_id = b.id "
	"                       ORDER BY occurred_at DESC, id DESC LIMIT $3::int) e), '[]'::json)) "
	"FROM base b";

static const char SQL_USER_KNOWN[] =
	"SELECT EXISTS (SELECT 1 FROM sessions WHERE user_id = $1) "
	"    OR EXISTS (SELECT 1 FROM user_billing WHERE user_id = $1)";

/* $1 ids (text array or NULL), $2 user, $3 operator. */
static const char SQL_REVOKE[] =
	"SELECT json_build_object('revoked', count(*) FILTER (WHERE r.o_outcome = 'revoked'), "
	"       'results', coalesce(json_agg(json_build_object('id', r.o_id, 'user_id', r.o_user, "
	"                                    'outcome', r.o_outcome) ORDER BY r.n), '[]'::json)) "
	"FROM sessiond_admin_revoke($1::uuid[], $2::text, $3::text) WITH ORDINALITY "
	"     AS r(o_id, o_user, o_outcome, n)";

/* $1 idle_timeout. */
static const char SQL_STATS[] =
	"WITH base AS (" BASE_SELECT "), "
	"st AS (SELECT count(*) AS total, count(*) FILTER (WHERE state = 'live') AS live, "
	"              count(*) FILTER (WHERE state = 'expired') AS expired, "
	"              count(*) FILTER (WHERE state = 'revoked') AS revoked FROM base), "
	"ol AS (SELECT id, created_at FROM base WHERE state = 'live' ORDER BY created_at, id LIMIT 1), "
	"ev AS (SELECT count(*) FILTER (WHERE event = 'created' AND occurred_at > now() - interval '1 hour') AS ch, "
	"              count(*) FILTER (WHERE event = 'created') AS cd, "
	"              count(*) FILTER (WHERE event = 'auth_failed' AND occurred_at > now() - interval '1 hour') AS fh, "
	"              count(*) FILTER (WHERE event = 'auth_failed') AS fd "
	"       FROM session_events WHERE occurred_at > now() - interval '1 day') "
	"SELECT json_build_object("
	"  'sessions', json_build_object('total', st.total, 'live', st.live, 'expired', st.expired, "
	"                                'revoked', st.revoked), "
	"  'created', json_build_object('last_hour', ev.ch, 'last_day', ev.cd), "
	"  'auth_failed', json_build_object('last_hour', ev.fh, 'last_day', ev.fd), "
	"  'oldest_live', (SELECT json_build_object('id', ol.id, 'created_at', " TS("ol.created_at") ", "
	"                  'age_seconds', extract(epoch FROM now() - ol.created_at)::int8) FROM ol), "
	"  'tables', json_build_object("
	"     'sessions', json_build_object('rows', st.total, 'bytes', pg_total_relation_size('sessions')), "
	"     'session_cache', json_build_object('rows', (SELECT count(*) FROM session_cache), "
	"                                        'bytes', pg_total_relation_size('session_cache')), "
	"     'session_events', json_build_object('rows', (SELECT count(*) FROM session_events), "
	"                                         'bytes', pg_total_relation_size('session_events')))) "
	"FROM st, ev";

int admin_is_uuid(const char *s)
{
	size_t i;

	if (strlen(s) != 36)
		return 0;
	for (i = 0; i < 36; i++) {
		if (i == 8 || i == 13 || i == 18 || i == 23) {
			if (s[i] != '-')
				return 0;
		} else if (!isxdigit((unsigned char)s[i])) {
			return 0;
		}
	}
	return 1;
}

/*
 * Runs sql and parses the single JSON value of its first row into *out.
 * ADMIN_NOT_FOUND when it returns no row.
 */
static enum admin_err run_json(PGconn *conn, const char *sql, int n, const char *const *params,
			       json_object **out, char *err, size_t errlen)
{
	enum admin_err rc = ADMIN_STORE;
	PGresult *res;

	*out = NULL;
	res = PQexecParams(conn, sql, n, NULL, params, NULL, NULL, 0);
	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		const char *msg = PQresultErrorMessage(res);

		snprintf(err, errlen, "query failed: %.*s", (int)strcspn(msg, "\n"), msg);
		goto out;
	}
	if (PQntuples(res) == 0) {
		rc = ADMIN_NOT_FOUND;
		goto out;
	}
	*out = json_tokener_parse(PQgetvalue(res, 0, 0));
	if (*out == NULL) {
		snprintf(err, errlen, "the store returned JSON that does not parse");
		goto out;
	}
	rc = ADMIN_OK;
out:
	PQclear(res);
	return rc;
}

enum admin_err admin_list(PGconn *conn, const struct admin_filter *f, json_object **out,
			  char *err, size_t errlen)
{
	char idle[24], limit[24];
	const char *p[6];

	snprintf(idle, sizeof(idle), "%ld", f->idle_timeout);
	snprintf(limit, sizeof(limit), "%ld", f->limit);
	p[0] = idle;
	p[1] = f->user_id;
	p[2] = f->email;
	p[3] = f->tenant_id;
	p[4] = f->all ? "true" : "false";
	p[5] = limit;
	return run_json(conn, SQL_LIST, 6, p, out, err, errlen);
}

enum admin_err admin_show(PGconn *conn, const char *id, long idle_timeout, json_object **out,
			  char *err, size_t errlen)
{
	char idle[24], events[24];
	const char *p[3];

	snprintf(idle, sizeof(idle), "%ld", idle_timeout);
	snprintf(events, sizeof(events), "%d", ADMIN_EVENTS_SHOWN);
	p[0] = idle;
	p[1] = id;
	p[2] = events;
	return run_json(conn, SQL_SHOW, 3, p, out, err, errlen);
}

int admin_user_known(PGconn *conn, const char *user_id, char *err, size_t errlen)
{
	const char *p[1] = { user_id };
	PGresult *res;
	int known = -1;

	res = PQexecParams(conn, SQL_USER_KNOWN, 1, NULL, p, NULL, NULL, 0);
	if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1) {
		const char *msg = PQresultErrorMessage(res);

		snprintf(err, errlen, "query failed: %.*s", (int)strcspn(msg, "\n"), msg);
		goto out;
	}
	known = strcmp(PQgetvalue(res, 0, 0), "t") == 0;
out:
	PQclear(res);
	return known;
}

enum admin_err admin_revoke(PGconn *conn, const char *const *ids, size_t n, const char *user_id,
			    const char *by, json_object **out, char *err, size_t errlen)
{
	enum admin_err rc;
	char *arr = NULL;
	const char *p[3];
	size_t i, len = 0;

	/* A PostgreSQL array literal of the ids: each passed admin_is_uuid, so no quoting is needed. */
	if (ids != NULL) {
		arr = malloc(n * 37 + 3);
		if (arr == NULL) {
			snprintf(err, errlen, "out of memory");
			return ADMIN_STORE;
		}
		arr[len++] = '{';
		for (i = 0; i < n; i++) {
			if (i > 0)
				arr[len++] = ',';
			memcpy(arr + len, ids[i], 36);
			len += 36;
		}
		arr[len++] = '}';
		arr[len] = '\0';
	}
	p[0] = arr;
	p[1] = user_id;
	p[2] = by;
	rc = run_json(conn, SQL_REVOKE, 3, p, out, err, errlen);
	free(arr);
	return rc;
}

enum admin_err admin_stats(PGconn *conn, long idle_timeout, json_object **out, char *err, size_t errlen)
{
	char idle[24];
	const char *p[1] = { idle };

	snprintf(idle, sizeof(idle), "%ld", idle_timeout);
	return run_json(conn, SQL_STATS, 1, p, out, err, errlen);
}
