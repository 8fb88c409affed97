/* One worker's state and request handling: parse, route, guard, dispatch, log. */
#include "app.h"

#include <stdint.h>

#include <stdio.h>
#include <string.h>

#include "credentials.h"
#include "clientaddr.h"
#include "cors.h"
#include "guard.h"
#include "jwks_fetch.h"
#include "jwks_fetcher.h"
#include "jwks_report.h"
#include "jwtv.h"
#include "keyset.h"
#include "lcache.h"
#include "log.h"
#include "metrics.h"
#include "router.h"
#include "sessions.h"
#include "token.h"

#include <openssl/crypto.h>

#define SERVICE_KEY_MIN 16

/*
 * Reads service_key_file into buf (trailing whitespace dropped). Returns its
 * length, or -1 with *why set ("unreadable", "too_short"). The caller
 * cleanses buf.
 */
static long read_service_key(const struct cfg *c, char *buf, size_t cap, const char **why)
{
	size_t n;
	FILE *f = fopen(c->service_key_file, "r");

	if (f == NULL) {
		*why = "unreadable";
		return -1;
	}
	n = fread(buf, 1, cap - 1, f);
	fclose(f);
	while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r' || buf[n - 1] == ' ' || buf[n - 1] == '\t'))
		n--;
	if (n < SERVICE_KEY_MIN) {
		*why = "too_short";
		return -1;
	}
	return (long)n;
}

/* Reads service_key_file and keeps only its hash. */
static void load_service_key(struct app *a)
{
	char buf[1024];
	const char *why = "";
	long n;

	a->have_service_key = 0;
	if (a->cfg->service_key_file[0] == '\0')
		return;
	n = read_service_key(a->cfg, buf, sizeof(buf), &why);
	if (n < 0) {
		log_error("event=service_key_%s file=%s min_bytes=%d", why, a->cfg->service_key_file, SERVICE_KEY_MIN);
	} else {
		token_hash(buf, (size_t)n, a->service_key_hash);
		a->have_service_key = 1;
	}
	OPENSSL_cleanse(buf, sizeof(buf));
}

int app_check_keys(const struct cfg *c, FILE *out, FILE *errout)
{
	struct jwtv_options o;
	char err[256], buf[1024];
	const char *why = "";
	struct jwtv *v;
	long n;
	int rc = 0;

	if (jwks_url_mode(c)) {
		/* Fetched (not installed) or from the cached copy; none is not an error: sessiond starts and fetches. */
		jwks_check(c, out);
	} else if ((v = (keyset_options(c, &o), jwtv_new(&o, err, sizeof(err)))) == NULL) {
		fprintf(errout, "sessiond: cannot load the JWKS: %s\n", err);
		rc = -1;
	} else {
		jwks_report_info(out, c->jwks_file, jwtv_info(v));
		jwtv_free(v);
	}
	if (c->service_key_file[0] == '\0') {
		fputs("service key: none (the internal route is disabled)\n", out);
	} else if ((n = read_service_key(c, buf, sizeof(buf), &why)) < 0) {
		fprintf(errout, "sessiond: service_key_file %s: %s\n", c->service_key_file,
			strcmp(why, "too_short") == 0 ? "shorter than 16 bytes" : "cannot be read");
		rc = -1;
	} else {
		/* The length only: never the key. */
		fprintf(out, "service key: %ld bytes from %s\n", n, c->service_key_file);
	}
	OPENSSL_cleanse(buf, sizeof(buf));
	return rc;
}

int app_worker_init(struct app *a, struct cfg *c)
{
	memset(a, 0, sizeof(*a));
	a->cfg = c;
	store_init(&a->store, c);
	jwks_tick(c);	/* workers = 1 in URL mode: fetch before serving */
	keyset_load(a);
	load_service_key(a);
	/* Connect now so the first request does not pay for it; failure is not fatal. */
	(void)store_ensure(&a->store);
	a->next_flush = time(NULL) + c->activity_flush_interval;
	metrics_worker_start();
	return 0;
}

void app_tick(struct app *a)
{
	time_t now = time(NULL);

	jwks_tick(a->cfg);
	keyset_refresh(a);
	auth_audit_flush(a, now);
	if (now >= a->next_flush) {
		long n = 0;

		a->next_flush = now + a->cfg->activity_flush_interval;
		if (sess_flush_activity(&a->store, &n) == STORE_OK && n > 0)
			log_debug("event=activity_flushed sessions=%ld", n);
		sess_collect_invalidations(&a->store, lcache_clock_ms());
	}
	if (metrics_tick(a->cfg->metrics_sample_interval)) {
		uint64_t g[MG_COUNT];

		if (sess_sample_gauges(&a->store, g, MG_COUNT) == STORE_OK) {
			metrics_set_gauges(g);
		} else {
			metrics_set_gauges(NULL);
			log_warn("event=metrics_sample_failed");
		}
	}
}

void app_reload(struct app *a)
{
	jwks_hup(a->cfg);
	jwks_tick(a->cfg);
	keyset_load(a);
	load_service_key(a);
	/* Logged once everything is re-read: a test waits for this line. */
	log_info("event=reload");
}

/* 429 while the client address is over the failed-authentication limit. */
static int guard_refuses(struct app *a, struct req *r)
{
	char secs[24];
	long left = guard_blocked(&r->client.key, a->cfg->auth_fail_limit, a->cfg->auth_fail_window, time(NULL));

	if (left <= 0)
		return 0;
	snprintf(secs, sizeof(secs), "%ld", left);
	http_add_header(r, "Retry-After", secs);
	if (strcmp(r->route, "auth") == 0)
		r->bodyless = 1;
	http_error(r, ERR_RATE_LIMITED, "too_many_failures", "too many failed authentications, retry later");
	return 1;
}

/* Routes r to its handler, after the brute-force guard and reading the body; answers 404/405 itself. */
static void dispatch(struct app *a, struct req *r)
{
	struct route_match m;
	const struct route *rt = router_match(r->method, r->path, &m);

	if (rt == NULL) {
		if (m.allow[0] && strcmp(r->method, "OPTIONS") == 0) {
			/* OPTIONS on any route: its methods, and the CORS preflight answer for a listed origin. */
			r->route = "preflight";
			cors_preflight(a->cfg, r, m.allow);
		} else if (m.allow[0]) {
			r->route = "method_not_allowed";
			http_add_header(r, "Allow", m.allow);
			http_error(r, ERR_METHOD, "method_not_allowed", "method not allowed on this route");
		} else {
			r->route = "not_found";
			http_error(r, ERR_NOT_FOUND, "not_found", "no such route");
		}
		return;
	}
	r->route = rt->name;
	if (rt->guarded && guard_refuses(a, r))
		return;
	if (http_read_body(r, a->cfg->max_body_bytes, rt->any_body) != 0)
		return;
	rt->fn(a, r, m.arg);
}

int app_handle(struct app *a, FCGX_Request *f)
{
	struct req r;
	int drained;
	struct timespec end;
	double ms;

	http_req_init(&r, f);
	r.client_addr = clientaddr_resolve(r.remote_addr, r.forwarded_for, a->cfg->trusted_proxies,
					   (int)a->cfg->auth_fail_ipv6_prefix, &r.client) == 0 ? r.client.text : NULL;
	log_set_request(r.id);
	/* Added first, so every answer (errors too) is readable by a listed origin. */
	cors_response(a->cfg, &r);
	dispatch(a, &r);
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
