/* Session storage: binds parameters for the statements in statements.c and reads their rows. */
#include "sessions.h"

#include "lcache.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <uuid/uuid.h>

#include "metrics.h"

const char *sess_get(const struct session *s, enum sess_col c)
{
	int col = s->col0 + (int)c;

	if (s->res == NULL || PQgetisnull(s->res, s->row, col))
		return NULL;
	return PQgetvalue(s->res, s->row, col);
}

void sess_release(struct session *s)
{
	if (s->res)
		PQclear(s->res);
	memset(s, 0, sizeof(*s));
}

/*
 * After a write committed a change to a session row: other hosts' listeners
 * read session_invalidations now rather than at their next poll. Best effort:
 * a ring lost is a change seen one poll interval later. The frequent writes
 * (PATCH, refresh) send theirs in the write's round trip (store_exec_then).
 */
static void ring(struct store *st)
{
	enum store_err err;

	PQclear(store_exec(st, "cache_ring", 0, NULL, NULL, NULL, &err));
}

static int is_true(const char *v)
{
	return v && v[0] == 't';
}

enum store_err sess_lookup(struct store *st, const unsigned char *hash, long idle_timeout,
			   long touch_interval, struct session *out)
{
	char idle[STORE_NUM_LEN], touch[STORE_NUM_LEN];
	const char *params[3] = { (const char *)hash, store_num(idle, idle_timeout), store_num(touch, touch_interval) };
	int lengths[3] = { TOKEN_HASH_LEN, 0, 0 };
	int formats[3] = { 1, 0, 0 };
	enum store_err err;
	PGresult *res;

	memset(out, 0, sizeof(*out));
	/* One round trip: the cache table's row, or the authoritative one (cached when live). */
	res = store_exec(st, "sess_read", 3, params, lengths, formats, &err);
	if (res == NULL)
		return err;
	if (PQntuples(res) != 1) {
		PQclear(res);
		metrics_add(MC_CACHE_MISSES, 1);
		return STORE_NOT_FOUND;
	}
	out->cache_hit = is_true(PQgetvalue(res, 0, SL_CACHE_HIT));
	metrics_add(out->cache_hit ? MC_CACHE_HITS : MC_CACHE_MISSES, 1);
	out->revoked = is_true(PQgetvalue(res, 0, SL_REVOKED));
	out->res = res;
	out->expired = is_true(PQgetvalue(res, 0, SL_EXPIRED));
	out->touch_due = is_true(PQgetvalue(res, 0, SL_TOUCH_DUE));
	return STORE_OK;
}

enum store_err sess_gone(struct store *st, const unsigned char *hash, enum auth_reason *reason)
{
	const char *params[1] = { (const char *)hash };
	int lengths[1] = { TOKEN_HASH_LEN }, formats[1] = { 1 };
	enum store_err err;
	PGresult *res = store_exec(st, "sess_gone", 1, params, lengths, formats, &err);

	if (res == NULL)
		return err;
	err = PQntuples(res) == 1 ? STORE_OK : STORE_NOT_FOUND;
	if (err == STORE_OK)
		*reason = auth_reason_parse(PQgetvalue(res, 0, 0), AR_REVOKED);
	PQclear(res);
	return err;
}

enum store_err sess_touch(struct store *st, const unsigned char *hash, char text[SQL_TS_LEN + 1], long long *epoch)
{
	const char *params[1] = { (const char *)hash };
	int lengths[1] = { TOKEN_HASH_LEN }, formats[1] = { 1 };
	enum store_err err;
	PGresult *res = store_exec(st, "sess_touch", 1, params, lengths, formats, &err);

	if (res == NULL)
		return err;
	if (PQntuples(res) != 1) {
		PQclear(res);
		return STORE_NOT_FOUND;
	}
	snprintf(text, SQL_TS_LEN + 1, "%s", PQgetvalue(res, 0, 0));
	*epoch = strtoll(PQgetvalue(res, 0, 1), NULL, 10);
	PQclear(res);
	return STORE_OK;
}

enum store_err sess_expire(struct store *st, const unsigned char *hash, const char *ip)
{
	const char *params[2] = { (const char *)hash, ip };
	int lengths[2] = { TOKEN_HASH_LEN, 0 }, formats[2] = { 1, 0 };
	enum store_err err;
	PGresult *res = store_exec(st, "sess_expire", 2, params, lengths, formats, &err);

