/*
 * The JWT verifier: Auth0 access tokens (JWS compact, RS256/RS384/RS512) checked against a key set.
 *
 * libjwt 1.10.2 trusts the header: it verifies with whatever "alg" the token
 * names (an HS256 token keyed with the RSA public-key PEM verifies) and checks
 * no claims. So everything that decides *whether* to verify and *what the
 * token says* is done here: the token is split and base64url-decoded by hand,
 * the header and payload are parsed by jsonx (the one policy for outside JSON), the alg is
 * checked against the allow-list (never "none", never HS*), the key is chosen
 * by kid from the key set (app/jwk_set.c), and the claims are checked on that parse.
 *
 * The RS256/384/512 signature is verified directly with OpenSSL
 * (EVP_DigestVerify, PKCS#1 v1.5) on an EVP_PKEY built from the JWK n/e once
 * at load time, over exactly the bytes parsed here. libjwt is NOT used for
 * this: measured on 1.10.2, jwt_decode() rejects "typ":"at+jwt" (Auth0's RFC
 * 9068 access-token profile), re-parses header and payload with jansson,
 * which rejects JSON jsonx accepts (integers past int64), so a
 * good token would be reported as a bad signature, and it re-reads the PEM on
 * every call. So this file does not call libjwt at all; the unit test uses
 * jwt_decode() to show the HS256-keyed-with-the-PEM confusion it allows.
 *
 * No global state; a struct jwtv belongs to one process and one thread.
 */
#include "jwtv.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <json-c/json.h>
#include <openssl/err.h>
#include <openssl/evp.h>

#include "errbuf.h"
#include "jsonx.h"
#include "jwk_set.h"
#include "token.h"

struct jwtv {
	char *issuer, *audience;
	unsigned algs;
	long leeway;
	char *claim_email, *claim_name, *claim_picture, *claim_tenant_id, *claim_tenant_name, *claim_sid;
	struct jwk_set set;
};

/* NULL or "" → NULL; otherwise a malloc'd copy. */
static char *optdup(const char *s)
{
	return s != NULL && *s != '\0' ? jwk_strndup(s, strlen(s)) : NULL;
}

/* Returns a new verifier (free with jwtv_free), or NULL with a message in err. */
struct jwtv *jwtv_new(const struct jwtv_options *opt, char *err, size_t errlen)
{
	struct jwtv *v;
	unsigned bits;

	if (opt == NULL || opt->jwks_file == NULL || *opt->jwks_file == '\0') {
		errbuf_set(err, errlen, "jwks_file is not set");
		return NULL;
	}
	if (opt->issuer == NULL || *opt->issuer == '\0') {
		errbuf_set(err, errlen, "jwt_issuer is not set");
		return NULL;
	}
	if (opt->audience == NULL || *opt->audience == '\0') {
		errbuf_set(err, errlen, "jwt_audience is not set");
		return NULL;
	}
	if (opt->leeway < 0 || opt->leeway > 86400) {
		errbuf_set(err, errlen, "jwt_leeway %ld out of range 0..86400", opt->leeway);
		return NULL;
	}
	if ((bits = jwk_parse_algs(opt->algorithms, err, errlen)) == 0)
		return NULL;
	v = jwk_xmalloc(sizeof(*v));
	memset(v, 0, sizeof(*v));
	v->set.file = optdup(opt->jwks_file);
	v->issuer = optdup(opt->issuer);
	v->audience = optdup(opt->audience);
	v->algs = bits;
	v->leeway = opt->leeway;
	v->claim_email = optdup(opt->claim_email);
	v->claim_name = optdup(opt->claim_name);
	v->claim_picture = optdup(opt->claim_picture);
	v->claim_tenant_id = optdup(opt->claim_tenant_id);
	v->claim_tenant_name = optdup(opt->claim_tenant_name);
	v->claim_sid = optdup(opt->claim_sid);
	if (jwk_set_load(&v->set, err, errlen) != 0) {
		jwtv_free(v);
		return NULL;
	}
	return v;
}

/* Returns 1 reloaded, 0 unchanged, -1 reload failed (old keys kept, message in err). */
int jwtv_refresh(struct jwtv *v, char *err, size_t errlen)
{
	return jwk_set_refresh(&v->set, err, errlen);
}

