/*
 * The request layer of one worker: its state's life cycle (init, tick,
 * reload, free) and one request end to end (client address, route, guard,
 * body, handler, log, metrics).
 */
#ifndef SESSIOND_APP_H
#define SESSIOND_APP_H

#include <stdio.h>

#include <fcgiapp.h>

#include "ctx.h"

/*
 * --check-config: loads the keys a worker loads (the JWKS, the service key)
 * the way it loads them, and writes what it found (key counts, never a key)
 * to out, problems to errout. Returns 0 when all are usable, -1 otherwise.
 */
int app_check_keys(const struct cfg *c, FILE *out, FILE *errout);

/* Sets up the per-worker state after fork. Returns 0. */
int app_worker_init(struct app *a, struct cfg *c);

/* Per-worker periodic work, about once a second: JWKS change check, activity flush, metrics heartbeat and gauge sampling. */
void app_tick(struct app *a);

/* SIGHUP: re-reads the JWKS and the service key file. */
void app_reload(struct app *a);

/* Serves one request completely. Returns 1 when its input was fully read (the connection may be closed at once). */
int app_handle(struct app *a, FCGX_Request *f);

/* Releases the per-worker state. */
void app_worker_free(struct app *a);

#endif