	/* Counted by the rows this call expired: two racing requests count the session once. */
	metrics_add(MC_SESSIONS_EXPIRED, res ? strtoull(PQcmdTuples(res), NULL, 10) : 0);
	PQclear(res);
	lcache_invalidate_hash(hash);
	return err;
}

void sess_forget_local(const unsigned char *hash)
{
	lcache_invalidate_hash(hash);
}

enum store_err sess_create(struct store *st, const struct sess_new *n, struct session *out)
{
	char id[37], ttl[STORE_NUM_LEN], maxn[STORE_NUM_LEN], maxd[STORE_NUM_LEN];
	const char *params[20];
	int lengths[20] = { 0 }, formats[20] = { 0 };
	enum store_err err;
	PGresult *res;
	uuid_t u;

	memset(out, 0, sizeof(*out));
	uuid_generate_random(u);
	uuid_unparse_lower(u, id);
	params[0] = id;
	params[1] = (const char *)n->hash;
	lengths[1] = TOKEN_HASH_LEN;
	formats[1] = 1;
	params[2] = n->user_id;
	params[3] = n->email;
	params[4] = n->name;
	params[5] = n->picture;
	params[6] = n->tenant_id;
	params[7] = n->tenant_name;
	params[8] = n->needs_onboarding ? "true" : "false";
	params[9] = n->onboarding_completed ? "true" : "false";
	params[10] = n->onboarding_step;
	params[11] = n->plan;
	params[12] = n->status;
	params[13] = n->session_data ? n->session_data : "{}";
	params[14] = n->session_type ? n->session_type : "web";
	params[15] = store_num(ttl, n->ttl);
	params[16] = n->ip;
	params[17] = n->user_agent;
	params[18] = store_num(maxd, n->max_data);
	params[19] = n->idp_sid;
	res = store_exec(st, "sess_create", 20, params, lengths, formats, &err);
	if (res == NULL)
		return err;
	if (PQntuples(res) != 1) {
		PQclear(res);
		return STORE_ERROR;
	}
	out->res = res;
	if (n->max_per_user > 0) {
		const char *ep[3] = { n->user_id, store_num(maxn, n->max_per_user), n->ip };
		PGresult *ev;
		long evicted;

		/* The new session is the most recent, so it is never the one evicted. */
		ev = store_exec(st, "sess_evict", 3, ep, NULL, NULL, &err);
		evicted = ev && PQntuples(ev) == 1 ? strtol(PQgetvalue(ev, 0, 0), NULL, 10) : 0;
		metrics_revoked(MR_SESSION_LIMIT, evicted);
		PQclear(ev);
		/*
		 * Only an eviction changes what a cached session says: invalidating
		 * on every create would discard every worker's concurrent fills.
		 */
		if (evicted > 0) {
			lcache_invalidate_user(n->user_id);   /* after the commit: see lcache.h */
			ring(st);
		}
		if (err != STORE_OK)
			return STORE_OK; /* created; eviction retried on the next create */
	}
	return STORE_OK;
}

/* Reads a function result "status, <session row>" into out; the status becomes the result. */
static enum store_err take_status_row(PGresult *res, struct session *out)
{
	const char *status;

	if (PQntuples(res) != 1) {
		PQclear(res);
		return STORE_ERROR;
	}
	status = PQgetvalue(res, 0, 0);
	out->res = res;
	out->col0 = 1;
	if (strcmp(status, "ok") == 0)
		return STORE_OK;
	if (strcmp(status, "conflict") == 0)
		return STORE_CONFLICT;
	if (strcmp(status, "unauthenticated") == 0)
		return STORE_NOT_FOUND;
	if (strcmp(status, "server_owned") == 0)
		return STORE_FORBIDDEN;
	if (strcmp(status, "busy") == 0)
		return STORE_UNAVAILABLE;
	if (strcmp(status, "too_large") == 0)
		return STORE_TOO_LARGE;
	return STORE_ERROR;
}

/* A token-keyed write: the write and the ring in one round trip; its status row into out. */
static enum store_err write_by_token(struct store *st, const char *name, int n, const char *const *params,
				     const int *lengths, const int *formats, const unsigned char *hash,
				     struct session *out)
{
	enum store_err err;
	PGresult *res;

	memset(out, 0, sizeof(*out));
	/* The ring rides in the write's round trip, as a transaction after its commit. */
	res = store_exec_then(st, name, n, params, lengths, formats, "cache_ring", &err);
	if (res == NULL)
		return err;
	err = take_status_row(res, out);
	if (err == STORE_NOT_FOUND)
		sess_release(out);
	if (err == STORE_OK)
		lcache_invalidate_hash(hash);
	return err;
}

