/* Route table: method + path pattern → handler. */
#ifndef SESSIOND_ROUTER_H
#define SESSIOND_ROUTER_H

#include <stddef.h>

#include "http.h"

struct app;

typedef void (*route_fn)(struct app *app, struct req *r, const char *arg);

/*
 * Dispatches r: finds the route for its path and method, and calls its
 * handler with the decoded {param} of the path (or NULL). Sends 404 or 405
 * (with Allow) itself when nothing matches, and answers OPTIONS on any route
 * (cors_preflight).
 */
void router_dispatch(struct app *app, struct req *r);

/*
 * The name of route i of the table, then of the pseudo-routes the router sets
 * itself ("method_not_allowed", "not_found"); NULL past the end. The fixed
 * set of route labels for logs and metrics.
 */
const char *router_route_name(size_t i);

#endif
