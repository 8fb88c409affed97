/*
 * Session routes: create (from an Auth0 access token), current (GET, PATCH,
 * DELETE) and refresh. Each handler parses and validates, authenticates,
 * calls one store function and renders.
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "auth.h"
#include "authhdr.h"
#include "jwks_fetch.h"
#include "jwks_fetcher.h"
#include "jwtv.h"
#include "keyset.h"
#include "log.h"
#include "metrics.h"
#include "routes.h"
#include "session_view.h"
#include "sessions.h"

#include <openssl/crypto.h>

#define STEP_MAX 64
#define BILLING_MAX 64

/* ---- small helpers ------------------------------------------------------------ */

static void set_session_cookie(struct app *a, struct req *r, const char *token, long max_age)
{
	char v[512];
	const struct cfg *c = a->cfg;

	snprintf(v, sizeof(v), "%s=%s; Path=/; Max-Age=%ld; HttpOnly%s; SameSite=%s%s%s", c->cookie_name,
		 token, max_age, c->cookie_secure ? "; Secure" : "", c->cookie_samesite,
		 c->cookie_domain[0] ? "; Domain=" : "", c->cookie_domain);
	http_add_header(r, "Set-Cookie", v);
}

static long seconds_left(const struct session *s)
{
	const char *e = sess_get(s, SC_EXPIRES_EPOCH);
	long left = e ? strtol(e, NULL, 10) - (long)time(NULL) : 0;

	return left > 0 ? left : 0;
}

/* Issues a token: fills tok and hash. -1 (after a 500) if the CSPRNG fails. */
static int new_token(struct req *r, char *tok, unsigned char *hash)
{
	if (token_generate(tok) != 0) {
		log_error("event=rng_failed");
		http_error(r, ERR_INTERNAL, "internal_error", "internal error");
		return -1;
	}
	token_hash(tok, TOKEN_LEN, hash);
	return 0;
}

static void add_csrf_header(struct req *r, const char *token)
{
	char csrf[TOKEN_LEN + 1];

	auth_csrf_token(token, csrf);
	http_add_header(r, "X-CSRF-Token", csrf);
}

/* ---- body validation ------------------------------------------------------------ */

struct fields {
	int needs_onboarding, onboarding_completed;   /* -1 absent */
	int step_set;
	const char *step;
	const char *session_type;
	struct json_object *session_data;             /* borrowed from the body */
	const char *plan, *status;                    /* NULL absent */
};

static int get_bool(struct req *r, const char *key, struct json_object *v, int *out)
{
	if (!json_object_is_type(v, json_type_boolean)) {
		route_bad_field(r, "invalid_field", key, "must be true or false");
		return -1;
	}
	*out = json_object_get_boolean(v);
	return 0;
}

/*
 * Reads the client-writable fields of body. allow_type: session_type is
 * accepted (create only). Unknown and read-only fields are 400.
 */
