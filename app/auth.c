/* Session lookup: a request's session token → one session view, for readers and writers alike. */
#include "auth.h"

#include <string.h>
#include <time.h>

#include "lcache.h"
#include "log.h"
#include "metrics.h"
#include "routes.h"

void auth_release(struct auth *au)
{
	view_release(&au->view);
	cred_wipe(&au->cred);
}

/*
 * A rotated-away token presented again: within rotation_reuse_grace a tab
 * that missed the new token (answered as before); later, a stolen copy, so
 * the whole session ends (sql/015). The answer stays 401 either way.
 */
static void note_reuse(struct app *a, struct req *r, const unsigned char *hash)
{
	int revoked = 0;

	if (sess_token_reuse(&a->store, hash, a->cfg->rotation_reuse_grace, r->client_addr, &revoked) != STORE_OK ||
	    !revoked)
		return;
	log_warn("event=token_reuse route=%s addr=%s", r->route ? r->route : "none",
		 r->client_addr ? r->client_addr : "-");
	metrics_add(MC_TOKEN_REUSE, 1);
	metrics_revoked(MR_TOKEN_REUSE, 1);
}

/*
 * The authoritative lookup (PostgreSQL's cache table, then sessions) into
 * out->view.row, and activity recorded when due. 0 with *touched (and
 * touch_text and *touch_epoch) set, or -1 after the error response.
 */
static int lookup_store(struct app *a, struct req *r, struct auth *out, int *touched,
			char touch_text[SQL_TS_LEN + 1], long long *touch_epoch)
{
	struct session *s = &out->view.row;
	enum store_err err;

	*touched = 0;
	err = sess_lookup(&a->store, out->cred.hash, a->cfg->idle_timeout, a->cfg->touch_interval, s);
	if (err == STORE_NOT_FOUND) {
		enum auth_reason why;

		/* A session cleanup deleted (or a rotated token) answers as before, and is no guess. */
		err = sess_gone(&a->store, out->cred.hash, &why);
		if (err == STORE_OK && why == AR_ROTATED)
			note_reuse(a, r, out->cred.hash);
		if (err == STORE_OK && why == AR_EXPIRED)
			auth_reject(a, r, "Session", "session_expired", "the session has expired", AR_EXPIRED);
		else if (err == STORE_OK)
			auth_reject(a, r, "Session", "invalid_session", "the session token is invalid",
				    why == AR_ROTATED ? AR_ROTATED : AR_REVOKED);
		else if (err == STORE_NOT_FOUND)
			auth_reject(a, r, "Session", "invalid_session", "the session token is invalid", AR_UNKNOWN);
		else
			route_store_error(a, r, err);
		auth_release(out);
		return -1;
	}
	if (err != STORE_OK) {
		route_store_error(a, r, err);
		auth_release(out);
		return -1;
	}
	if (s->revoked) {
		auth_reject(a, r, "Session", "invalid_session", "the session token is invalid", AR_REVOKED);
		auth_release(out);
		return -1;
	}
	if (s->expired) {
		if (s->cache_hit)
			sess_expire(&a->store, out->cred.hash, r->client_addr);
		else
			sess_forget_local(out->cred.hash);
		auth_reject(a, r, "Session", "session_expired", "the session has expired", AR_EXPIRED);
		auth_release(out);
		return -1;
	}
	if (s->touch_due)
		*touched = sess_touch(&a->store, out->cred.hash, touch_text, touch_epoch) == STORE_OK;
	return 0;
}

/* The store path shared by every lookup: 0 with out->view built from the row, or -1 after the answer. */
static int from_store(struct app *a, struct req *r, struct auth *out, int *cacheable)
{
	char touch_text[SQL_TS_LEN + 1];
	long long touch_epoch = 0;
	int touched;

	if (lookup_store(a, r, out, &touched, touch_text, &touch_epoch) != 0)
		return -1;
	*cacheable = view_from_row(&out->view, out->cred.hash, touched ? touch_text : NULL, touch_epoch);
	return 0;
}

int auth_session(struct app *a, struct req *r, struct auth *out)
{
	int cacheable;

	memset(out, 0, sizeof(*out));
	if (cred_take(a, r, &out->cred) != 0)
		return -1;
	return from_store(a, r, out, &cacheable);
}

int auth_session_read(struct app *a, struct req *r, struct auth *out)
{
	struct session_view *v = &out->view;
	time_t now = time(NULL);
	uint64_t gen;
	int cacheable;

	memset(out, 0, sizeof(*out));
	if (cred_take(a, r, &out->cred) != 0)
		return -1;
	if (lcache_get(out->cred.hash, a->cfg->local_cache_ttl, now, &v->lc) &&
	    (a->cfg->idle_timeout == 0 || now - v->lc.last_activity < a->cfg->idle_timeout)) {
		int ok = 1;

		if (now - v->lc.last_activity >= a->cfg->touch_interval) {
			char touch_text[SQL_TS_LEN + 1];
			long long touch_epoch;

			/* The touch goes to PostgreSQL's cache table; a missing row sends us the long way. */
			ok = sess_touch(&a->store, out->cred.hash, touch_text, &touch_epoch) == STORE_OK;
			if (ok) {
				lcache_touch(out->cred.hash, touch_epoch, touch_text);
				memcpy(v->lc.json + v->lc.la_offset, touch_text, SQL_TS_LEN);
				v->lc.last_activity = touch_epoch;
			}
		}
		if (ok) {
			view_from_entry(v);
			metrics_add(MC_LOCAL_CACHE_HITS, 1);
			return 0;
		}
	}
	gen = lcache_generation();
	if (from_store(a, r, out, &cacheable) != 0)
		return -1;
	if (cacheable && lcache_usable())
		lcache_put(&v->lc, gen);
	return 0;
}

int auth_session_write(struct app *a, struct req *r, struct auth *out)
{
	if (auth_session(a, r, out) != 0)
		return -1;
	if (auth_csrf(a, r, &out->cred) != 0) {
		auth_release(out);
		return -1;
	}
	return 0;
}

int auth_write_credential(struct app *a, struct req *r, struct credential *out)
{
	memset(out, 0, sizeof(*out));
	if (cred_take(a, r, out) != 0)
		return -1;
	if (auth_csrf(a, r, out) != 0) {
		cred_wipe(out);
		return -1;
	}
	return 0;
}

void auth_write_refused(struct app *a, struct req *r, const struct credential *c)
{
	struct auth au;
	char touch_text[SQL_TS_LEN + 1];
	long long touch_epoch;
	int touched;

	memset(&au, 0, sizeof(au));
	au.cred = *c;
	if (lookup_store(a, r, &au, &touched, touch_text, &touch_epoch) != 0)
		return;
	log_warn("event=write_refused_live_session");
	route_store_error(a, r, STORE_UNAVAILABLE);
	auth_release(&au);
}
