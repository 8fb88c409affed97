/*
 * Operator queries for sessionctl: list, show, revoke, stats. Each runs one
 * parameterized statement on a plain connection (store_connect_raw) and hands
 * back a json-c object built by PostgreSQL, so the JSON output and the text
 * renderer read the same fields. Never selects a token hash.
 */
#ifndef SESSIOND_ADMIN_H
#define SESSIOND_ADMIN_H

#include <json-c/json.h>
#include <libpq-fe.h>
#include <stddef.h>

enum admin_err {
	ADMIN_OK = 0,
	ADMIN_NOT_FOUND,      /* no such session id or user */
	ADMIN_STORE           /* SQL or connection failure; message in err */
};

/* sessions listed by admin_list; NULL strings are not filtered on. */
struct admin_filter {
	const char *user_id;
	const char *email;       /* compared case-insensitively */
	const char *tenant_id;
	int all;                 /* also revoked and expired sessions */
	long limit;              /* at most this many (newest activity first) */
	long idle_timeout;       /* the configured idle_timeout, for the state */
};

#define ADMIN_EVENTS_SHOWN 20   /* recent events in admin_show */
#define ADMIN_BY_MAX 64         /* longest operator name recorded */

/* 1 when s is a UUID in its canonical 8-4-4-4-12 hex form, else 0. */
int admin_is_uuid(const char *s);

/*
 * {"count": n, "truncated": bool, "sessions": [{id, user_id, user_email,
 * tenant_id, state, created_at, last_activity, expires_at, revoked_at,
 * revoked_reason, ip_address, user_agent, session_type}...]}.
 * *out is the caller's (json_object_put).
 */
enum admin_err admin_list(PGconn *conn, const struct admin_filter *f, json_object **out,
			  char *err, size_t errlen);

/*
 * One session (id must pass admin_is_uuid): the listed fields plus the user,
 * tenant, onboarding and billing fields, session_data, version, and "events",
 * its ADMIN_EVENTS_SHOWN most recent events. ADMIN_NOT_FOUND when unknown.
 */
enum admin_err admin_show(PGconn *conn, const char *id, long idle_timeout, json_object **out,
			  char *err, size_t errlen);

/* 1 when any session (any state) or billing record names user_id, 0 when none, -1 on error. */
int admin_user_known(PGconn *conn, const char *user_id, char *err, size_t errlen);

/*
 * Revokes the n ids (each passing admin_is_uuid), or every live session of
 * user_id when ids is NULL, with reason "admin" and the operator's name by
 * (sessiond_admin_revoke). {"revoked": n, "results": [{id, user_id, outcome}]}
 * where outcome is revoked, already_revoked or not_found.
 */
enum admin_err admin_revoke(PGconn *conn, const char *const *ids, size_t n, const char *user_id,
			    const char *by, json_object **out, char *err, size_t errlen);

/*
 * {"sessions": {total, live, expired, revoked}, "created": {last_hour,
 * last_day}, "auth_failed": {last_hour, last_day}, "oldest_live": {id,
 * created_at, age_seconds} or null, "tables": {sessions, session_cache,
 * session_events: {rows, bytes}}}.
 */
enum admin_err admin_stats(PGconn *conn, long idle_timeout, json_object **out, char *err, size_t errlen);

#endif
