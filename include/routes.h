/* The route handlers (app/routes_*.c) and the helpers they share. */
#ifndef SESSIOND_ROUTES_H
#define SESSIOND_ROUTES_H

#include <stddef.h>

#include "ctx.h"
#include "http.h"
#include "jsonx.h"

/* Route handlers. */
void route_health(struct app *a, struct req *r, const char *arg);
void route_metrics(struct app *a, struct req *r, const char *arg);
void route_create(struct app *a, struct req *r, const char *arg);
void route_current_get(struct app *a, struct req *r, const char *arg);
void route_current_patch(struct app *a, struct req *r, const char *arg);
void route_current_delete(struct app *a, struct req *r, const char *arg);
void route_refresh(struct app *a, struct req *r, const char *arg);
void route_list(struct app *a, struct req *r, const char *arg);
void route_revoke_one(struct app *a, struct req *r, const char *id);
void route_invalidate_all(struct app *a, struct req *r, const char *arg);
void route_internal_user(struct app *a, struct req *r, const char *user_id);
void route_auth(struct app *a, struct req *r, const char *arg);

/* Sends b as the JSON body with status. */
void route_send_buf(struct req *r, int status, struct jsonx_buf *b);

/* 400 with code and "field: what". */
void route_bad_field(struct req *r, const char *code, const char *field, const char *what);

/* 1 for a non-empty printable-ASCII string of at most max bytes, without spaces or quotes. */
int route_plain_string(const char *s, size_t max);

/* Expires the session cookie (Set-Cookie with Max-Age=0). */
void route_clear_cookie(struct app *a, struct req *r);

#endif
