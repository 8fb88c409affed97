/* The SQL of every prepared statement, by name. */
#ifndef SESSIOND_STATEMENTS_H
#define SESSIOND_STATEMENTS_H

#include <stddef.h>

/* Timestamps in responses: RFC 3339 UTC, second precision ("2026-01-02T03:04:05Z"). */
#define SQL_TS_FORMAT "'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'"
#define SQL_TS_LEN 20   /* strlen of one such timestamp */

/*
 * The session row every session statement returns, in order: one table for
 * the SELECT lists (statements.c) and the column enum (sessions.h), so the
 * two cannot drift. F for the first column, X for the others, each called as
 * (enum name, kind, p, SQL column) where p is the caller's row prefix and kind
 * is PLAIN (as is), TS (formatted with SQL_TS_FORMAT), EPOCH (unix seconds)
 * or HOST (inet as text).
 */
#define SESSION_COLUMNS(F, X, p) \
	F(SC_ID, PLAIN, p, "id::text") \
	X(SC_USER_ID, PLAIN, p, "user_id") \
	X(SC_EMAIL, PLAIN, p, "user_email") \
	X(SC_NAME, PLAIN, p, "user_name") \
	X(SC_PICTURE, PLAIN, p, "user_picture") \
	X(SC_TENANT_ID, PLAIN, p, "tenant_id") \
	X(SC_TENANT_NAME, PLAIN, p, "tenant_name") \
	X(SC_NEEDS_ONBOARDING, PLAIN, p, "needs_onboarding") \
	X(SC_ONBOARDING_COMPLETED, PLAIN, p, "onboarding_completed") \
	X(SC_ONBOARDING_STEP, PLAIN, p, "onboarding_step") \
	X(SC_PLAN, PLAIN, p, "subscription_plan") \
	X(SC_STATUS, PLAIN, p, "subscription_status") \
	X(SC_DATA, PLAIN, p, "session_data::text") \
	X(SC_TYPE, PLAIN, p, "session_type") \
	X(SC_VERSION, PLAIN, p, "version") \
	X(SC_CREATED_AT, TS, p, "created_at") \
	X(SC_UPDATED_AT, TS, p, "updated_at") \
	X(SC_LAST_ACTIVITY, TS, p, "last_activity") \
	X(SC_EXPIRES_AT, TS, p, "expires_at") \
	X(SC_EXPIRES_EPOCH, EPOCH, p, "expires_at") \
	X(SC_IP, HOST, p, "ip_address") \
	X(SC_USER_AGENT, PLAIN, p, "user_agent") \
	X(SC_CREATED_EPOCH, EPOCH, p, "created_at") \
	X(SC_ACTIVITY_EPOCH, EPOCH, p, "last_activity")

struct statement {
	const char *name;
	const char *sql;
	/*
	 * 1 when running it twice has the effect of running it once (reads,
	 * cache fills, touches): the store may then resend it after the
	 * connection broke mid-flight. 0 (the default) for writes, which are
	 * resent only when they provably never reached the server.
	 */
	int retry_safe;
};

extern const struct statement statements[];
extern const size_t statement_count;

#endif