/* Returns 1 reloaded, -1 reload failed (old keys kept, message in err). */
int jwtv_reload(struct jwtv *v, char *err, size_t errlen)
{
	return jwk_set_load(&v->set, err, errlen) == 0 ? 1 : -1;
}

/*
 * The header's typ: absent or JWT for either kind; at+jwt (RFC 9068) for an
 * access token, logout+jwt (Back-Channel Logout 1.0) for a logout token only.
 */
static int typ_ok(json_object *hdr, int logout)
{
	json_object *t;
	const char *s;

	if (!json_object_object_get_ex(hdr, "typ", &t))
		return 1;
	if ((s = jwk_get_str(hdr, "typ", NULL)) == NULL)
		return 0;
	if (strncasecmp(s, "application/", 12) == 0)	/* RFC 7515 §4.1.9: prefix may be omitted */
		s += 12;
	return strcasecmp(s, "JWT") == 0 || strcasecmp(s, logout ? "logout+jwt" : "at+jwt") == 0;
}

/* Checks the header; on success *keyp and *algp are the key and ALG_* bit to verify with. */
static enum jwtv_err check_header(const struct jwtv *v, json_object *hdr, int logout, const struct jwk_key **keyp,
				  unsigned *algp)
{
	const char *alg, *kid;
	size_t alglen, kidlen;
	const struct jwk_key *k;
	unsigned bit;

	if (!typ_ok(hdr, logout))
		return JWTV_MALFORMED;
	if (json_object_object_get_ex(hdr, "crit", NULL))
		return JWTV_MALFORMED;	/* no extensions are understood (RFC 7515 §4.1.11) */
	if ((alg = jwk_get_str(hdr, "alg", &alglen)) == NULL)
		return JWTV_BAD_ALG;
	bit = jwk_alg_bit(alg, alglen);	/* only RS* can ever match: none and HS* never do */
	if (bit == 0 || (v->algs & bit) == 0)
		return JWTV_BAD_ALG;
	if ((kid = jwk_get_str(hdr, "kid", &kidlen)) == NULL)
		return JWTV_UNKNOWN_KID;
	if (v->set.nkeys == 0)
		return JWTV_NO_KEYS;
	if ((k = jwk_set_find(&v->set, kid, kidlen)) == NULL)
		return JWTV_UNKNOWN_KID;
	if (k->alg != 0 && k->alg != bit)
		return JWTV_BAD_ALG;
	*keyp = k;
	*algp = bit;
	return JWTV_OK;
}

static const EVP_MD *alg_md(unsigned bit)
{
	switch (bit) {
	case JWK_RS256: return EVP_sha256();
	case JWK_RS384: return EVP_sha384();
	case JWK_RS512: return EVP_sha512();
	}
	return NULL;
}

/*
 * RSASSA-PKCS1-v1_5 check of sig[0..siglen) over signed[0..signedlen) (the
 * "header.payload" bytes) with k's key and the digest of the checked alg.
 */
static enum jwtv_err check_signature(const char *signed_part, size_t signedlen,
				     const unsigned char *sig, size_t siglen,
				     const struct jwk_key *k, unsigned bit)
{
	EVP_MD_CTX *ctx = NULL;
	const EVP_MD *md = alg_md(bit);
	enum jwtv_err rc = JWTV_BAD_SIGNATURE;

	if (siglen == 0)
		return JWTV_MALFORMED;
	if (siglen != k->sig_len || md == NULL)
		return JWTV_BAD_SIGNATURE;
	if ((ctx = EVP_MD_CTX_new()) == NULL)
		abort();
	if (EVP_DigestVerifyInit(ctx, NULL, md, NULL, k->pkey) != 1)
		goto out;
	if (EVP_DigestVerify(ctx, sig, siglen, (const unsigned char *)signed_part, signedlen) == 1)
		rc = JWTV_OK;
out:
	EVP_MD_CTX_free(ctx);
	ERR_clear_error();	/* keep OpenSSL's per-thread error queue from growing */
	return rc;
}

