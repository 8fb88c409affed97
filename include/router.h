/* The route table: method + path pattern → handler. Matches; calls nothing. */
#ifndef SESSIOND_ROUTER_H
#define SESSIOND_ROUTER_H

#include <stddef.h>

#include "http.h"

struct app;

typedef void (*route_fn)(struct app *app, struct req *r, const char *arg);

struct route {
	const char *method;
	const char *pattern;    /* "{}" matches one path segment, "{uuid}" one that is a UUID */
	const char *name;       /* for logs and metrics */
	route_fn fn;
	int guarded;            /* authenticates: subject to the brute-force guard */
	int exact;              /* only the pattern itself, trailing slash included: the path a site restricts */
	int any_body;           /* the body is read whatever its type; the handler checks it (a form) */
};

#define ROUTER_ARG_MAX 256   /* largest decoded {param}, NUL included */
#define ROUTER_ALLOW_MAX 64  /* the Allow header's value */

struct route_match {
	const struct route *route;   /* NULL when nothing matched both path and method */
	const char *arg;             /* the decoded {param} (in argbuf), or NULL */
	char argbuf[ROUTER_ARG_MAX];
	char allow[ROUTER_ALLOW_MAX]; /* without a route: the methods the path has ("" = no such path) */
};

/*
 * Finds the route of method and path. Literal routes win over patterns, so
 * /current/ never falls to /{uuid}/. A route's trailing slash is optional,
 * except on an exact route (metrics: the sites restrict exactly that path). A {uuid} argument is returned in lower
 * case, so ids compare equal however the client spelled them. Returns
 * m->route, or NULL with m->allow naming the path's methods (405) or empty (404).
 */
const struct route *router_match(const char *method, const char *path, struct route_match *m);

/*
 * Matches path against one pattern; a trailing slash is optional. A "{}"
 * segment is percent-decoded into arg (cap bytes); a malformed escape or a
 * decoded NUL fails the match. Returns 1 on a match. (For unit tests and router_match.)
 */
int router_match_pattern(const char *pattern, const char *path, char *arg, size_t cap);

/*
 * The name of route i of the table, then of the pseudo-routes the request
 * layer sets ("method_not_allowed", "not_found", "preflight"); NULL past the end. The
 * fixed set of route labels for logs and metrics.
 */
const char *router_route_name(size_t i);

#endif