static int read_fields(struct req *r, struct json_object *body, int allow_type, struct fields *f)
{
	memset(f, 0, sizeof(*f));
	f->needs_onboarding = f->onboarding_completed = -1;
	json_object_object_foreach(body, key, v)
	{
		if (strcmp(key, "needs_onboarding") == 0) {
			if (get_bool(r, key, v, &f->needs_onboarding))
				return -1;
		} else if (strcmp(key, "onboarding_completed") == 0) {
			if (get_bool(r, key, v, &f->onboarding_completed))
				return -1;
		} else if (strcmp(key, "onboarding_step") == 0) {
			f->step_set = 1;
			if (v == NULL) {
				f->step = NULL;
			} else if (!json_object_is_type(v, json_type_string) ||
				   !route_plain_string(json_object_get_string(v), STEP_MAX)) {
				route_bad_field(r, "invalid_field", key, "must be a short string without spaces, or null");
				return -1;
			} else {
				f->step = json_object_get_string(v);
			}
		} else if (strcmp(key, "session_data") == 0) {
			if (!json_object_is_type(v, json_type_object)) {
				route_bad_field(r, "invalid_field", key, "must be an object");
				return -1;
			}
			f->session_data = v;
		} else if (strcmp(key, "subscription_plan") == 0 || strcmp(key, "subscription_status") == 0) {
			if (!json_object_is_type(v, json_type_string) ||
			    !route_plain_string(json_object_get_string(v), BILLING_MAX)) {
				route_bad_field(r, "invalid_field", key, "must be a short string without spaces");
				return -1;
			}
			if (key[13] == 'p')
				f->plan = json_object_get_string(v);
			else
				f->status = json_object_get_string(v);
		} else if (allow_type && strcmp(key, "session_type") == 0) {
			const char *t = json_object_is_type(v, json_type_string) ? json_object_get_string(v) : "";

			if (strcmp(t, "web") && strcmp(t, "mobile") && strcmp(t, "api")) {
				route_bad_field(r, "invalid_field", key, "must be one of web, mobile, api");
				return -1;
			}
			f->session_type = t;
		} else {
			static const char *read_only[] = { "id", "user", "tenant", "session_type", "is_active",
							   "is_expired", "created_at", "updated_at",
							   "last_activity", "expires_at", "version" };

			for (size_t i = 0; i < sizeof(read_only) / sizeof(read_only[0]); i++)
				if (strcmp(key, read_only[i]) == 0) {
					route_bad_field(r, "read_only_field", key, "cannot be set by clients");
					return -1;
				}
			route_bad_field(r, "unknown_field", key, "unknown field");
			return -1;
		}
	}
	return 0;
}

/* ---- POST /api/sessions/create/ ----------------------------------------------------- */

/*
 * What a handler built toward its answer (a new token, NULL when none; the
 * body read; the store row; the rendering), wiped and freed on every path.
 */
static void release_answer(char tok[TOKEN_LEN + 1], struct jsonx_buf *b, struct session *s, struct json_object *body)
{
	if (tok)
		OPENSSL_cleanse(tok, TOKEN_LEN + 1);
	jsonx_buf_free(b);
	sess_release(s);
	if (body)
		json_object_put(body);
}

int route_load_verifier(struct app *a, struct req *r)
{
	/*
	 * app_tick retries loading the JWKS every second; no reload per request,
	 * except that in URL mode a create without keys asks the fetcher first.
	 */
	if (a->jwt == NULL)
		keyset_refresh(a);	/* the fetcher may have installed keys since the last tick */
	if (a->jwt == NULL && jwks_kid_miss(a->cfg))
		keyset_refresh(a);
	if (a->jwt == NULL) {
		http_error(r, ERR_UNAVAILABLE, "auth_unavailable", "token verification keys are not available");
		return -1;
	}
	return 0;
}

enum jwtv_err route_verify_jwt(struct app *a, route_verify_fn *verify, const char *jwt, size_t len, void *out)
{
	enum jwtv_err jerr = verify(a->jwt, jwt, len, time(NULL), out);

	if (jerr == JWTV_UNKNOWN_KID && jwks_url_mode(a->cfg)) {
		/*
		 * Perhaps a key rotation: first the key file another request may
		 * have had fetched already (a stat), then a fetch of the issuer's
		 * JWKS, waited for briefly, so the first login with a new key succeeds.
		 */
		keyset_refresh(a);
		jerr = verify(a->jwt, jwt, len, time(NULL), out);
		if (jerr == JWTV_UNKNOWN_KID && jwks_kid_miss(a->cfg)) {
			keyset_refresh(a);
			jerr = verify(a->jwt, jwt, len, time(NULL), out);
		}
	}
	return jerr;
}

static enum jwtv_err verify_access(struct jwtv *v, const char *jwt, size_t len, time_t now, void *out)
{
	return jwtv_verify(v, jwt, len, now, out);
}

