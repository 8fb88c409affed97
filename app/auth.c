/* Session-token authentication and CSRF checks. */
#include "auth.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <openssl/crypto.h>

#include "authhdr.h"
#include "guard.h"
#include "log.h"
#include "metrics.h"

void auth_store_error(struct app *a, struct req *r, enum store_err err)
{
	switch (err) {
	case STORE_NOT_FOUND:
		/* The session went (revoked, cleaned up) between authentication and this write. */
		auth_reject(a, r, "Session", "invalid_session", "the session token is invalid", AR_REVOKED);
		break;
	case STORE_CONFLICT:
		http_error(r, ERR_PRECONDITION, "version_conflict", "the session changed since that version");
		break;
	case STORE_TOO_LARGE:
		http_error(r, ERR_TOO_LARGE, "session_data_too_large", "session_data would exceed its size limit");
		break;
	case STORE_UNAVAILABLE:
		http_error(r, ERR_UNAVAILABLE, "store_unavailable", "the session store is unavailable, retry shortly");
		break;
	default:
		http_error(r, ERR_INTERNAL, "internal_error", "internal error");
		break;
	}
}

void auth_note_failure(struct app *a, struct req *r, const char *scheme, enum auth_reason reason)
{
	const char *addr = r->client_addr;
	const char *route = r->route ? r->route : "none";
	int write = 0;
	long failures = 0, events = 0;

	/* How the failure counts comes with its reason (auth_reason.h). */
	if (auth_reason_audit(reason))
		write = guard_note(addr, auth_reason_guess(reason), a->cfg->auth_fail_limit, a->cfg->auth_fail_window,
				   time(NULL), &failures, &events);
	log_info("event=auth_failed route=%s reason=%s addr=%s window_failures=%ld", route, auth_reason_label(reason),
		 addr ? addr : "-", failures);
	/* The audit trail gets O(1) rows per address and window; the metrics count every failure. */
	if (write)
		sess_auth_failed(&a->store, addr, reason, route, events);
	metrics_auth_failure(scheme, reason);
}

void auth_reject(struct app *a, struct req *r, const char *scheme, const char *code, const char *message,
		 enum auth_reason reason)
{
	auth_note_failure(a, r, scheme, reason);
	http_add_header(r, "WWW-Authenticate", scheme);
	http_error(r, ERR_UNAUTHORIZED, code, message);
}

void auth_release(struct auth *au)
{
	sess_release(&au->s);
	jsonx_buf_free(&au->big);
	OPENSSL_cleanse(au->token, sizeof(au->token));
}

/* At most this many same-name cookies are tried: each costs a lookup. */
#define COOKIE_CANDIDATES 4

/* 1 when hash names a live session (quietly: nothing is counted, touched or answered). */
static int cookie_live(struct app *a, const unsigned char *hash)
{
	struct lc_entry e;
	struct session s;
	time_t now = time(NULL);
	int live;

	if (lcache_get(hash, a->cfg->local_cache_ttl, now, &e) &&
	    (a->cfg->idle_timeout == 0 || now - e.last_activity < a->cfg->idle_timeout))
		return 1;
	if (sess_lookup(&a->store, hash, a->cfg->idle_timeout, a->cfg->touch_interval, &s) != STORE_OK)
		return 0;
	live = !s.revoked && !s.expired;
	sess_release(&s);
	return live;
}

/*
 * The session cookie to use. Several cookies of our name arrive when another
 * path or a parent domain set one too (a stale one can shadow the live one):
 * the first of up to COOKIE_CANDIDATES well-formed ones that names a live
 * session, else the first, whose failure is then reported as usual.
 */
static int pick_cookie(struct app *a, const char *header, const char **tok, size_t *len)
{
	const char *cur = header, *v, *first = NULL;
	size_t n, first_len = 0;
	int seen = 0;

	while (seen < COOKIE_CANDIDATES && authhdr_cookie_next(&cur, a->cfg->cookie_name, &v, &n)) {
		unsigned char h[TOKEN_HASH_LEN];

		if (seen++ == 0) {
			first = v;
			first_len = n;
			continue;
		}
		if (seen == 2 && token_shape_ok(first, first_len)) {
			token_hash(first, first_len, h);
			if (cookie_live(a, h))
				break;
		}
		if (token_shape_ok(v, n)) {
			token_hash(v, n, h);
			if (cookie_live(a, h)) {
				*tok = v;
				*len = n;
				return 1;
			}
		}
	}
	*tok = first;
	*len = first_len;
	return first != NULL;
}

