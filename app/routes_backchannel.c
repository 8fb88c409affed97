/*
 * POST /api/sessions/backchannel-logout/: OpenID Connect Back-Channel Logout
 * 1.0. The identity provider posts a signed logout token as a form field;
 * sessiond verifies it with the same keys as create, refuses a jti seen
 * before, and revokes by sid and/or sub on every host. 200 on success (also
 * when nothing matched), 400 with a JSON error otherwise.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/crypto.h>

#include "credentials.h"
#include "jwtv.h"
#include "log.h"
#include "metrics.h"
#include "routes.h"
#include "sessions.h"

#define FORM_TYPE "application/x-www-form-urlencoded"

static int is_form(const char *ct)
{
	if (ct == NULL)
		return 0;
	ct += strspn(ct, " \t");
	return strncasecmp(ct, FORM_TYPE, sizeof(FORM_TYPE) - 1) == 0 &&
	       strchr("; \t", ct[sizeof(FORM_TYPE) - 1]) != NULL;
}

static int hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/*
 * Decodes one form component s[0..n) ('+' is a space, %XX a byte) into out
 * (n + 1 bytes). Returns its length, or -1 for a malformed escape or a NUL.
 */
static long form_decode(const char *s, size_t n, char *out)
{
	size_t i, o = 0;

	for (i = 0; i < n; i++) {
		int c = (unsigned char)s[i];

		if (c == '+') {
			c = ' ';
		} else if (c == '%') {
			int hi = i + 2 < n ? hexval((unsigned char)s[i + 1]) : -1;
			int lo = i + 2 < n ? hexval((unsigned char)s[i + 2]) : -1;

			if (hi < 0 || lo < 0)
				return -1;
			c = hi << 4 | lo;
			i += 2;
		}
		if (c == 0)
			return -1;
		out[o++] = (char)c;
	}
	out[o] = '\0';
	return (long)o;
}

/*
 * The logout_token field of the form body[0..len): a new string in *value
 * (free it), or NULL when absent. -1 for a malformed body or a second
 * logout_token.
 */
static int form_logout_token(const char *body, size_t len, char **value)
{
	const char *p = body, *end = body + len;

	*value = NULL;
	while (p < end) {
		const char *amp = memchr(p, '&', (size_t)(end - p)), *pair_end = amp ? amp : end;
		const char *eq = memchr(p, '=', (size_t)(pair_end - p));
		size_t klen = (size_t)((eq ? eq : pair_end) - p);
		char key[16];

		if (klen < sizeof(key) && form_decode(p, klen, key) == 12 && strcmp(key, "logout_token") == 0) {
			const char *v = eq ? eq + 1 : pair_end;
			size_t vlen = (size_t)(pair_end - v);

			if (*value != NULL)
				goto bad;
			*value = malloc(vlen + 1);
			if (*value == NULL || form_decode(v, vlen, *value) < 0)
				goto bad;
		}
		p = pair_end + 1;
	}
	return 0;
bad:
	free(*value);
	*value = NULL;
	return -1;
}

/* What the verifier is given and gives back for one logout token. */
struct logout_check {
	const char *audiences;
	struct jwtv_logout lo;
};

static enum jwtv_err verify_logout(struct jwtv *v, const char *jwt, size_t len, time_t now, void *out)
{
	struct logout_check *c = out;

	return jwtv_verify_logout(v, jwt, len, now, c->audiences, &c->lo);
}

static void bad_request(struct req *r, const char *code, const char *message)
{
	http_error(r, ERR_BAD_REQUEST, code, message);
}

void route_backchannel_logout(struct app *a, struct req *r, const char *arg)
{
	struct logout_check c;
	enum jwtv_err jerr;
	enum store_err err;
	char *tok = NULL, msg[160], out_json[64];
	long n = 0;

	(void)arg;
	memset(&c, 0, sizeof(c));
	if (!a->cfg->backchannel_logout) {
		/* Off (the default): the route is not there. */
		http_error(r, ERR_NOT_FOUND, "not_found", "no such route");
		return;
	}
	if (!is_form(r->content_type) || r->body == NULL || strlen(r->body) != r->body_len ||
	    form_logout_token(r->body, r->body_len, &tok) != 0 || tok == NULL || tok[0] == '\0') {
		bad_request(r, "invalid_request", "the body must be application/x-www-form-urlencoded with one logout_token");
		goto out;
	}
	if (route_load_verifier(a, r) != 0)
		goto out;
	c.audiences = a->cfg->backchannel_audience;
	jerr = route_verify_jwt(a, verify_logout, tok, strlen(tok), &c);
	if (jerr != JWTV_OK) {
		/* Counted like a failed create: a forged token is a guess, an unusable claim of a signed one is not. */
		auth_note_failure(a, r, "Bearer", jwtv_auth_reason(jerr));
		if (jerr == JWTV_BAD_CLAIM)
			snprintf(msg, sizeof(msg), "the logout token was rejected (bad_claim: %.48s)", c.lo.bad_claim);
		else
			snprintf(msg, sizeof(msg), "the logout token was rejected (%s)", jwtv_reason(jerr));
		bad_request(r, "invalid_logout_token", msg);
		goto out;
	}
	err = sess_backchannel(&a->store, c.lo.jti, c.lo.exp, c.lo.sid, c.lo.sub, r->client_addr, &n);
	if (err == STORE_CONFLICT) {
		log_info("event=backchannel_logout_replayed addr=%s", r->client_addr ? r->client_addr : "-");
		bad_request(r, "invalid_logout_token", "the logout token was rejected (replayed: its jti was seen before)");
		goto out;
	}
	if (err != STORE_OK) {
		route_store_error(a, r, err);
		goto out;
	}
	metrics_revoked(MR_BACKCHANNEL, n);
	log_info("event=backchannel_logout by_sid=%d by_sub=%d count=%ld", c.lo.sid != NULL, c.lo.sub != NULL, n);
	snprintf(out_json, sizeof(out_json), "{\"count\":%ld}", n);
	http_send_raw(r, 200, "application/json; charset=utf-8", out_json, strlen(out_json));
out:
	if (tok) {
		OPENSSL_cleanse(tok, strlen(tok));
		free(tok);
	}
	jwtv_logout_free(&c.lo);
}
