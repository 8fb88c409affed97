/*
 * The worker's key set: the JWT verifier built from the key file (jwks_file,
 * or the fetcher's jwks_cache_file), rebuilt when the file changes. Used by
 * the worker loop (app.c) and by create when a token names an unknown kid.
 */
#include "keyset.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "jwks_fetch.h"
#include "jwtv.h"
#include "log.h"
#include "metrics.h"

/* Publishes the key set in use to the metrics; in file mode logs its kids when they change. */
static void keys_loaded(struct app *a)
{
	static char last_kids[512];
	const struct jwks_info *info = jwtv_info(a->jwt);
	char q[600];

	metrics_jwks_keys(jwtv_key_count(a->jwt), (int64_t)jwtv_loaded_mtime(a->jwt));
	if (info == NULL || strcmp(info->kids, last_kids) == 0)
		return;
	snprintf(last_kids, sizeof(last_kids), "%s", info->kids);
	/* In URL mode the fetcher logs each new key set once per host. */
	log_msg(jwks_url_mode(a->cfg) ? LOGL_DEBUG : LOGL_INFO, "event=jwks_keys file=%s keys=%zu kids=%s",
		jwks_key_file(a->cfg), info->nkeys, log_quote(info->kids, q, sizeof(q)));
	if (info->nskipped > 0 && !jwks_url_mode(a->cfg))
		log_warn("event=jwks_keys_skipped file=%s skipped=%zu keys=%s", jwks_key_file(a->cfg),
			 info->nskipped, log_quote(info->skipped, q, sizeof(q)));
}

/* (Re)builds the JWT verifier from the key file. Keeps the old one when the new file is unusable. */
void keyset_options(const struct cfg *c, struct jwtv_options *o)
{
	memset(o, 0, sizeof(*o));
	o->jwks_file = jwks_key_file(c);
	o->issuer = c->jwt_issuer;
	o->audience = c->jwt_audience;
	o->algorithms = c->jwt_algorithms;
	o->leeway = c->jwt_leeway;
	o->claim_email = c->claim_email;
	o->claim_name = c->claim_name;
	o->claim_picture = c->claim_picture;
	o->claim_tenant_id = c->claim_tenant_id;
	o->claim_tenant_name = c->claim_tenant_name;
	o->claim_sid = c->claim_sid;
}

void keyset_load(struct app *a)
{
	static char last_err[256];
	struct jwtv_options o;
	char err[256], q[300];
	struct jwtv *v;

	keyset_options(a->cfg, &o);
	v = jwtv_new(&o, err, sizeof(err));

	if (v == NULL) {
		/* Retried every second: the same failure is logged once (in URL mode, until the first fetch). */
		if (strcmp(err, last_err) != 0)
			log_error("event=jwks_load_failed file=%s error=%s", jwks_key_file(a->cfg),
				  log_quote(err, q, sizeof(q)));
		snprintf(last_err, sizeof(last_err), "%s", err);
		return;
	}
	last_err[0] = '\0';
	if (a->jwt)
		jwtv_free(a->jwt);
	a->jwt = v;
	log_debug("event=jwks_loaded keys=%zu", jwtv_key_count(v));
	keys_loaded(a);
}

void keyset_refresh(struct app *a)
{
	char err[256], q[300];
	int r;

	if (a->jwt == NULL) {
		keyset_load(a);
		return;
	}
	r = jwtv_refresh(a->jwt, err, sizeof(err));
	if (r < 0)	/* jwtv keeps the old keys and reports a broken file once per change. */
		log_warn("event=jwks_reload_failed error=%s", log_quote(err, q, sizeof(q)));
	else if (r > 0)
		keys_loaded(a);
}
