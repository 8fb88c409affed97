/* What one worker holds: configuration, its store connection, its JWT verifier. */
#ifndef SESSIOND_APP_H
#define SESSIOND_APP_H

#include <stdio.h>
#include <time.h>

#include "config.h"
#include "http.h"
#include "store.h"

struct jwtv;

struct app {
	struct cfg *cfg;
	struct store store;
	struct jwtv *jwt;         /* NULL while the JWKS cannot be loaded: create answers 503 */
	time_t next_flush;
	int have_service_key;     /* service_key_file was read */
	unsigned char service_key_hash[32];        /* next copy of cached last_activity into sessions */
};

/*
 * --check-config: loads the keys a worker loads (the JWKS, the service key)
 * the way it loads them, and writes what it found (key counts, never a key)
 * to out, problems to errout. Returns 0 when all are usable, -1 otherwise.
 */
int app_check_keys(const struct cfg *c, FILE *out, FILE *errout);

/* Sets up the per-worker state after fork. Returns 0. */
int app_worker_init(struct app *a, struct cfg *c);

/* Per-worker periodic work (JWKS change check); called about once a second. */
void app_tick(struct app *a);

/* SIGHUP: re-read the JWKS. */
void app_reload(struct app *a);

/* Serves one request completely. Returns 1 when its input was fully read (the connection may be closed at once). */
int app_handle(struct app *a, FCGX_Request *f);

/* Releases the per-worker state. */
void app_worker_free(struct app *a);

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

#endif