enum store_err sess_patch(struct store *st, const struct sess_patch *p, struct session *out)
{
	char idle[STORE_NUM_LEN], maxd[STORE_NUM_LEN];
	const char *params[14];
	int lengths[14] = { TOKEN_HASH_LEN }, formats[14] = { 1 };

	params[0] = (const char *)p->hash;
	params[1] = store_num(idle, p->idle_timeout);
	params[2] = p->version;
	params[3] = p->needs_onboarding < 0 ? NULL : (p->needs_onboarding ? "true" : "false");
	params[4] = p->onboarding_completed < 0 ? NULL : (p->onboarding_completed ? "true" : "false");
	params[5] = p->step_set ? "true" : "false";
	params[6] = p->step;
	params[7] = p->data_patch;
	params[8] = p->plan;
	params[9] = p->status;
	params[10] = p->owned_plan;
	params[11] = p->owned_status;
	params[12] = store_num(maxd, p->max_data);
	params[13] = p->ip;
	return write_by_token(st, "sess_patch", 14, params, lengths, formats, p->hash, out);
}

enum store_err sess_refresh(struct store *st, const unsigned char *hash, long idle_timeout, long hours,
			    long max_lifetime, const unsigned char *new_hash, const char *ip, struct session *out)
{
	char idle[STORE_NUM_LEN], h[STORE_NUM_LEN], ml[STORE_NUM_LEN];
	const char *params[6] = { (const char *)hash, store_num(idle, idle_timeout), store_num(h, hours),
				  store_num(ml, max_lifetime), (const char *)new_hash, ip };
	int lengths[6] = { TOKEN_HASH_LEN, 0, 0, 0, new_hash ? TOKEN_HASH_LEN : 0, 0 };
	int formats[6] = { 1, 0, 0, 0, 1, 0 };

	return write_by_token(st, "sess_refresh", 6, params, lengths, formats, hash, out);
}

enum store_err sess_logout(struct store *st, const unsigned char *hash, long idle_timeout, const char *ip,
			   struct session *out)
{
	char idle[STORE_NUM_LEN];
	const char *params[3] = { (const char *)hash, store_num(idle, idle_timeout), ip };
	int lengths[3] = { TOKEN_HASH_LEN, 0, 0 }, formats[3] = { 1, 0, 0 };

	return write_by_token(st, "sess_logout", 3, params, lengths, formats, hash, out);
}

/* Runs a write function that returns how many sessions it changed; *count gets it (0 on failure). */
static enum store_err exec_count(struct store *st, const char *name, int n, const char *const *params, long *count)
{
	enum store_err err;
	PGresult *res = store_exec(st, name, n, params, NULL, NULL, &err);

	*count = 0;
	if (res == NULL)
		return err;
	if (PQntuples(res) == 1)
		*count = strtol(PQgetvalue(res, 0, 0), NULL, 10);
	PQclear(res);
	return STORE_OK;
}

enum store_err sess_revoke(struct store *st, const char *user_id, const char *id, const unsigned char *hash,
			   const char *keep, const char *reason, const char *ip, long *count)
{
	const char *params[5] = { user_id, id, keep, reason, ip };
	enum store_err err = exec_count(st, "sess_revoke", 5, params, count);

	if (err != STORE_OK)
		return err;
	if (*count > 0) {
		if (hash)
			lcache_invalidate_hash(hash);
		else if (id)
			lcache_invalidate_session(id);
		else
			lcache_invalidate_user(user_id);
		ring(st);
	}
	return STORE_OK;
}

enum store_err sess_token_reuse(struct store *st, const unsigned char *hash, long grace, const char *ip, int *revoked)
{
	char g[STORE_NUM_LEN];
	const char *params[3] = { (const char *)hash, store_num(g, grace), ip };
	int lengths[3] = { TOKEN_HASH_LEN, 0, 0 }, formats[3] = { 1, 0, 0 };
	enum store_err err;
	PGresult *res = store_exec(st, "sess_token_reuse", 3, params, lengths, formats, &err);

	*revoked = 0;
	if (res == NULL)
		return err;
	if (PQntuples(res) == 1) {
		*revoked = 1;
		lcache_invalidate_session(PQgetvalue(res, 0, 0));
		ring(st);
	}
	PQclear(res);
	return STORE_OK;
}

