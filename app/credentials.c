/* A request's credentials: the session token from the header or the cookie, the CSRF check, the 401 answer. */
#include "credentials.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>

#include "authhdr.h"
#include "guard.h"
#include "lcache.h"
#include "log.h"
#include "metrics.h"
#include "sessions.h"

void auth_audit_flush(struct app *a, time_t now)
{
	struct guard_summary sum;

	if (guard_audit_summary(now, &sum)) {
		log_warn("event=audit_rows_dropped dropped=%ld distinct_addresses=%ld from=%lld to=%lld", sum.dropped,
			 sum.distinct, (long long)sum.from, (long long)sum.to);
		sess_auth_failed_summary(&a->store, sum.dropped, sum.distinct, sum.from, sum.to);
	}
}

void auth_note_failure(struct app *a, struct req *r, const char *scheme, enum auth_reason reason)
{
	const char *addr = r->client_addr;
	const char *route = r->route ? r->route : "none";
	int write = 0;
	long failures = 0, events = 0;
	time_t now = time(NULL);

	/* How the failure counts comes with its reason (auth_reason.h). */
	if (auth_reason_audit(reason)) {
		auth_audit_flush(a, now);	/* the last second's drops first, so rows stay in time order */
		write = guard_note(&r->client.key, auth_reason_guess(reason), a->cfg->auth_fail_limit,
				   a->cfg->auth_fail_window, a->cfg->auth_fail_audit_rate, now, &failures, &events);
	}
	log_info("event=auth_failed route=%s reason=%s addr=%s%s window_failures=%ld", route,
		 auth_reason_label(reason), addr ? addr : "-", r->client.key.kind == CA_PROXY ? " bucket=proxy" : "",
		 failures);
	/* O(1) rows per address and window, at most auth_fail_audit_rate a second; the metrics count every failure. */
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

void cred_wipe(struct credential *c)
{
	OPENSSL_cleanse(c->token, sizeof(c->token));
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

int cred_take(struct app *a, struct req *r, struct credential *out)
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

void auth_csrf_token(const char *token, char *out)
{
	unsigned char md[TOKEN_HASH_LEN];
	char buf[16 + TOKEN_LEN + 1];

	/* A different input than the stored hash, so the CSRF token reveals nothing usable. */
	snprintf(buf, sizeof(buf), "sessiond-csrf:%s", token);
	token_hash(buf, strlen(buf), md);
	token_b64url_encode(md, sizeof(md), out);
}

int auth_csrf(struct app *a, struct req *r, const struct credential *c)
{
	char want[TOKEN_LEN + 1];
	int ok = 0;

	if (!c->by_cookie)
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
		auth_csrf_token(c->token, want);
		ok = strlen(r->csrf_token) == TOKEN_LEN && token_ct_equal(r->csrf_token, want, TOKEN_LEN);
	}
	if (ok)
		return 0;
	log_info("event=csrf_rejected route=%s", r->route ? r->route : "none");
	http_error(r, ERR_FORBIDDEN, "csrf_failed",
		   "cookie-authenticated changes need an allowed Origin or a valid X-CSRF-Token");
	return -1;
}
