/* The route handlers (app/routes_*.c), and what they share (app/routes.c). */
#ifndef SESSIOND_ROUTES_H
#define SESSIOND_ROUTES_H

#include <stddef.h>
#include <time.h>

#include "ctx.h"
#include "http.h"
#include "jsonx.h"
#include "jwtv.h"
#include "metrics.h"
#include "store.h"

/*
 * The route handlers, listed in the router's table (app/router.c). arg is the
 * decoded {param} of the route's pattern (a session id, a user id), or NULL.
 */
typedef void route_handler(struct app *a, struct req *r, const char *arg);
route_handler route_health, route_metrics, route_create, route_current_get, route_current_patch,
	route_current_delete, route_refresh, route_list, route_revoke_one, route_invalidate_all,
	route_internal_user, route_auth, route_service_revoke, route_backchannel_logout;

/* Loads the worker's verifier if it has none yet. 0, or -1 after 503 auth_unavailable (no keys). */
int route_load_verifier(struct app *a, struct req *r);

/* One verification of jwt[0..len) with v at now, filling out (a jwtv_verify-like function). */
typedef enum jwtv_err route_verify_fn(struct jwtv *v, const char *jwt, size_t len, time_t now, void *out);

/*
 * Verifies with verify and a->jwt; a kid the keys do not know (in URL mode)
 * first re-reads the key file, then asks the fetcher and tries once more.
 */
enum jwtv_err route_verify_jwt(struct app *a, route_verify_fn *verify, const char *jwt, size_t len, void *out);

/*
 * The one mapping from a store failure to an answer: NOT_FOUND (the session
 * went under the request) 401 invalid_session, CONFLICT 412, TOO_LARGE 413,
 * UNAVAILABLE 503, anything else 500.
 */
void route_store_error(struct app *a, struct req *r, enum store_err err);

/* Sends b as the JSON body with status. */
void route_send_buf(struct req *r, int status, struct jsonx_buf *b);

/* 400 with code and "field: what". */
void route_bad_field(struct req *r, const char *code, const char *field, const char *what);

/* 1 for a non-empty printable-ASCII string of at most max bytes, without spaces or quotes. */
int route_plain_string(const char *s, size_t max);

/*
 * Revokes user_id's sessions as sess_revoke does (id, hash, keep) for why,
 * by r's client address, and counts them: 0 with *n revoked, or -1 after the
 * error answer.
 */
int route_revoke(struct app *a, struct req *r, const char *user_id, const char *id, const unsigned char *hash,
		 const char *keep, enum metrics_revoke why, long *n);

/*
 * Parses an If-Match value h (NULL when absent): "3", W/"3", 3 or *. Returns
 * 0 with *version pointing into buf (n bytes; leading zeros dropped), or NULL
 * for * and for no header; -1 when malformed (more than 18 digits too).
 */
int route_if_match(const char *h, char *buf, size_t n, const char **version);

/* Expires the session cookie (Set-Cookie with Max-Age=0). */
void route_clear_cookie(struct app *a, struct req *r);

/* After a logout: route_clear_cookie, and Clear-Site-Data when logout_clear_site_data is set. */
void route_logged_out(struct app *a, struct req *r);

#endif
