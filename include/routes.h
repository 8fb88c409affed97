/* Helpers shared by the route handlers (app/routes_*.c). */
#ifndef SESSIOND_ROUTES_H
#define SESSIOND_ROUTES_H

#include <stddef.h>

#include "app.h"
#include "jsonx.h"

/* Sends b as the JSON body with status. */
void route_send_buf(struct req *r, int status, struct jsonx_buf *b);

/* 400 with code and "field: what". */
void route_bad_field(struct req *r, const char *code, const char *field, const char *what);

/* 1 for a non-empty printable-ASCII string of at most max bytes, without spaces or quotes. */
int route_plain_string(const char *s, size_t max);

/* Expires the session cookie (Set-Cookie with Max-Age=0). */
void route_clear_cookie(struct app *a, struct req *r);

#endif