/* Reads a numeric claim. Returns 1 present and finite, 0 absent, -1 wrong type. */
static int get_time(json_object *obj, const char *name, double *out)
{
	json_object *t;
	double d;

	if (!json_object_object_get_ex(obj, name, &t))
		return 0;
	if (!json_object_is_type(t, json_type_int) && !json_object_is_type(t, json_type_double))
		return -1;
	d = json_object_get_double(t);
	if (!isfinite(d))
		return -1;
	*out = d;
	return 1;
}

/* 1 when aud (a string or an array of strings) holds want[0..wlen). */
static int aud_has(json_object *aud, const char *want, size_t wlen)
{
	size_t i, n = json_object_is_type(aud, json_type_array) ? json_object_array_length(aud) : 1;

	for (i = 0; i < n; i++) {
		json_object *a = json_object_is_type(aud, json_type_array) ? json_object_array_get_idx(aud, i) : aud;

		if (json_object_is_type(a, json_type_string) && (size_t)json_object_get_string_len(a) == wlen &&
		    memcmp(json_object_get_string(a), want, wlen) == 0)
			return 1;
	}
	return 0;
}

/* 1 when aud holds one of the comma-separated audiences in list. */
static int aud_in_list(json_object *aud, const char *list)
{
	while (list && *list) {
		size_t n;

		list += strspn(list, ", ");
		n = strcspn(list, ", ");
		if (n > 0 && aud_has(aud, list, n))
			return 1;
		list += n;
	}
	return 0;
}

/* iss, aud (the access audience, or with logout_auds one of that list), exp (required) and nbf. */
static enum jwtv_err check_claims(const struct jwtv *v, json_object *pl, time_t now, const char *logout_auds)
{
	json_object *aud, *iss;
	double exp, nbf;
	size_t sublen;
	int r, found;

	if (!json_object_object_get_ex(pl, "iss", &iss) || !jwk_str_eq(iss, v->issuer))
		return JWTV_BAD_ISSUER;
	if (!json_object_object_get_ex(pl, "aud", &aud))
		return JWTV_BAD_AUDIENCE;
	found = logout_auds ? aud_in_list(aud, logout_auds) : aud_has(aud, v->audience, strlen(v->audience));
	if (!found)
		return JWTV_BAD_AUDIENCE;
	/* Time claims are compared as doubles: exact for any integer below 2^53. */
	r = get_time(pl, "exp", &exp);
	if (r <= 0)
		return JWTV_MALFORMED;	/* exp is required and must be a number */
	if ((double)now > exp + (double)v->leeway)
		return JWTV_EXPIRED;
	r = get_time(pl, "nbf", &nbf);
	if (r < 0)
		return JWTV_MALFORMED;
	if (r > 0 && (double)now + (double)v->leeway < nbf)
		return JWTV_NOT_YET_VALID;
	if (logout_auds == NULL && (jwk_get_str(pl, "sub", &sublen) == NULL || sublen == 0))
		return JWTV_MISSING_SUB;
	return JWTV_OK;
}

/* 1 when claim name is absent, not a string (not copied), or a string fit to copy: at most max bytes, no control characters, and for a header visible ASCII only. */
static int claim_ok(json_object *pl, const char *name, size_t max, int header)
{
	json_object *c;
	const unsigned char *s;
	int n;

	if (name == NULL || name[0] == '\0' || !json_object_object_get_ex(pl, name, &c) ||
	    !json_object_is_type(c, json_type_string))
		return 1;
	s = (const unsigned char *)json_object_get_string(c);
	n = json_object_get_string_len(c);
	if (s == NULL || n < 0 || (size_t)n > max)
		return 0;
	for (int i = 0; i < n; i++)
		if (s[i] < 0x20 || s[i] == 0x7f || (header && (s[i] == ' ' || s[i] >= 0x80)))
			return 0;
	return 1;
}

