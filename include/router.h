/* Route table: method + path pattern → handler. */
#ifndef SESSIOND_ROUTER_H
#define SESSIOND_ROUTER_H

#include "http.h"

struct app;

typedef void (*route_fn)(struct app *app, struct req *r, const char *arg);

/*
 * Dispatches r: finds the route for its path and method, and calls its
 * handler with the decoded {param} of the path (or NULL). Sends 404 or 405
 * (with Allow) itself when nothing matches.
 */
void router_dispatch(struct app *app, struct req *r);

#endif
