/* One worker's request handling: parse, dispatch, log. */
#include "app.h"

#include <stdio.h>
#include <string.h>

#include "jwtv.h"
#include "lcache.h"
#include "log.h"
#include "metrics.h"
#include "router.h"
#include "sessions.h"
#include "token.h"

#include <openssl/crypto.h>

/* (Re)builds the JWT verifier from the JWKS file. Keeps the old one when the new file is unusable. */
static void load_jwks(struct app *a)
{
	struct jwtv_options o = {
		.jwks_file = a->cfg->jwks_file,
		.issuer = a->cfg->jwt_issuer,
		.audience = a->cfg->jwt_audience,
		.algorithms = a->cfg->jwt_algorithms,
		.leeway = a->cfg->jwt_leeway,
		.claim_email = a->cfg->claim_email,
		.claim_name = a->cfg->claim_name,
		.claim_picture = a->cfg->claim_picture,
		.claim_tenant_id = a->cfg->claim_tenant_id,
		.claim_tenant_name = a->cfg->claim_tenant_name,
	};
	char err[256], q[300];
	struct jwtv *v = jwtv_new(&o, err, sizeof(err));

	if (v == NULL) {
		log_error("event=jwks_load_failed file=%s error=%s", a->cfg->jwks_file, log_quote(err, q, sizeof(q)));
		return;
	}
	if (a->jwt)
		jwtv_free(a->jwt);
	a->jwt = v;
	log_debug("event=jwks_loaded keys=%zu", jwtv_key_count(v));
}

/* Reads service_key_file (trailing whitespace ignored) and keeps only its hash. */
static void load_service_key(struct app *a)
{
	char buf[1024];
	size_t n;
	FILE *f;

	a->have_service_key = 0;
	if (a->cfg->service_key_file[0] == '\0')
		return;
	f = fopen(a->cfg->service_key_file, "r");
	if (f == NULL) {
		log_error("event=service_key_unreadable file=%s", a->cfg->service_key_file);
		return;
	}
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r' || buf[n - 1] == ' ' || buf[n - 1] == '\t'))
		n--;
	if (n < 16) {
		log_error("event=service_key_too_short file=%s min_bytes=16", a->cfg->service_key_file);
	} else {
		token_hash(buf, n, a->service_key_hash);
		a->have_service_key = 1;
	}
	OPENSSL_cleanse(buf, sizeof(buf));
}

int app_worker_init(struct app *a, struct cfg *c)
{
	memset(a, 0, sizeof(*a));
	a->cfg = c;
	store_init(&a->store, c);
	load_jwks(a);
	load_service_key(a);
	/* Connect now so the first request does not pay for it; failure is not fatal. */
	(void)store_ensure(&a->store);
	a->next_flush = time(NULL) + c->activity_flush_interval;
	metrics_worker_start();
	return 0;
}

void app_tick(struct app *a)
{
	char err[256], q[300];
	time_t now = time(NULL);

	if (a->jwt == NULL) {
		load_jwks(a);
	} else if (jwtv_refresh(a->jwt, err, sizeof(err)) < 0) {
		/* jwtv keeps the old keys and reports a broken file once per change. */
		log_warn("event=jwks_reload_failed error=%s", log_quote(err, q, sizeof(q)));
	}
	if (now >= a->next_flush) {
		long n = 0;

		a->next_flush = now + a->cfg->activity_flush_interval;
		if (sess_flush_activity(&a->store, &n) == STORE_OK && n > 0)
			log_debug("event=activity_flushed sessions=%ld", n);
		sess_collect_invalidations(&a->store, lcache_clock_ms());
	}
	metrics_tick(&a->store, a->cfg);
}

void app_reload(struct app *a)
{
	log_info("event=reload");
	load_jwks(a);
	load_service_key(a);
}

int app_handle(struct app *a, FCGX_Request *f)
{
	struct req r;
	int drained;
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
	metrics_request(r.route, r.status, ms / 1e3);
	log_set_request(NULL);
	/* Nothing left to read: no body, or all of it was read. */
	drained = r.content_length <= 0 || r.body_len == (size_t)r.content_length;
	http_req_free(&r);
	return drained;
}

void app_worker_free(struct app *a)
{
	store_close(&a->store);
	if (a->jwt)
		jwtv_free(a->jwt);
	a->jwt = NULL;
}