/* The identity claims sessiond copies: JWTV_OK, or JWTV_BAD_CLAIM naming the first refused one. */
static enum jwtv_err check_identity(const struct jwtv *v, json_object *pl, const char **bad)
{
	const struct { const char *name; size_t max; int header; } c[] = {
		{ "sub", JWTV_HEADER_CLAIM_MAX, 1 },
		{ v->claim_tenant_id, JWTV_HEADER_CLAIM_MAX, 1 },
		{ v->claim_email, JWTV_TEXT_CLAIM_MAX, 0 },
		{ v->claim_name, JWTV_TEXT_CLAIM_MAX, 0 },
		{ v->claim_tenant_name, JWTV_TEXT_CLAIM_MAX, 0 },
		{ v->claim_picture, JWTV_URL_CLAIM_MAX, 0 },
		{ v->claim_sid, JWTV_HEADER_CLAIM_MAX, 1 },
	};

	for (size_t i = 0; i < sizeof(c) / sizeof(c[0]); i++)
		if (!claim_ok(pl, c[i].name, c[i].max, c[i].header)) {
			*bad = c[i].name;
			return JWTV_BAD_CLAIM;
		}
	return JWTV_OK;
}

static char *claim_dup(json_object *pl, const char *name)
{
	size_t n;
	const char *s = jwk_get_str(pl, name, &n);

	return s != NULL ? jwk_strndup(s, n) : NULL;
}

/*
 * Splits and decodes token, checks its header (typ for an access or, with
 * logout, a logout token; alg; kid) and its signature. JWTV_OK with the
 * parsed payload in *plp (the caller puts it), or an error with *plp NULL.
 */
static enum jwtv_err open_jws(struct jwtv *v, const char *token, size_t len, int logout, json_object **plp)
{
	const char *dot1, *dot2;
	unsigned char *hraw = NULL, *praw = NULL, *sraw = NULL;
	size_t hlen = 0, plen = 0, slen = 0, i;
	json_object *hdr = NULL, *pl = NULL;
	const struct jwk_key *k = NULL;
	unsigned bit = 0;
	size_t ndots;
	int badchar = 0;
	enum jwtv_err rc;

	*plp = NULL;
	if (len > JWTV_MAX_TOKEN)
		return JWTV_TOO_LARGE;
	if (v == NULL)
		return JWTV_NO_KEYS;
	if (token == NULL || len == 0)
		return JWTV_MALFORMED;
	/*
	 * Exactly three segments over the base64url alphabet. No dot at all (an
	 * opaque access token) or five segments (a JWE) is a token of another
	 * kind, which Auth0 issues when the login named no API audience.
	 */
	dot1 = dot2 = NULL;
	ndots = 0;
	for (i = 0; i < len; i++) {
		if (token[i] == '.') {
			ndots++;
			if (dot1 == NULL)
				dot1 = token + i;
			else if (dot2 == NULL)
				dot2 = token + i;
		} else if (token_b64url_value((unsigned char)token[i]) < 0) {
			badchar = 1;
		}
	}
	if (ndots == 0 || ndots == 4)
		return JWTV_NOT_JWS;
	if (badchar || ndots != 2 || dot1 == token || dot2 == dot1 + 1)
		return JWTV_MALFORMED;
	hraw = jwk_b64_decode(token, (size_t)(dot1 - token), &hlen);
	praw = jwk_b64_decode(dot1 + 1, (size_t)(dot2 - dot1 - 1), &plen);
	sraw = jwk_b64_decode(dot2 + 1, len - (size_t)(dot2 + 1 - token), &slen);
	if (hraw == NULL || praw == NULL || sraw == NULL) {
		rc = JWTV_MALFORMED;
		goto out;
	}
	/* One JSON policy for outside input (jsonx.h): a repeated alg or kid is malformed, not "the last wins". */
	if (jsonx_parse((const char *)hraw, hlen, JSONX_INPUT_DEPTH, 1, &hdr) != JSONX_OK) {
		rc = JWTV_MALFORMED;
		goto out;
	}
	if ((rc = check_header(v, hdr, logout, &k, &bit)) != JWTV_OK)
		goto out;
	if (jsonx_parse((const char *)praw, plen, JSONX_INPUT_DEPTH, 1, &pl) != JSONX_OK) {
		rc = JWTV_MALFORMED;
		goto out;
	}
	if ((rc = check_signature(token, (size_t)(dot2 - token), sraw, slen, k, bit)) != JWTV_OK)
		goto out;
	*plp = pl;
	pl = NULL;
out:
	json_object_put(hdr);
	json_object_put(pl);
	free(hraw);
	free(praw);
	free(sraw);
	return rc;
}

