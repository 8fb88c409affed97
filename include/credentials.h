/* A request's credentials: the session token from the header or the cookie, the CSRF check, the 401 answer. */
#ifndef SESSIOND_CREDENTIALS_H
#define SESSIOND_CREDENTIALS_H

#include "auth_reason.h"
#include "ctx.h"
#include "http.h"
#include "token.h"

/* The session token a request presented, and how. */
struct credential {
	char token[TOKEN_LEN + 1];
	unsigned char hash[TOKEN_HASH_LEN];
	int by_cookie;              /* from the cookie (CSRF applies), not the Authorization header */
};

/*
 * Finds r's session token: "Authorization: Session <token>" when present (it
 * wins over any cookie), else the cookie_name cookie, and checks its shape
 * (no store access, except to choose among several same-name cookies).
 * Returns 0 with out filled (wipe with cred_wipe), or -1 after the 401.
 */
int cred_take(struct app *a, struct req *r, struct credential *out);

/* Wipes the token. */
void cred_wipe(struct credential *c);

/* Cookie-authenticated state changes need an allowed Origin/Referer or a matching X-CSRF-Token. 0, or -1 after 403. */
int auth_csrf(struct app *a, struct req *r, const struct credential *c);

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

/* Writes the summary row of auth_failed audit rows dropped past auth_fail_audit_rate, when one is due. */
void auth_audit_flush(struct app *a, time_t now);

#endif
