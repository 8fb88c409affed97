/*
 * Session storage: the read path (cache first, read-through on a miss),
 * creation, updates, refresh/rotation and revocation. SQL lives in
 * app/statements.c and sql/; this module binds parameters and reads rows.
 */
#ifndef SESSIOND_SESSIONS_H
#define SESSIOND_SESSIONS_H

#include <stddef.h>
#include <stdint.h>

#include "auth_reason.h"
#include "statements.h"
#include "store.h"
#include "token.h"

/* Column positions of the session row every statement returns (SESSION_COLUMNS in statements.h). */
#define SC_ENUM(e, kind, p, c) e,
enum sess_col { SESSION_COLUMNS(SC_ENUM, SC_ENUM, ) SC_NCOLS };
#undef SC_ENUM

/* The lookup statements' columns after the session row. */
enum sess_lookup_col {
	SL_EXPIRED = SC_NCOLS,   /* past expires_at or idle */
	SL_TOUCH_DUE,            /* last_activity older than touch_interval */
	SL_REVOKED,              /* revoked (the authoritative row only) */
	SL_CACHE_HIT             /* the row came from the cache table, not from sessions */
};

/* One session row; owns its PGresult. */
struct session {
	PGresult *res;
	int row;
	int col0;        /* offset of SC_ID in the row (status columns may come first) */
	int expired;     /* read path: past expires_at or idle too long */
	int touch_due;   /* read path: last_activity older than touch_interval */
	int cache_hit;
	int revoked;     /* read path: the token belonged to a revoked (or logged-out) session */
};

/* The value of column c (NULL for SQL NULL). Valid until sess_release(). */
const char *sess_get(const struct session *s, enum sess_col c);

/* Frees the row. Safe on a zeroed struct. */
void sess_release(struct session *s);

/*
 * Looks a session up by token hash: the cache first, then the authoritative
 * table (filling the cache). STORE_NOT_FOUND when unknown. A revoked or
 * expired session is returned with s->revoked or s->expired set.
 */
enum store_err sess_lookup(struct store *st, const unsigned char *hash, long idle_timeout,
			   long touch_interval, struct session *out);

/*
 * Records activity in the cache table only (no WAL); text (SQL_TS_LEN + 1 bytes) and *epoch get
 * the new value. STORE_NOT_FOUND when the cache row is gone.
 */
enum store_err sess_touch(struct store *st, const unsigned char *hash, char text[SQL_TS_LEN + 1], long long *epoch);

/*
 * Every write below also drops what this host's shared-memory cache holds of
 * the sessions it changed, before returning (other hosts learn of it through
 * the invalidation log): the one layer that invalidates.
 */

/* Marks the cached session expired: drops its cache rows (table and this host's) and logs an 'expired' event. */
enum store_err sess_expire(struct store *st, const unsigned char *hash, const char *ip);

/* Drops this host's cached copy of the session with token hash (e.g. found expired in the table). */
void sess_forget_local(const unsigned char *hash);

struct sess_new {
	const unsigned char *hash;
	const char *user_id, *email, *name, *picture, *tenant_id, *tenant_name;
	int needs_onboarding, onboarding_completed;
	const char *onboarding_step;   /* NULL = none */
	const char *plan, *status;     /* NULL = the user's recorded billing or the defaults */
	const char *session_data;      /* JSON object text */
	const char *session_type;
	long ttl;
	const char *ip, *user_agent;
	long max_per_user;             /* 0 = unlimited */
	long max_data;                 /* session_data's limit, measured by sessiond_data_size() (sql/013) */
	const char *idp_sid;           /* the identity provider's session id (back-channel logout), NULL = none */
};

/* Creates a session (and its cache row and 'created' event); STORE_TOO_LARGE over max_data. */
enum store_err sess_create(struct store *st, const struct sess_new *n, struct session *out);

struct sess_patch {
	const unsigned char *hash;     /* the caller's token hash: the write authenticates it */
	long idle_timeout;             /* as a read judges idleness (0 = none) */
	const char *version;           /* If-Match, NULL = unconditional */
	int needs_onboarding;          /* -1 = unchanged */
	int onboarding_completed;      /* -1 = unchanged */
	int step_set;
	const char *step;
	const char *data_patch;        /* JSON merge patch text, NULL = unchanged */
	const char *plan, *status;     /* NULL = unchanged */
	const char *owned_plan, *owned_status; /* server-owned values the client sent: must equal the stored ones */
	long max_data;
	const char *ip;
};