/* Returns JWTV_OK and fills *out (free with jwtv_identity_free), or an error with *out all NULL. */
enum jwtv_err jwtv_verify(struct jwtv *v, const char *token, size_t len, time_t now,
			  struct jwtv_identity *out)
{
	json_object *pl = NULL;
	enum jwtv_err rc;

	if (out == NULL)
		return JWTV_NO_KEYS;
	memset(out, 0, sizeof(*out));
	if ((rc = open_jws(v, token, len, 0, &pl)) != JWTV_OK)
		return rc;
	if ((rc = check_claims(v, pl, now, NULL)) != JWTV_OK)
		goto out;
	/* A logout token is never a login, whatever its typ says. */
	if (json_object_object_get_ex(pl, "events", NULL)) {
		out->bad_claim = "events";
		rc = JWTV_BAD_CLAIM;
		goto out;
	}
	if ((rc = check_identity(v, pl, &out->bad_claim)) != JWTV_OK)
		goto out;
	out->sub = claim_dup(pl, "sub");
	out->email = claim_dup(pl, v->claim_email);
	out->name = claim_dup(pl, v->claim_name);
	out->picture = claim_dup(pl, v->claim_picture);
	out->tenant_id = claim_dup(pl, v->claim_tenant_id);
	out->tenant_name = claim_dup(pl, v->claim_tenant_name);
	out->sid = claim_dup(pl, v->claim_sid);
out:
	json_object_put(pl);
	return rc;
}

#define BACKCHANNEL_EVENT "http://schemas.openid.net/event/backchannel-logout"

/* The claims only a logout token has (Back-Channel Logout 1.0 §2.4, §2.6): JWTV_BAD_CLAIM naming the first wrong one. */
static enum jwtv_err check_logout(const struct jwtv *v, json_object *pl, time_t now, const char **bad)
{
	json_object *ev, *e;
	double iat;
	size_t n;
	const char *s;

	*bad = "iat";	/* required; not issued in the future beyond the leeway (exp bounds its age) */
	if (get_time(pl, "iat", &iat) <= 0 || iat > (double)now + (double)v->leeway)
		return JWTV_BAD_CLAIM;
	*bad = "events";
	if (!json_object_object_get_ex(pl, "events", &ev) || !json_object_is_type(ev, json_type_object) ||
	    !json_object_object_get_ex(ev, BACKCHANNEL_EVENT, &e) || !json_object_is_type(e, json_type_object))
		return JWTV_BAD_CLAIM;
	*bad = "nonce";
	if (json_object_object_get_ex(pl, "nonce", NULL))
		return JWTV_BAD_CLAIM;
	*bad = "jti";
	if ((s = jwk_get_str(pl, "jti", &n)) == NULL || n == 0 || n > JWTV_HEADER_CLAIM_MAX || !claim_ok(pl, "jti", n, 1))
		return JWTV_BAD_CLAIM;
	/* sid, sub or both; each, when present, a string fit for the store. */
	*bad = "sid";
	if (json_object_object_get_ex(pl, "sid", &e) &&
	    (!json_object_is_type(e, json_type_string) || json_object_get_string_len(e) == 0 ||
	     !claim_ok(pl, "sid", JWTV_HEADER_CLAIM_MAX, 1)))
		return JWTV_BAD_CLAIM;
	*bad = "sub";
	if (json_object_object_get_ex(pl, "sub", &e) &&
	    (!json_object_is_type(e, json_type_string) || json_object_get_string_len(e) == 0 ||
	     !claim_ok(pl, "sub", JWTV_HEADER_CLAIM_MAX, 1)))
		return JWTV_BAD_CLAIM;
	*bad = "sid";
	if (jwk_get_str(pl, "sid", NULL) == NULL && jwk_get_str(pl, "sub", NULL) == NULL)
		return JWTV_BAD_CLAIM;
	*bad = NULL;
	return JWTV_OK;
}