void route_create(struct app *a, struct req *r, const char *arg)
{
	const char *jwt;
	size_t jwt_len;
	struct jwtv_identity id;
	enum jwtv_err jerr;
	struct json_object *body = NULL;
	struct fields f;
	struct sess_new n;
	struct session s = { 0 };
	char tok[TOKEN_LEN + 1], msg[400];
	unsigned char hash[TOKEN_HASH_LEN];
	struct jsonx_buf b = { 0 };
	enum store_err err;
	const char *data_text = NULL;

	(void)arg;
	memset(&id, 0, sizeof(id));
	if (!authhdr_param(r->authorization, "Bearer", &jwt, &jwt_len)) {
		auth_reject(a, r, "Bearer", "missing_credentials", "an Auth0 access token is required (Authorization: Bearer)",
			    AR_MISSING_BEARER);
		return;
	}
	if (route_load_verifier(a, r) != 0)
		return;
	jerr = route_verify_jwt(a, verify_access, jwt, jwt_len, &id);
	if (jerr == JWTV_NOT_JWS) {
		snprintf(msg, sizeof(msg), "the bearer token is not a signed JWT; request an access token for the API audience %s",
			 a->cfg->jwt_audience);
		auth_reject(a, r, "Bearer error=\"invalid_token\"", "token_not_jws", msg, jwtv_auth_reason(jerr));
		goto out;
	}
	if (jerr != JWTV_OK) {
		if (jerr == JWTV_BAD_CLAIM)
			snprintf(msg, sizeof(msg), "the access token was rejected (bad_claim: %.48s is too long or holds "
				 "characters it may not)", id.bad_claim);
		else
			snprintf(msg, sizeof(msg), "the access token was rejected (%s)", jwtv_reason(jerr));
		auth_reject(a, r, "Bearer error=\"invalid_token\"", "invalid_token", msg, jwtv_auth_reason(jerr));
		goto out;
	}
	body = http_body_object(r);
	if (body == NULL || read_fields(r, body, 1, &f) != 0)
		goto out;
	/* Measured by the store, as a PATCH's merged value is (sql/013: sessiond_data_size). */
	if (f.session_data)
		data_text = json_object_to_json_string_ext(f.session_data, JSON_C_TO_STRING_PLAIN);
	if (new_token(r, tok, hash) != 0)
		goto out;
	memset(&n, 0, sizeof(n));
	n.hash = hash;
	n.user_id = id.sub;
	n.email = id.email;
	n.name = id.name;
	n.picture = id.picture;
	n.tenant_id = id.tenant_id;
	n.tenant_name = id.tenant_name;
	n.needs_onboarding = f.needs_onboarding < 0 ? 1 : f.needs_onboarding;
	n.onboarding_completed = f.onboarding_completed < 0 ? 0 : f.onboarding_completed;
	n.onboarding_step = f.step;
	/* Billing from the body only when the operator allows it; otherwise ignored (legacy frontends send "free"). */
	n.plan = a->cfg->client_writable_billing ? f.plan : NULL;
	n.status = a->cfg->client_writable_billing ? f.status : NULL;
	n.session_data = data_text;
	n.session_type = f.session_type;
	n.ttl = a->cfg->session_ttl;
	n.ip = r->client_addr;
	n.user_agent = r->user_agent;
	n.max_per_user = a->cfg->max_sessions_per_user;
	n.max_data = a->cfg->max_session_data_bytes;
	n.idp_sid = id.sid;
	err = sess_create(&a->store, &n, &s);
	if (err != STORE_OK) {
		route_store_error(a, r, err);
		goto out;
	}
	log_info("event=session_created session=%s", sess_get(&s, SC_ID));
	metrics_add(MC_SESSIONS_CREATED, 1);
	if (a->cfg->set_cookie)
		set_session_cookie(a, r, tok, seconds_left(&s));
	add_csrf_header(r, tok);
	jsonx_buf_lit(&b, "{\"session_token\":");
	jsonx_buf_str(&b, tok);
	jsonx_buf_lit(&b, ",\"expires_at\":");
	jsonx_buf_str(&b, sess_get(&s, SC_EXPIRES_AT));
	jsonx_buf_lit(&b, ",\"session\":");
	sess_render(&s, &b, 0, -1);
	jsonx_buf_lit(&b, "}");
	route_send_buf(r, 201, &b);
out:
	release_answer(tok, &b, &s, body);
	jwtv_identity_free(&id);
}

