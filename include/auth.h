/* Request authentication: session tokens (header or cookie), CSRF. */
#ifndef SESSIOND_AUTH_H
#define SESSIOND_AUTH_H

#include "auth_reason.h"
#include "ctx.h"
#include "http.h"
#include "lcache.h"
#include "sessions.h"

/*
 * One authenticated session, whichever path produced it. id, user_id and
 * tenant_id (NULL when none) are always set; json/json_len after
 * auth_session_read. s holds the store row when the store was read (empty
 * after a per-host cache hit): only writers, which always read the store, use it.
 */
struct auth {
	const char *id;
	const char *user_id;
	const char *tenant_id;
	const char *json;           /* the session object as rendered (auth_session_read) */
	size_t json_len;

	struct session s;           /* the store row (empty after a per-host cache hit) */
	unsigned char hash[TOKEN_HASH_LEN];
	char token[TOKEN_LEN + 1];
	int by_cookie;
	int touched;                /* activity was recorded by this request */
	char touch_text[SQL_TS_LEN + 1];
	long long touch_epoch;

	/* auth_session_read's storage behind json and the identity fields. */
	struct lc_entry lc;
	struct jsonx_buf big;       /* a rendering too large for lc */
};

/*
 * Authenticates r with its session token: "Authorization: Session <token>"
 * when present (it wins over any cookie), else the cookie_name cookie.
 * Returns 0 with out filled (release with auth_release), or -1 after sending
 * 401 (or 503/500 when the store failed).
 */
int auth_session(struct app *a, struct req *r, struct auth *out);

/*
 * For reads (GET /current/, /auth/): like auth_session, but served from the
 * per-host cache when it can be, and filling it otherwise. On 0, au->json /
 * au->json_len hold the rendered session.
 */
int auth_session_read(struct app *a, struct req *r, struct auth *out);

/* Cookie-authenticated state changes need an allowed Origin/Referer or a matching X-CSRF-Token. 0, or -1 after 403. */
int auth_csrf(struct app *a, struct req *r, const struct auth *au);

/*
 * For state changes: auth_session, then auth_csrf. Returns 0 with out filled
 * (release with auth_release), or -1 after the answer, holding nothing.
 */
int auth_session_write(struct app *a, struct req *r, struct auth *out);

/* The CSRF token of a session token, derived (not stored): out[TOKEN_LEN+1]. */
void auth_csrf_token(const char *token, char *out);

/*
 * Records a failed authentication (log line, brute-force guard, audit row,
 * metric under scheme's first word) without answering: for routes whose
 * failures are not a 401 (back-channel logout answers 400).
 */
void auth_note_failure(struct app *a, struct req *r, const char *scheme, enum auth_reason reason);

/*
 * Records (log line, guard, audit row, metric) and answers a failed
 * authentication with 401, WWW-Authenticate: scheme and the error code/message.
 */
void auth_reject(struct app *a, struct req *r, const char *scheme, const char *code, const char *message,
		 enum auth_reason reason);

/*
 * The one mapping from a store failure to an answer: NOT_FOUND (the session
 * went under the request) 401 invalid_session, CONFLICT 412, TOO_LARGE 413,
 * UNAVAILABLE 503, anything else 500.
 */
void auth_store_error(struct app *a, struct req *r, enum store_err err);

void auth_release(struct auth *au);

#endif
