/* What every route handler shares: the store-error answer, field errors, the session cookie, revocation. */
#include "routes.h"

#include <stdio.h>
#include <string.h>

#include "credentials.h"
#include "sessions.h"

void route_store_error(struct app *a, struct req *r, enum store_err err)
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

void route_send_buf(struct req *r, int status, struct jsonx_buf *b)
{
	http_send_raw(r, status, "application/json; charset=utf-8", b->data ? b->data : "{}", b->len);
}

void route_bad_field(struct req *r, const char *code, const char *field, const char *what)
{
	char msg[160];

	snprintf(msg, sizeof(msg), "%s: %s", field, what);
	http_error(r, ERR_BAD_REQUEST, code, msg);
}

int route_plain_string(const char *s, size_t max)
{
	size_t n = strlen(s);

	if (n == 0 || n > max)
		return 0;
	for (const unsigned char *p = (const unsigned char *)s; *p; p++)
		if (*p <= 0x20 || *p >= 0x7f || *p == '"' || *p == '\\')
			return 0;
	return 1;
}

void route_clear_cookie(struct app *a, struct req *r)
{
	char v[512];
	const struct cfg *c = a->cfg;

	snprintf(v, sizeof(v), "%s=; Path=/; Max-Age=0; HttpOnly%s; SameSite=%s%s%s", c->cookie_name,
		 c->cookie_secure ? "; Secure" : "", c->cookie_samesite, c->cookie_domain[0] ? "; Domain=" : "",
		 c->cookie_domain);
	http_add_header(r, "Set-Cookie", v);
}

void route_logged_out(struct app *a, struct req *r)
{
	route_clear_cookie(a, r);
	/* Clear-Site-Data clears every cookie of the origin, not only ours: only when the operator asks. */
	if (a->cfg->logout_clear_site_data)
		http_add_header(r, "Clear-Site-Data", "\"cookies\"");
}

/* The reason each revocation records in session_events. */
static const char *const revoke_events[MR_COUNT] = {
	[MR_LOGOUT] = "logout", [MR_REVOKE_ONE] = "revoked_by_user", [MR_INVALIDATE_ALL] = "invalidate_all",
};

int route_revoke(struct app *a, struct req *r, const char *user_id, const char *id, const unsigned char *hash,
		 const char *keep, enum metrics_revoke why, long *n)
{
	enum store_err err = sess_revoke(&a->store, user_id, id, hash, keep, revoke_events[why], r->client_addr, n);

	if (err != STORE_OK) {
		route_store_error(a, r, err);
		return -1;
	}
	metrics_revoked(why, *n);
	return 0;
}