/*
 * The token-keyed writes (sql/013) find the session by its token hash under
 * the liveness conditions of a read, in the write's own statement; no read
 * comes first. STORE_NOT_FOUND: no live session holds the token (the caller's
 * read of the token tells why); out is then empty.
 */

/*
 * Applies a PATCH. STORE_CONFLICT on a stale version (out holds the current
 * row), STORE_FORBIDDEN when an owned_* value differs from the stored one,
 * STORE_TOO_LARGE when session_data would exceed max_data.
 */
enum store_err sess_patch(struct store *st, const struct sess_patch *p, struct session *out);

/* Extends (and with new_hash rotates) the session whose token hash is hash. */
enum store_err sess_refresh(struct store *st, const unsigned char *hash, long idle_timeout, long hours,
			    long max_lifetime, const unsigned char *new_hash, const char *ip, struct session *out);

/* Revokes the session whose token hash is hash (logout); out gets its row. */
enum store_err sess_logout(struct store *st, const unsigned char *hash, long idle_timeout, const char *ip,
			   struct session *out);

/*
 * Revokes the user's session id, or with id NULL all of them except keep (may
 * be NULL); *count gets how many. hash, when the caller knows it (logout), is
 * the revoked session's token hash: the cheapest way to find its cache entry.
 */
enum store_err sess_revoke(struct store *st, const char *user_id, const char *id, const unsigned char *hash,
			   const char *keep, const char *reason, const char *ip, long *count);

/*
 * A token no session holds, rotated away more than grace seconds ago, was
 * presented again (sql/015): its session, still live, is revoked with a
 * token_reuse event from ip. *revoked is 1 when it was, 0 when nothing was
 * done (within the grace, not a rotated token, the session already ended).
 */
enum store_err sess_token_reuse(struct store *st, const unsigned char *hash, long grace, const char *ip, int *revoked);

/*
 * Acts on a verified back-channel logout token (sql/015): records jti (kept
 * until exp, unix seconds) and revokes by sid and/or sub (either may be NULL,
 * not both) with reason backchannel. STORE_CONFLICT when jti was seen before
 * (nothing done); *count gets how many sessions were revoked.
 */
enum store_err sess_backchannel(struct store *st, const char *jti, long long exp, const char *sid, const char *sub,
				const char *ip, long *count);

/* The user's live sessions (one row each in out->res, out->row = 0). */
enum store_err sess_list(struct store *st, const char *user_id, long idle_timeout, struct session *out);

/* Sets server-owned billing for the user and all their live sessions; *count gets how many. */
enum store_err sess_set_billing(struct store *st, const char *user_id, const char *plan, const char *status,
				const char *ip, long *count);

/*
 * Why a token no session holds went (migration 005's gone_tokens: its session
 * was deleted by cleanup, or the token rotated): STORE_OK with *reason set
 * to AR_REVOKED, AR_EXPIRED or AR_ROTATED, or STORE_NOT_FOUND for a token
 * that never was one.
 */
enum store_err sess_gone(struct store *st, const unsigned char *hash, enum auth_reason *reason);

/* Records a failed authentication (never the token); window_failures: the address's failures in its window so far. */
void sess_auth_failed(struct store *st, const char *ip, enum auth_reason reason, const char *route,
		      long window_failures);

/* Writes the auth_failed summary row: dropped rows over [from, to) (unix seconds) from distinct addresses. */
void sess_auth_failed_summary(struct store *st, long dropped, long distinct, int64_t from, int64_t to);

/*
 * Deletes the invalidation log rows (sql/007) that every listener has read:
 * at most once per LC_LOG_KEEP_MS per worker, from the periodic tick.
 * Every worker does it, so the log stays bounded also where no host runs a
 * listener (per-host cache off, mod_fcgid).
 */
void sess_collect_invalidations(struct store *st, int64_t now_ms);

/* Copies cached last_activity values into the authoritative table (one worker at a time). */
enum store_err sess_flush_activity(struct store *st, long *flushed);

/* Samples the store gauges for /metrics/ into out[n], in the metrics_sample statement's column order. */
enum store_err sess_sample_gauges(struct store *st, uint64_t *out, size_t n);

#endif