/* ---- /api/sessions/current/ ------------------------------------------------------------ */

void route_current_get(struct app *a, struct req *r, const char *arg)
{
	struct auth au;

	(void)arg;
	if (auth_session_read(a, r, &au) != 0)
		return;
	if (au.cred.by_cookie)
		add_csrf_header(r, au.cred.token);
	http_send_raw(r, 200, "application/json; charset=utf-8", au.view.json, au.view.json_len);
	auth_release(&au);
}

int route_if_match(const char *h, char *buf, size_t n, const char **version)
{
	size_t len, i = 0;

	*version = NULL;
	if (h == NULL)
		return 0;
	while (*h == ' ')
		h++;
	if (strcmp(h, "*") == 0)
		return 0;
	if (strncmp(h, "W/", 2) == 0)
		h += 2;
	if (*h == '"')
		h++;
	len = strspn(h, "0123456789");
	if (len == 0 || len >= n || len > 18)
		return -1;
	memcpy(buf, h, len);
	buf[len] = '\0';
	h += len;
	if (*h == '"')
		h++;
	while (*h == ' ')
		h++;
	if (*h != '\0')
		return -1;
	for (i = 0; buf[i] == '0' && buf[i + 1]; i++)
		;
	*version = buf + i;
	return 0;
}

void route_current_patch(struct app *a, struct req *r, const char *arg)
{
	struct credential cred;
	struct json_object *body = NULL;
	struct fields f;
	struct sess_patch p;
	struct session s = { 0 };
	struct jsonx_buf b = { 0 };
	char vbuf[24], etag[32];
	enum store_err err;

	(void)arg;
	/* The write authenticates the token itself: no read first (sql/013). */
	if (auth_write_credential(a, r, &cred) != 0)
		return;
	memset(&p, 0, sizeof(p));
	if (route_if_match(r->if_match, vbuf, sizeof(vbuf), &p.version) != 0) {
		http_error(r, ERR_BAD_REQUEST, "invalid_if_match", "If-Match must be a quoted version, e.g. \"3\"");
		goto out;
	}
	body = http_body_object(r);
	if (body == NULL || read_fields(r, body, 0, &f) != 0)
		goto out;
	p.needs_onboarding = f.needs_onboarding;
	p.onboarding_completed = f.onboarding_completed;
	p.step_set = f.step_set;
	p.step = f.step;
	p.data_patch = f.session_data ? json_object_to_json_string_ext(f.session_data, JSON_C_TO_STRING_PLAIN) : NULL;
	/*
	 * Server-owned fields: changing them needs client_writable_billing;
	 * otherwise a value sent must equal the stored one, checked in the write.
	 */
	if (a->cfg->client_writable_billing) {
		p.plan = f.plan;
		p.status = f.status;
	} else {
		p.owned_plan = f.plan;
		p.owned_status = f.status;
	}
	p.max_data = a->cfg->max_session_data_bytes;
	p.ip = r->client_addr;
	p.hash = cred.hash;
	p.idle_timeout = a->cfg->idle_timeout;
	err = sess_patch(&a->store, &p, &s);
	/* The version now stored, on success and on a conflict alike. */
	if (err == STORE_OK || err == STORE_CONFLICT) {
		snprintf(etag, sizeof(etag), "\"%s\"", sess_get(&s, SC_VERSION));
		http_add_header(r, "ETag", etag);
	}
	if (err == STORE_NOT_FOUND) {
		auth_write_refused(a, r, &cred);
		goto out;
	}
	if (err != STORE_OK) {
		route_store_error(a, r, err);
		goto out;
	}
	sess_render(&s, &b, 0, -1);
	route_send_buf(r, 200, &b);
out:
	release_answer(NULL, &b, &s, body);
	cred_wipe(&cred);
}