enum jwtv_err jwtv_verify_logout(struct jwtv *v, const char *token, size_t len, time_t now, const char *audiences,
				 struct jwtv_logout *out)
{
	json_object *pl = NULL;
	enum jwtv_err rc;
	double exp = 0;

	if (out == NULL)
		return JWTV_NO_KEYS;
	memset(out, 0, sizeof(*out));
	if (audiences == NULL || audiences[strspn(audiences, ", ")] == '\0')
		return JWTV_BAD_AUDIENCE;
	if ((rc = open_jws(v, token, len, 1, &pl)) != JWTV_OK)
		return rc;
	if ((rc = check_claims(v, pl, now, audiences)) != JWTV_OK)
		goto out;
	if ((rc = check_logout(v, pl, now, &out->bad_claim)) != JWTV_OK)
		goto out;
	(void)get_time(pl, "exp", &exp);
	out->exp = (long long)exp + v->leeway;
	out->jti = claim_dup(pl, "jti");
	out->sid = claim_dup(pl, "sid");
	out->sub = claim_dup(pl, "sub");
out:
	json_object_put(pl);
	return rc;
}

void jwtv_logout_free(struct jwtv_logout *lo)
{
	if (lo == NULL)
		return;
	free(lo->jti);
	free(lo->sid);
	free(lo->sub);
	memset(lo, 0, sizeof(*lo));
}

/* Frees the strings of *id (not id itself) and sets them to NULL. NULL-safe. */
void jwtv_identity_free(struct jwtv_identity *id)
{
	if (id == NULL)
		return;
	free(id->sub);
	free(id->email);
	free(id->name);
	free(id->picture);
	free(id->tenant_id);
	free(id->tenant_name);
	free(id->sid);
	memset(id, 0, sizeof(*id));
}

/* The one mapping from a verification error to an authentication-failure reason. */
enum auth_reason jwtv_auth_reason(enum jwtv_err e)
{
	switch (e) {
	case JWTV_OK: break;
	case JWTV_MALFORMED: return AR_MALFORMED;
	case JWTV_TOO_LARGE: return AR_TOO_LARGE;
	case JWTV_BAD_ALG: return AR_BAD_ALG;
	case JWTV_UNKNOWN_KID: return AR_UNKNOWN_KID;
	case JWTV_BAD_SIGNATURE: return AR_BAD_SIGNATURE;
	case JWTV_EXPIRED: return AR_EXPIRED;
	case JWTV_NOT_YET_VALID: return AR_NOT_YET_VALID;
	case JWTV_BAD_ISSUER: return AR_BAD_ISSUER;
	case JWTV_BAD_AUDIENCE: return AR_BAD_AUDIENCE;
	case JWTV_MISSING_SUB: return AR_MISSING_SUB;
	case JWTV_NO_KEYS: return AR_NO_KEYS;
	case JWTV_BAD_CLAIM: return AR_BAD_CLAIM;
	case JWTV_NOT_JWS: return AR_NOT_JWS;
	}
	return AR_UNKNOWN;
}

const char *jwtv_reason(enum jwtv_err e)
{
	return e == JWTV_OK ? "ok" : auth_reason_label(jwtv_auth_reason(e));
}

/* What the keys in use were loaded from; NULL-safe (then NULL). */
const struct jwks_info *jwtv_info(const struct jwtv *v)
{
	return v != NULL ? &v->set.info : NULL;
}

/* The mtime of the file the keys in use were read from (0 for NULL). */
time_t jwtv_loaded_mtime(const struct jwtv *v)
{
	return v != NULL ? v->set.loaded_mtime : 0;
}

/* Returns the number of usable keys currently loaded. */
size_t jwtv_key_count(const struct jwtv *v)
{
	return v != NULL ? v->set.nkeys : 0;
}

/* Frees v and everything it owns. NULL-safe. */
void jwtv_free(struct jwtv *v)
{
	if (v == NULL)
		return;
	jwk_set_free(&v->set);
	free(v->issuer);
	free(v->audience);
	free(v->claim_email);
	free(v->claim_name);
	free(v->claim_picture);
	free(v->claim_tenant_id);
	free(v->claim_tenant_name);
	free(v->claim_sid);
	free(v);
}