/* Finds the request's token (a Session header wins, then the cookie) and checks its shape. 0, or -1 after 401. */
static int take_token(struct app *a, struct req *r, struct auth *out)
{
	const char *tok = NULL;
	size_t len = 0;

	memset(out, 0, sizeof(*out));
	if (authhdr_param(r->authorization, "Session", &tok, &len)) {
		out->by_cookie = 0;
	} else if (authhdr_is_scheme(r->authorization, "Session")) {
		/* A Session header, empty or unparseable: never fall back to a cookie. */
		const char *p = r->authorization + strspn(r->authorization, " \t") + 7; /* past "Session" */

		if (p[strspn(p, " \t")] == '\0')
			auth_reject(a, r, "Session", "missing_credentials",
				    "the Authorization: Session header carries no token", AR_MISSING);
		else
			auth_reject(a, r, "Session", "invalid_session", "the session token is invalid", AR_MALFORMED);
		return -1;
	} else if (pick_cookie(a, r->cookie, &tok, &len)) {
		out->by_cookie = 1;
	} else {
		auth_reject(a, r, "Session", "missing_credentials",
			    "a session token is required (Authorization: Session <token> or the session cookie)",
			    AR_MISSING);
		return -1;
	}
	/* Wrong length or alphabet: rejected before any store access. */
	if (!token_shape_ok(tok, len)) {
		auth_reject(a, r, "Session", "invalid_session", "the session token is invalid", AR_MALFORMED);
		return -1;
	}
	memcpy(out->token, tok, len);
	out->token[len] = '\0';
	token_hash(tok, len, out->hash);
	return 0;
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

/* The authoritative lookup (PostgreSQL's cache table, then sessions). 0, or -1 after the error response. */
static int lookup_store(struct app *a, struct req *r, struct auth *out)
{
	enum store_err err;

	err = sess_lookup(&a->store, out->hash, a->cfg->idle_timeout, a->cfg->touch_interval, &out->s);
	if (err == STORE_NOT_FOUND) {
		enum auth_reason why;

		/* A session cleanup deleted (or a rotated token) answers as before, and is no guess. */
		err = sess_gone(&a->store, out->hash, &why);
		if (err == STORE_OK && why == AR_ROTATED)
			note_reuse(a, r, out->hash);
		if (err == STORE_OK && why == AR_EXPIRED)
			auth_reject(a, r, "Session", "session_expired", "the session has expired", AR_EXPIRED);
		else if (err == STORE_OK)
			auth_reject(a, r, "Session", "invalid_session", "the session token is invalid",
				    why == AR_ROTATED ? AR_ROTATED : AR_REVOKED);
		else if (err == STORE_NOT_FOUND)
			auth_reject(a, r, "Session", "invalid_session", "the session token is invalid", AR_UNKNOWN);
		else
			auth_store_error(a, r, err);
		auth_release(out);
		return -1;
	}
	if (err != STORE_OK) {
		auth_store_error(a, r, err);
		auth_release(out);
		return -1;
	}
	if (out->s.revoked) {
		auth_reject(a, r, "Session", "invalid_session", "the session token is invalid", AR_REVOKED);
		auth_release(out);
		return -1;
	}
	if (out->s.expired) {
		if (out->s.cache_hit)
			sess_expire(&a->store, out->hash, r->client_addr);
		else
			sess_forget_local(out->hash);
		auth_reject(a, r, "Session", "session_expired", "the session has expired", AR_EXPIRED);
		auth_release(out);
		return -1;
	}
	if (out->s.touch_due)
		out->touched = sess_touch(&a->store, out->hash, out->touch_text, &out->touch_epoch) == STORE_OK;
	return 0;
}

/* Points the identity fields at the store row. */
static void view_row(struct auth *out)
{
	const char *tenant = sess_get(&out->s, SC_TENANT_ID);

	out->id = sess_get(&out->s, SC_ID);
	out->user_id = sess_get(&out->s, SC_USER_ID);
	out->tenant_id = tenant && tenant[0] ? tenant : NULL;
}

int auth_session(struct app *a, struct req *r, struct auth *out)
{
	if (take_token(a, r, out) != 0 || lookup_store(a, r, out) != 0)
		return -1;
	view_row(out);
	return 0;
}

static void copy_field(char *dst, size_t cap, const char *src, int *fits)
{
	size_t n = src ? strlen(src) : 0;

	if (n >= cap) {
		*fits = 0;
		n = 0;
	}
	memcpy(dst, src ? src : "", n);
	dst[n] = '\0';
}

/* Renders the store row into out (and its lc entry); 1 when it fits the per-host cache. */
static int render_row(struct auth *out)
{
	struct lc_entry *e = &out->lc;
	const char *mark = ",\"last_activity\":\"", *p, *last = NULL;
	int fits = 1;

	memcpy(e->hash, out->hash, sizeof(e->hash));
	copy_field(e->id, sizeof(e->id), sess_get(&out->s, SC_ID), &fits);
	copy_field(e->user_id, sizeof(e->user_id), sess_get(&out->s, SC_USER_ID), &fits);
	copy_field(e->tenant_id, sizeof(e->tenant_id), sess_get(&out->s, SC_TENANT_ID), &fits);
	e->expires_epoch = strtoll(sess_get(&out->s, SC_EXPIRES_EPOCH), NULL, 10);
	e->last_activity = strtoll(sess_get(&out->s, SC_ACTIVITY_EPOCH), NULL, 10);
	e->filled_at = (int64_t)time(NULL);
	sess_render(&out->s, &out->big, 0, -1);
	/* The real last_activity is the last occurrence: session_data (rendered earlier) may contain the text. */
	for (p = out->big.data; p && (p = strstr(p, mark)) != NULL; p++)
		last = p;
	if (last && out->touched) {
		memcpy((char *)last + strlen(mark), out->touch_text, SQL_TS_LEN);
		e->last_activity = out->touch_epoch;
	}
	out->json = out->big.data;
	out->json_len = out->big.len;
	if (!fits || last == NULL || out->big.len >= LC_JSON_MAX)
		return 0;
	memcpy(e->json, out->big.data, out->big.len);
	e->json_len = (uint16_t)out->big.len;
	e->la_offset = (uint16_t)(last - out->big.data + strlen(mark));
	return 1;
}

int auth_session_read(struct app *a, struct req *r, struct auth *out)
{
	time_t now = time(NULL);
	uint64_t gen;

	if (take_token(a, r, out) != 0)
		return -1;
	if (lcache_get(out->hash, a->cfg->local_cache_ttl, now, &out->lc) &&
	    (a->cfg->idle_timeout == 0 || now - out->lc.last_activity < a->cfg->idle_timeout)) {
		int ok = 1;

		if (now - out->lc.last_activity >= a->cfg->touch_interval) {
			/* The touch goes to PostgreSQL's cache table; a missing row sends us the long way. */
			ok = sess_touch(&a->store, out->hash, out->touch_text, &out->touch_epoch) == STORE_OK;
			if (ok) {
				lcache_touch(out->hash, out->touch_epoch, out->touch_text);
				memcpy(out->lc.json + out->lc.la_offset, out->touch_text, SQL_TS_LEN);
				out->lc.last_activity = out->touch_epoch;
			}
		}
		if (ok) {
			out->id = out->lc.id;
			out->user_id = out->lc.user_id;
			out->tenant_id = out->lc.tenant_id[0] ? out->lc.tenant_id : NULL;
			out->json = out->lc.json;
			out->json_len = out->lc.json_len;
			metrics_add(MC_LOCAL_CACHE_HITS, 1);
			return 0;
		}
	}
	gen = lcache_generation();
	if (lookup_store(a, r, out) != 0)
		return -1;
	view_row(out);
	if (render_row(out) && lcache_usable())
		lcache_put(&out->lc, gen);
	return 0;
}

void auth_csrf_token(const char *token, char *out)
{
	unsigned char md[TOKEN_HASH_LEN];
	char buf[16 + TOKEN_LEN + 1];

	/* A different input than the stored hash, so the CSRF token reveals nothing usable. */
	snprintf(buf, sizeof(buf), "sessiond-csrf:%s", token);
	token_hash(buf, strlen(buf), md);
	token_b64url_encode(md, sizeof(md), out);
}

int auth_csrf(struct app *a, struct req *r, const struct auth *au)
{
	char want[TOKEN_LEN + 1];
	int ok = 0;

	if (!au->by_cookie)
		return 0;
	/*
	 * A CORS origin is trusted too: it can read the X-CSRF-Token header
	 * anyway, so refusing its Origin would protect nothing.
	 */
	if (r->origin)
		ok = authhdr_origin_allowed(r->origin, 0, a->cfg->allowed_origins) ||
		     authhdr_origin_allowed(r->origin, 0, a->cfg->cors_allowed_origins);
	else if (r->referer)
		ok = authhdr_origin_allowed(r->referer, 1, a->cfg->allowed_origins) ||
		     authhdr_origin_allowed(r->referer, 1, a->cfg->cors_allowed_origins);
	if (!ok && r->csrf_token) {
		auth_csrf_token(au->token, want);
		ok = strlen(r->csrf_token) == TOKEN_LEN && token_ct_equal(r->csrf_token, want, TOKEN_LEN);
	}
	if (ok)
		return 0;
	log_info("event=csrf_rejected route=%s", r->route ? r->route : "none");
	http_error(r, ERR_FORBIDDEN, "csrf_failed",
		   "cookie-authenticated changes need an allowed Origin or a valid X-CSRF-Token");
	return -1;
}

int auth_session_write(struct app *a, struct req *r, struct auth *out)
{
	if (auth_session(a, r, out) != 0)
		return -1;
	if (auth_csrf(a, r, out) != 0) {
		auth_release(out);
		return -1;
	}
	return 0;
}