void route_current_delete(struct app *a, struct req *r, const char *arg)
{
	struct credential cred;
	struct session s = { 0 };
	enum store_err err;

	(void)arg;
	if (auth_write_credential(a, r, &cred) != 0)
		return;
	err = sess_logout(&a->store, cred.hash, a->cfg->idle_timeout, r->client_addr, &s);
	if (err == STORE_NOT_FOUND) {
		auth_write_refused(a, r, &cred);
		goto out;
	}
	if (err != STORE_OK) {
		route_store_error(a, r, err);
		goto out;
	}
	metrics_revoked(MR_LOGOUT, 1);
	log_info("event=session_revoked session=%s reason=logout", sess_get(&s, SC_ID));
	metrics_session_ended(sess_get(&s, SC_CREATED_EPOCH));
	route_logged_out(a, r);
	http_send_json_lit(r, 200, "{\"message\":\"Logged out\"}");
out:
	sess_release(&s);
	cred_wipe(&cred);
}

/* ---- POST /api/sessions/refresh/ ---------------------------------------------------------- */

void route_refresh(struct app *a, struct req *r, const char *arg)
{
	struct credential cred;
	struct json_object *body = NULL;
	struct session s = { 0 };
	struct jsonx_buf b = { 0 };
	long hours = 24;
	int rotate = 0;
	char tok[TOKEN_LEN + 1] = "", msg[96];
	unsigned char hash[TOKEN_HASH_LEN];
	enum store_err err;

	(void)arg;
	if (auth_write_credential(a, r, &cred) != 0)
		return;
	body = http_body_object(r);
	if (body == NULL)
		goto out;
	json_object_object_foreach(body, key, v)
	{
		if (strcmp(key, "hours") == 0) {
			int64_t h = json_object_get_int64(v);

			if (!json_object_is_type(v, json_type_int) || h < 1 || h > a->cfg->max_extend_hours) {
				snprintf(msg, sizeof(msg), "must be an integer from 1 to %ld", a->cfg->max_extend_hours);
				route_bad_field(r, "invalid_field", key, msg);
				goto out;
			}
			hours = (long)h;
		} else if (strcmp(key, "rotate") == 0) {
			if (get_bool(r, key, v, &rotate))
				goto out;
		} else {
			route_bad_field(r, "unknown_field", key, "unknown field");
			goto out;
		}
	}
	if (rotate && new_token(r, tok, hash) != 0)
		goto out;
	err = sess_refresh(&a->store, cred.hash, a->cfg->idle_timeout, hours, a->cfg->max_lifetime, rotate ? hash : NULL,
			   r->client_addr, &s);
	if (err == STORE_NOT_FOUND) {
		auth_write_refused(a, r, &cred);
		goto out;
	}
	if (err != STORE_OK) {
		route_store_error(a, r, err);
		goto out;
	}
	log_info("event=session_%s session=%s", rotate ? "rotated" : "refreshed", sess_get(&s, SC_ID));
	metrics_add(rotate ? MC_SESSIONS_ROTATED : MC_SESSIONS_REFRESHED, 1);
	if (a->cfg->set_cookie && (rotate || cred.by_cookie))
		set_session_cookie(a, r, rotate ? tok : cred.token, seconds_left(&s));
	if (rotate)
		add_csrf_header(r, tok);
	jsonx_buf_lit(&b, "{\"expires_at\":");
	jsonx_buf_str(&b, sess_get(&s, SC_EXPIRES_AT));
	if (rotate) {
		jsonx_buf_lit(&b, ",\"session_token\":");
		jsonx_buf_str(&b, tok);
	}
	jsonx_buf_lit(&b, "}");
	route_send_buf(r, 200, &b);
out:
	release_answer(tok, &b, &s, body);
	cred_wipe(&cred);
}
