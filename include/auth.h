/* Session lookup: a request's session token → one session view, for readers and writers alike. */
#ifndef SESSIOND_AUTH_H
#define SESSIOND_AUTH_H

#include "credentials.h"
#include "ctx.h"
#include "http.h"
#include "session_view.h"

/*
 * One authenticated request: the credential it presented and the session it
 * names. Every function below fills both, whichever path answered (the
 * per-host cache or the store): view.id, view.user_id, view.tenant_id and
 * view.json are always set.
 */
struct auth {
	struct credential cred;
	struct session_view view;
};

/*
 * Authenticates r from the store (never the per-host cache, so view.row
 * holds the current row). Returns 0 with out filled (release with
 * auth_release), or -1 after sending 401 (or 503/500 when the store failed).
 */
int auth_session(struct app *a, struct req *r, struct auth *out);

/*
 * For reads (GET /current/, /auth/): like auth_session, but served from the
 * per-host cache when it can be (view.row is then empty), and filling it otherwise.
 */
int auth_session_read(struct app *a, struct req *r, struct auth *out);

/*
 * For state changes: auth_session, then auth_csrf. Returns 0 with out filled
 * (release with auth_release), or -1 after the answer, holding nothing.
 */
int auth_session_write(struct app *a, struct req *r, struct auth *out);

/* Frees the view and wipes the token. Safe on a zeroed struct. */
void auth_release(struct auth *au);

#endif