enum store_err sess_backchannel(struct store *st, const char *jti, long long exp, const char *sid, const char *sub,
				const char *ip, long *count)
{
	char e[STORE_NUM_LEN];
	const char *params[5] = { jti, store_num(e, (long)exp), sid, sub, ip };
	enum store_err err;
	PGresult *res = store_exec(st, "sess_backchannel", 5, params, NULL, NULL, &err);
	int rows;

	*count = 0;
	if (res == NULL)
		return err;
	rows = PQntuples(res);
	if (rows < 1) {
		PQclear(res);
		return STORE_ERROR;
	}
	if (strcmp(PQgetvalue(res, 0, 0), "replayed") == 0) {
		PQclear(res);
		return STORE_CONFLICT;
	}
	for (int i = 0; i < rows; i++)
		if (!PQgetisnull(res, i, 1)) {
			lcache_invalidate_session(PQgetvalue(res, i, 1));
			(*count)++;
		}
	PQclear(res);
	if (*count > 0)
		ring(st);
	return STORE_OK;
}

enum store_err sess_list(struct store *st, const char *user_id, long idle_timeout, struct session *out)
{
	char idle[STORE_NUM_LEN];
	const char *params[2] = { user_id, store_num(idle, idle_timeout) };
	enum store_err err;

	memset(out, 0, sizeof(*out));
	out->res = store_exec(st, "sess_list", 2, params, NULL, NULL, &err);
	return err;
}

enum store_err sess_set_billing(struct store *st, const char *user_id, const char *plan, const char *status,
				const char *ip, long *count)
{
	const char *params[4] = { user_id, plan, status, ip };
	enum store_err err = exec_count(st, "set_billing", 4, params, count);

	if (err != STORE_OK)
		return err;
	if (*count > 0) {
		lcache_invalidate_user(user_id);
		ring(st);
	}
	return STORE_OK;
}

void sess_auth_failed(struct store *st, const char *ip, enum auth_reason reason, const char *route,
		      long window_failures)
{
	char n[STORE_NUM_LEN];
	const char *params[4] = { ip, auth_reason_label(reason), route, store_num(n, window_failures) };
	enum store_err err;

	PQclear(store_exec(st, "event_auth_failed", 4, params, NULL, NULL, &err));
}

void sess_auth_failed_summary(struct store *st, long dropped, long distinct, int64_t from, int64_t to)
{
	char n1[STORE_NUM_LEN], n2[STORE_NUM_LEN], n3[STORE_NUM_LEN], n4[STORE_NUM_LEN];
	const char *params[4] = { store_num(n1, dropped), store_num(n2, distinct), store_num(n3, from),
				  store_num(n4, to) };
	enum store_err err;

	PQclear(store_exec(st, "event_auth_failed_summary", 4, params, NULL, NULL, &err));
}

void sess_collect_invalidations(struct store *st, int64_t now_ms)
{
	/* Per worker: the xmin it read last time, and when. */
	static char xmin[32];
	static int64_t taken_ms;
	const char *params[1] = { xmin[0] ? xmin : NULL };
	enum store_err err;
	PGresult *res;

	if (taken_ms && now_ms - taken_ms < LC_LOG_KEEP_MS)
		return;
	res = store_exec(st, "inval_collect", 1, params, NULL, NULL, &err);
	if (res && PQntuples(res) == 1) {
		snprintf(xmin, sizeof(xmin), "%s", PQgetvalue(res, 0, 0));
		taken_ms = now_ms;
	}
	PQclear(res);
}

enum store_err sess_flush_activity(struct store *st, long *flushed)
{
	enum store_err err;
	PGresult *res = store_exec(st, "flush_activity", 0, NULL, NULL, NULL, &err);

	*flushed = 0;
	if (res == NULL)
		return err;
	*flushed = strtol(PQcmdTuples(res), NULL, 10);
	PQclear(res);
	return STORE_OK;
}

enum store_err sess_sample_gauges(struct store *st, uint64_t *out, size_t n)
{
	enum store_err err;
	PGresult *res = store_exec(st, "metrics_sample", 0, NULL, NULL, NULL, &err);

	if (res == NULL)
		return err;
	if (PQntuples(res) != 1 || PQnfields(res) != (int)n) {
		PQclear(res);
		return STORE_ERROR;
	}
	for (size_t i = 0; i < n; i++)
		out[i] = strtoull(PQgetvalue(res, 0, (int)i), NULL, 10);
	PQclear(res);
	return STORE_OK;
}
