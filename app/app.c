/* One worker's request handling: parse, dispatch, log. */
#include "app.h"

#include <stdio.h>
#include <string.h>

#include "log.h"
#include "router.h"

int app_worker_init(struct app *a, struct cfg *c)
{
	memset(a, 0, sizeof(*a));
	a->cfg = c;
	store_init(&a->store, c);
	/* Connect now so the first request does not pay for it; failure is not fatal. */
	(void)store_ensure(&a->store);
	return 0;
}

void app_tick(struct app *a)
{
	(void)a;
}

void app_reload(struct app *a)
{
	(void)a;
	log_info("event=reload");
}

void app_handle(struct app *a, FCGX_Request *f)
{
	struct req r;
	struct timespec end;
	double ms;

	http_req_init(&r, f);
	log_set_request(r.id);
	router_dispatch(a, &r);
	if (!r.responded)
		http_error(&r, ERR_INTERNAL, "internal_error", "no response");
	clock_gettime(CLOCK_MONOTONIC, &end);
	ms = (double)(end.tv_sec - r.started.tv_sec) * 1e3 + (double)(end.tv_nsec - r.started.tv_nsec) / 1e6;
	log_msg(r.status >= 500 ? LOGL_WARN : LOGL_INFO, "event=request method=%s route=%s status=%d dur_ms=%.3f",
		r.method, r.route ? r.route : "none", r.status, ms);
	log_set_request(NULL);
	http_req_free(&r);
}

void app_worker_free(struct app *a)
{
	store_close(&a->store);
}
