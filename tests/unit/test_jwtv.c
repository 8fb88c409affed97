/*
 * Unit tests for jwtv: keys are generated at run time, the JWKS is written to
 * a mkdtemp directory, and every token is signed here (tests/tools/mint.h).
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <jwt.h>

#include "jwtv.h"
#include "check.h"
#include "../tools/mint.h"

#define ISS "https://tenant.example.auth0.com/"
#define AUD "https://api.example.com"
#define NS "https://example.com/"

static char dir[64];
static char jwks_path[128];
static EVP_PKEY *k1, *k2, *k3, *ksmall;
static time_t now;

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	if (f == NULL || fputs(text, f) < 0 || fclose(f) != 0) {
		perror(path);
		exit(2);
	}
}

/* Writes {"keys":[jwks...]} from NULL-terminated JWK texts to path. */
static void write_jwks(const char *path, const char *const *jwks)
{
	size_t cap = 64, i;
	char *buf;

	for (i = 0; jwks[i] != NULL; i++)
		cap += strlen(jwks[i]) + 1;
	buf = malloc(cap);
	if (buf == NULL)
		exit(2);
	strcpy(buf, "{\"keys\":[");
	for (i = 0; jwks[i] != NULL; i++) {
		if (i)
			strcat(buf, ",");
		strcat(buf, jwks[i]);
	}
	strcat(buf, "]}");
	write_file(path, buf);
	free(buf);
}

/* Sets path's mtime to t seconds (so a rewrite within one timestamp tick is still seen). */
static void set_mtime(const char *path, time_t t)
{
	struct timespec ts[2] = { { t, 0 }, { t, 0 } };

	if (utimensat(AT_FDCWD, path, ts, 0) != 0) {
		perror("utimensat");
		exit(2);
	}
}

/* RS*-signed token with a standard header {"alg","typ":"JWT","kid"}. Caller frees. */
static char *tok(const char *alg, EVP_PKEY *key, const char *kid, const char *claims)
{
	char hdr[256];
	char *t;

	if (kid != NULL)
		snprintf(hdr, sizeof(hdr), "{\"alg\":\"%s\",\"typ\":\"JWT\",\"kid\":\"%s\"}", alg, kid);
	else
		snprintf(hdr, sizeof(hdr), "{\"alg\":\"%s\",\"typ\":\"JWT\"}", alg);
	t = mint_sign(alg, key, NULL, 0, hdr, claims);
	if (t == NULL) {
		fprintf(stderr, "mint_sign failed\n");
		exit(2);
	}
	return t;
}

/* Valid iss/aud/sub claims with exp = now + expoff, plus extra members. Caller frees. */
static char *claims(const char *extra, long expoff)
{
	char *c;

	if (asprintf(&c, "{\"iss\":\"" ISS "\",\"aud\":\"" AUD "\",\"sub\":\"auth0|123\",\"exp\":%lld%s%s}",
		     (long long)now + expoff, extra && *extra ? "," : "", extra ? extra : "") < 0)
		exit(2);
	return c;
}

/* Verifies a token string; frees the identity unless idp is given. */
static enum jwtv_err verify_str(struct jwtv *v, const char *t, struct jwtv_identity *idp)
{
	struct jwtv_identity id;
	enum jwtv_err e = jwtv_verify(v, t, strlen(t), now, &id);

	if (idp != NULL)
		*idp = id;
	else
		jwtv_identity_free(&id);
	return e;
}

/* Signs claims built from extra/expoff with k1/kid k1/RS256 and verifies them. */
static enum jwtv_err verify_claims(struct jwtv *v, const char *extra, long expoff)
{
	char *c = claims(extra, expoff), *t = tok("RS256", k1, "k1", c);
	enum jwtv_err e = verify_str(v, t, NULL);

	free(t);
	free(c);
	return e;
}

/* Verifies a token whose exp is secs followed by frac (".25": a JSON double). */
static enum jwtv_err verify_exp_frac(struct jwtv *v, long long secs, const char *frac)
{
	char *c, *t;
	enum jwtv_err e;

	if (asprintf(&c, "{\"iss\":\"" ISS "\",\"aud\":\"" AUD "\",\"sub\":\"s\",\"exp\":%lld%s}", secs, frac) < 0)
		exit(2);
	t = tok("RS256", k1, "k1", c);
	e = verify_str(v, t, NULL);
	free(t);
	free(c);
	return e;
}

/* Verifies a token built from a raw header and claims (signed RS256 with k1). */
static enum jwtv_err verify_raw(struct jwtv *v, const char *hdr, const char *cl)
{
	char *t = mint_sign("RS256", k1, NULL, 0, hdr, cl);
	enum jwtv_err e;

	if (t == NULL)
		exit(2);
	e = verify_str(v, t, NULL);
	free(t);
	return e;
}

static struct jwtv *make(const char *algs, char *err, size_t errlen)
{
	struct jwtv_options o = {
		.jwks_file = jwks_path,
		.issuer = ISS,
		.audience = AUD,
		.algorithms = algs,
		.leeway = 60,
		.claim_email = "email",
		.claim_name = "name",
		.claim_picture = "picture",
		.claim_tenant_id = NS "tenant_id",
		.claim_tenant_name = NS "tenant_name",
	};

	return jwtv_new(&o, err, errlen);
}

static void test_valid(struct jwtv *v)
{
	static const struct {
		const char *header;
		enum jwtv_err want;
	} typs[] = {
		{ "{\"alg\":\"RS256\",\"kid\":\"k1\"}", JWTV_OK },
		{ "{\"alg\":\"RS256\",\"typ\":\"at+jwt\",\"kid\":\"k1\"}", JWTV_OK },
		{ "{\"alg\":\"RS256\",\"typ\":\"jwt\",\"kid\":\"k1\"}", JWTV_OK },
		{ "{\"alg\":\"RS256\",\"typ\":\"JWE\",\"kid\":\"k1\"}", JWTV_MALFORMED },
		{ "{\"alg\":\"RS256\",\"typ\":1,\"kid\":\"k1\"}", JWTV_MALFORMED },
		{ "{\"alg\":\"RS256\",\"kid\":\"k1\",\"crit\":[\"b64\"]}", JWTV_MALFORMED },
	};
	struct jwtv_identity id;
	char *c = claims("\"email\":\"a@example.com\",\"name\":\"Ann\",\"picture\":\"https://p.example/a.png\","
			 "\"" NS "tenant_id\":\"t-42\",\"" NS "tenant_name\":\"Acme\",\"tenant_id\":\"wrong\"", 300);
	char *t = tok("RS256", k1, "k1", c);

	CHECK(verify_str(v, t, &id) == JWTV_OK);
	CHECK_STR(id.sub, "auth0|123");
	CHECK_STR(id.email, "a@example.com");
	CHECK_STR(id.name, "Ann");
	CHECK_STR(id.picture, "https://p.example/a.png");
	CHECK_STR(id.tenant_id, "t-42");
	CHECK_STR(id.tenant_name, "Acme");
	jwtv_identity_free(&id);
	CHECK(id.sub == NULL && id.email == NULL);
	free(t);
	free(c);

	/* Non-string identity claims are absent, not errors. */
	c = claims("\"email\":42,\"name\":null,\"picture\":[\"x\"]", 300);
	t = tok("RS256", k1, "k1", c);
	CHECK(verify_str(v, t, &id) == JWTV_OK);
	CHECK_STR(id.sub, "auth0|123");
	CHECK(id.email == NULL && id.name == NULL && id.picture == NULL);
	CHECK(id.tenant_id == NULL && id.tenant_name == NULL);
	jwtv_identity_free(&id);
	free(t);
	free(c);

	/* Length is honoured: trailing bytes past len are not part of the token. */
	c = claims(NULL, 300);
	t = tok("RS256", k1, "k1", c);
	{
		size_t n = strlen(t);
		char *padded = malloc(n + 8);

		memcpy(padded, t, n);
		memcpy(padded + n, "garbage", 8);
		CHECK(jwtv_verify(v, padded, n, now, &id) == JWTV_OK);
		jwtv_identity_free(&id);
		CHECK(jwtv_verify(v, padded, n + 7, now, &id) == JWTV_MALFORMED);
		CHECK(id.sub == NULL);
		free(padded);
	}
	free(t);
	free(c);

	/* typ variants. */
	c = claims(NULL, 300);
	for (size_t i = 0; i < sizeof(typs) / sizeof(typs[0]); i++) {
		char what[160];

		snprintf(what, sizeof(what), "header %s: %s", typs[i].header, jwtv_reason(typs[i].want));
		CHECK_MSG(verify_raw(v, typs[i].header, c) == typs[i].want, what);
	}
	free(c);
}

static void test_time(struct jwtv *v)
{
	char extra[64];

	CHECK(verify_claims(v, NULL, -61) == JWTV_EXPIRED);	/* past leeway */
	CHECK(verify_claims(v, NULL, -3600) == JWTV_EXPIRED);
	CHECK(verify_claims(v, NULL, -60) == JWTV_OK);		/* within leeway */
	CHECK(verify_claims(v, NULL, -1) == JWTV_OK);
	snprintf(extra, sizeof(extra), "\"nbf\":%lld", (long long)now + 61);
	CHECK(verify_claims(v, extra, 300) == JWTV_NOT_YET_VALID);
	snprintf(extra, sizeof(extra), "\"nbf\":%lld", (long long)now + 60);
	CHECK(verify_claims(v, extra, 300) == JWTV_OK);
	snprintf(extra, sizeof(extra), "\"nbf\":%lld.5", (long long)now + 60);
	CHECK(verify_claims(v, extra, 300) == JWTV_NOT_YET_VALID);	/* doubles compare exactly */
	CHECK(verify_claims(v, "\"nbf\":\"0\"", 300) == JWTV_MALFORMED);

	/* exp as a double, missing, or of the wrong type. */
	CHECK(verify_exp_frac(v, (long long)now - 60, ".25") == JWTV_OK);
	CHECK(verify_exp_frac(v, (long long)now - 61, ".75") == JWTV_EXPIRED);
	CHECK(verify_raw(v, "{\"alg\":\"RS256\",\"kid\":\"k1\"}",
			 "{\"iss\":\"" ISS "\",\"aud\":\"" AUD "\",\"sub\":\"s\"}") == JWTV_MALFORMED);
	CHECK(verify_raw(v, "{\"alg\":\"RS256\",\"kid\":\"k1\"}",
			 "{\"iss\":\"" ISS "\",\"aud\":\"" AUD "\",\"sub\":\"s\",\"exp\":\"9999999999\"}") == JWTV_MALFORMED);
	CHECK(verify_raw(v, "{\"alg\":\"RS256\",\"kid\":\"k1\"}",
			 "{\"iss\":\"" ISS "\",\"aud\":\"" AUD "\",\"sub\":\"s\",\"exp\":18446744073709551615}") == JWTV_OK);
	/* An integer json-c cannot hold (it would saturate) is refused by jsonx, as in a request body. */
	CHECK(verify_raw(v, "{\"alg\":\"RS256\",\"kid\":\"k1\"}",
			 "{\"iss\":\"" ISS "\",\"aud\":\"" AUD "\",\"sub\":\"s\",\"exp\":99999999999999999999999}") == JWTV_MALFORMED);
}

static void test_leeway_zero(void)
{
	struct jwtv_options o = { .jwks_file = jwks_path, .issuer = ISS, .audience = AUD, .leeway = 0 };
	char err[256] = "", extra[64];
	struct jwtv *v = jwtv_new(&o, err, sizeof(err));

	CHECK(v != NULL);
	if (v == NULL)
		return;
	CHECK(verify_claims(v, NULL, -1) == JWTV_EXPIRED);
	CHECK(verify_claims(v, NULL, 0) == JWTV_OK);
	snprintf(extra, sizeof(extra), "\"nbf\":%lld", (long long)now + 1);
	CHECK(verify_claims(v, extra, 300) == JWTV_NOT_YET_VALID);
	snprintf(extra, sizeof(extra), "\"nbf\":%lld", (long long)now);
	CHECK(verify_claims(v, extra, 300) == JWTV_OK);
	jwtv_free(v);
}

static void test_iss_aud_sub(struct jwtv *v)
{
	char *c;

	CHECK(verify_raw(v, "{\"alg\":\"RS256\",\"kid\":\"k1\"}", c = claims(NULL, 300)) == JWTV_OK);
	free(c);
#define RAWCL(iss, aud, sub) "{\"iss\":" iss ",\"aud\":" aud ",\"sub\":" sub ",\"exp\":9999999999}"
	CHECK(verify_raw(v, "{\"alg\":\"RS256\",\"kid\":\"k1\"}", RAWCL("\"https://evil.example/\"", "\"" AUD "\"", "\"s\"")) == JWTV_BAD_ISSUER);
	CHECK(verify_raw(v, "{\"alg\":\"RS256\",\"kid\":\"k1\"}", RAWCL("\"https://tenant.example.auth0.com\"", "\"" AUD "\"", "\"s\"")) == JWTV_BAD_ISSUER);
	CHECK(verify_raw(v, "{\"alg\":\"RS256\",\"kid\":\"k1\"}", "{\"aud\":\"" AUD "\",\"sub\":\"s\",\"exp\":9999999999}") == JWTV_BAD_ISSUER);
	CHECK(verify_raw(v, "{\"alg\":\"RS256\",\"kid\":\"k1\"}", RAWCL("[\"" ISS "\"]", "\"" AUD "\"", "\"s\"")) == JWTV_BAD_ISSUER);
	CHECK(verify_raw(v, "{\"alg\":\"RS256\",\"kid\":\"k1\"}", RAWCL("\"" ISS "\"", "\"https://other.example.com\"", "\"s\"")) == JWTV_BAD_AUDIENCE);
	CHECK(verify_raw(v, "{\"alg\":\"RS256\",\"kid\":\"k1\"}", "{\"iss\":\"" ISS "\",\"sub\":\"s\",\"exp\":9999999999}") == JWTV_BAD_AUDIENCE);
	CHECK(verify_raw(v, "{\"alg\":\"RS256\",\"kid\":\"k1\"}", RAWCL("\"" ISS "\"", "[\"https://x.example\",\"" AUD "\"]", "\"s\"")) == JWTV_OK);
	CHECK(verify_raw(v, "{\"alg\":\"RS256\",\"kid\":\"k1\"}", RAWCL("\"" ISS "\"", "[\"https://x.example\",\"https://y.example\"]", "\"s\"")) == JWTV_BAD_AUDIENCE);
	CHECK(verify_raw(v, "{\"alg\":\"RS256\",\"kid\":\"k1\"}", RAWCL("\"" ISS "\"", "[]", "\"s\"")) == JWTV_BAD_AUDIENCE);
	CHECK(verify_raw(v, "{\"alg\":\"RS256\",\"kid\":\"k1\"}", RAWCL("\"" ISS "\"", "[[\"" AUD "\"]]", "\"s\"")) == JWTV_BAD_AUDIENCE);
	CHECK(verify_raw(v, "{\"alg\":\"RS256\",\"kid\":\"k1\"}", "{\"iss\":\"" ISS "\",\"aud\":\"" AUD "\",\"exp\":9999999999}") == JWTV_MISSING_SUB);
	CHECK(verify_raw(v, "{\"alg\":\"RS256\",\"kid\":\"k1\"}", RAWCL("\"" ISS "\"", "\"" AUD "\"", "\"\"")) == JWTV_MISSING_SUB);
	CHECK(verify_raw(v, "{\"alg\":\"RS256\",\"kid\":\"k1\"}", RAWCL("\"" ISS "\"", "\"" AUD "\"", "123")) == JWTV_MISSING_SUB);
	CHECK(verify_raw(v, "{\"alg\":\"RS256\",\"kid\":\"k1\"}", RAWCL("\"" ISS "\"", "\"" AUD "\"", "\"a\\u0000b\"")) == JWTV_MALFORMED);
#undef RAWCL
}

static void test_keys_and_algs(struct jwtv *v)
{
	char *c = claims(NULL, 300), *t, *pem, *dot;
	char err[256];
	struct jwtv *v2;

	t = tok("RS256", k1, "nope", c);
	CHECK(verify_str(v, t, NULL) == JWTV_UNKNOWN_KID);
	free(t);
	t = tok("RS256", k1, NULL, c);
	CHECK(verify_str(v, t, NULL) == JWTV_UNKNOWN_KID);
	free(t);
	CHECK(verify_raw(v, "{\"alg\":\"RS256\",\"kid\":7}", c) == JWTV_UNKNOWN_KID);
	CHECK(verify_raw(v, "{\"alg\":\"RS256\",\"kid\":\"K1\"}", c) == JWTV_UNKNOWN_KID);
	CHECK(verify_raw(v, "{\"alg\":\"RS256\",\"kid\":\"enc1\"}", c) == JWTV_UNKNOWN_KID);	/* use=enc skipped */
	CHECK(verify_raw(v, "{\"alg\":\"RS256\",\"kid\":\"small\"}", c) == JWTV_UNKNOWN_KID);	/* < 2048 bits skipped */

	/* Same kid, other key: signature fails. */
	t = tok("RS256", k2, "k1", c);
	CHECK(verify_str(v, t, NULL) == JWTV_BAD_SIGNATURE);
	free(t);

	/* Tampered payload and signature. */
	t = tok("RS256", k1, "k1", c);
	dot = strchr(t, '.');
	dot[3] = dot[3] == 'A' ? 'B' : 'A';
	CHECK(verify_str(v, t, NULL) != JWTV_OK);
	free(t);
	t = tok("RS256", k1, "k1", c);
	dot = strrchr(t, '.');
	dot[5] = dot[5] == 'A' ? 'B' : 'A';
	CHECK(verify_str(v, t, NULL) == JWTV_BAD_SIGNATURE);
	/* Truncated signature (wrong length for the key, still canonical base64url). */
	t[strlen(t) - 4] = '\0';
	t[strlen(t) - 1] = 'A';
	CHECK(verify_str(v, t, NULL) == JWTV_BAD_SIGNATURE);
	/* Empty signature with RS256. */
	dot[1] = '\0';
	CHECK(verify_str(v, t, NULL) == JWTV_MALFORMED);
	free(t);

	/* alg none, with and without a kid, and a few spellings. */
	t = mint_sign("none", NULL, NULL, 0, "{\"alg\":\"none\",\"typ\":\"JWT\",\"kid\":\"k1\"}", c);
	CHECK(verify_str(v, t, NULL) == JWTV_BAD_ALG);
	free(t);
	t = mint_sign("none", NULL, NULL, 0, "{\"alg\":\"None\",\"kid\":\"k1\"}", c);
	CHECK(verify_str(v, t, NULL) == JWTV_BAD_ALG);
	free(t);
	CHECK(verify_raw(v, "{\"kid\":\"k1\"}", c) == JWTV_BAD_ALG);
	CHECK(verify_raw(v, "{\"alg\":null,\"kid\":\"k1\"}", c) == JWTV_BAD_ALG);
	CHECK(verify_raw(v, "{\"alg\":\"rs256\",\"kid\":\"k1\"}", c) == JWTV_BAD_ALG);

	/* HS256 keyed with the RSA public PEM: the classic confusion attack. */
	pem = mint_pub_pem(k1);
	t = mint_sign("HS256", NULL, (const unsigned char *)pem, strlen(pem),
		      "{\"alg\":\"HS256\",\"typ\":\"JWT\",\"kid\":\"k1\"}", c);
	{
		jwt_t *raw = NULL;

		/*
		 * The token is a real attack on plain libjwt 1.x, which verifies with
		 * the header's alg: it accepts it. This is why jwtv does not use
		 * libjwt (the unit tests are the only code linked with it).
		 */
		CHECK_MSG(jwt_decode(&raw, t, (const unsigned char *)pem, (int)strlen(pem)) == 0,
			  "plain libjwt accepts an HS256 token keyed with the RSA public PEM (the attack jwtv refuses)");
		jwt_free(raw);
	}
	CHECK(verify_str(v, t, NULL) == JWTV_BAD_ALG);
	free(t);
	free(pem);

	/* RS384 is not in the allow-list of v. */
	t = tok("RS384", k1, "k1", c);
	CHECK(verify_str(v, t, NULL) == JWTV_BAD_ALG);

	/* With RS384 allowed: the JWK for k1 says alg RS256, so still refused;
	 * k1noalg (same key, no alg in the JWK) accepts it. */
	v2 = make("RS256, RS384", err, sizeof(err));
	CHECK(v2 != NULL);
	if (v2 != NULL) {
		char *t2 = tok("RS384", k1, "k1noalg", c);

		CHECK(verify_str(v2, t, NULL) == JWTV_BAD_ALG);
		CHECK(verify_str(v2, t2, NULL) == JWTV_OK);
		free(t2);
		t2 = tok("RS512", k1, "k1noalg", c);
		CHECK(verify_str(v2, t2, NULL) == JWTV_BAD_ALG);
		free(t2);
		jwtv_free(v2);
	}
	free(t);

	/* Option-time rejection of none/HS and unknown algorithms. */
	err[0] = '\0';
	CHECK(make("RS256,HS256", err, sizeof(err)) == NULL && err[0] != '\0');
	err[0] = '\0';
	CHECK(make("none", err, sizeof(err)) == NULL && err[0] != '\0');
	err[0] = '\0';
	CHECK(make("RS256,ES999", err, sizeof(err)) == NULL && err[0] != '\0');
	err[0] = '\0';
	CHECK(make(" , ", err, sizeof(err)) == NULL && err[0] != '\0');
	free(c);
}

static void test_malformed(struct jwtv *v)
{
	static const char *const bad[] = {
		"", ".", "..", "...", "a.b", "a.b.c", "a.b.c.d", "eyJ.eyJ.",
		"eyJhbGciOiJSUzI1NiJ9.e30",
		"eyJhbGciOiJSUzI1NiJ9.e30.AA.AA",		/* 4 segments */
		"eyJhbGciOiJSUzI1NiJ9..AAAA",		/* empty payload */
		".e30.AAAA",				/* empty header */
		"eyJhbGciOiJSUzI1NiJ9=.e30.AAAA",	/* padding */
		"eyJhbGc=iOiJSUzI1NiJ9.e30.AAAA",	/* padding in the middle */
		"eyJhbGciOiJSUzI1NiJ9.e30.AA+A",	/* standard, not url, alphabet */
		"eyJhbGciOiJSUzI1NiJ9.e30.AA/A",
		"eyJhbGciOiJSUzI1NiJ9 .e30.AAAA",
		"W10.e30.AAAA",				/* header [] */
		"bnVsbA.e30.AAAA",			/* header null */
		"e30.e30.AAAA",				/* header {}: no alg */
		"eyJhbGciOiJSUzI1NiJ9.e30.A",		/* length 1 mod 4 */
		"eyJhbGciOiJSUzI1NiJ9.e31.AAAA",	/* non-zero trailing bits */
		NULL,
	};
	const char *const *p;
	char *c = claims(NULL, 300);
	char deep[128];
	int i, all = 1;
	enum jwtv_err e;

	for (p = bad; *p != NULL; p++) {
		e = verify_str(v, *p, NULL);
		if (e != JWTV_MALFORMED && e != JWTV_BAD_ALG) {
			printf("  unexpected %s for \"%s\"\n", jwtv_reason(e), *p);
			all = 0;
		}
	}
	CHECK_MSG(all, "garbage strings are malformed or bad_alg");
	CHECK(verify_str(v, "a.b.c.d", NULL) == JWTV_MALFORMED);
	/* Not a JWS at all: an opaque access token, a JWE (five segments). */
	CHECK(verify_str(v, "Xk3nq0b2R7cT9LmYh5dW1sVa8uPz", NULL) == JWTV_NOT_JWS);
	CHECK(verify_str(v, "abc", NULL) == JWTV_NOT_JWS);
	CHECK(verify_str(v, "eyJhbGciOiJSUzI1NiJ9", NULL) == JWTV_NOT_JWS);
	CHECK(verify_str(v, "eyJhbGciOiJkaXIiLCJlbmMiOiJBMjU2R0NNIn0..aXY.Y3Q.dGFn", NULL) == JWTV_NOT_JWS);
	CHECK(verify_str(v, "a.b.c.d.e.f", NULL) == JWTV_MALFORMED);
	CHECK(verify_str(v, "eyJhbGciOiJSUzI1NiJ9.e30", NULL) == JWTV_MALFORMED);
	CHECK(verify_str(v, "eyJhbGc=iOiJSUzI1NiJ9.e30.AAAA", NULL) == JWTV_MALFORMED);
	CHECK(jwtv_verify(v, "a\0b.c.d", 7, now, &(struct jwtv_identity){ 0 }) == JWTV_MALFORMED);

	/* A well-signed token with 4 segments or with a NUL in it. */
	{
		char *t = tok("RS256", k1, "k1", c), *t4;

		if (asprintf(&t4, "%s.AAAA", t) < 0)
			exit(2);
		CHECK(verify_str(v, t4, NULL) == JWTV_MALFORMED);
		free(t4);
		*strrchr(t, '.') = '\0';
		CHECK(verify_str(v, t, NULL) == JWTV_MALFORMED);	/* 2 segments */
		free(t);
	}

	/* Headers and payloads that are not JSON objects or too deep. */
	CHECK(verify_raw(v, "{\"alg\":\"RS256\",\"kid\":\"k1\"", c) == JWTV_MALFORMED);
	CHECK(verify_raw(v, "{\"alg\":\"RS256\",\"kid\":\"k1\"} x", c) == JWTV_MALFORMED);
	CHECK(verify_raw(v, "{\"alg\":\"RS256\",\"kid\":\"k1\",}", c) == JWTV_MALFORMED);
	CHECK(verify_raw(v, "{'alg':'RS256','kid':'k1'}", c) == JWTV_MALFORMED);
	CHECK(verify_raw(v, "{\"alg\":\"RS256\",\"kid\":\"k1\"}", "[1]") == JWTV_MALFORMED);
	CHECK(verify_raw(v, "{\"alg\":\"RS256\",\"kid\":\"k1\"}", "\"str\"") == JWTV_MALFORMED);
	CHECK(verify_raw(v, "{\"alg\":\"RS256\",\"kid\":\"k1\"}", "{\"sub\":\"\xff\"}") == JWTV_MALFORMED);
	strcpy(deep, "{\"alg\":\"RS256\",\"kid\":\"k1\",\"x\":");
	for (i = 0; i < 20; i++)
		strcat(deep, "[");
	for (i = 0; i < 20; i++)
		strcat(deep, "]");
	strcat(deep, "}");
	CHECK(verify_raw(v, deep, c) == JWTV_MALFORMED);
	strcpy(deep, "{\"alg\":\"RS256\",\"kid\":\"k1\",\"x\":[[[[[]]]]]}");
	CHECK(verify_raw(v, deep, c) == JWTV_OK);

	/* Size limit: checked before anything else. */
	{
		char *big = malloc(JWTV_MAX_TOKEN + 2);
		struct jwtv_identity id;

		memset(big, 'A', JWTV_MAX_TOKEN + 1);
		big[JWTV_MAX_TOKEN + 1] = '\0';
		CHECK(verify_str(v, big, NULL) == JWTV_TOO_LARGE);
		CHECK(jwtv_verify(v, big, JWTV_MAX_TOKEN, now, &id) == JWTV_NOT_JWS);	/* no dot: opaque */
		big[100] = '.';
		big[200] = '.';
		CHECK(jwtv_verify(v, big, JWTV_MAX_TOKEN, now, &id) == JWTV_MALFORMED);
		CHECK(jwtv_verify(v, big, (size_t)-1, now, &id) == JWTV_TOO_LARGE);
		free(big);
	}
	free(c);
}

static void test_refresh(char *jwk1)
{
	char err[256] = "", tmp[160];
	char *jwk3 = mint_jwk(k3, "k3", "RS256");
	const char *set3[] = { jwk3, NULL };
	const char *set13[] = { jwk1, jwk3, NULL };
	char *c = claims(NULL, 300), *t1 = tok("RS256", k1, "k1", c), *t3 = tok("RS256", k3, "k3", c);
	struct jwtv *v = make(NULL, err, sizeof(err));
	struct stat st;

	CHECK(v != NULL);
	if (v == NULL)
		goto out;
	CHECK(jwtv_refresh(v, err, sizeof(err)) == 0);
	CHECK(verify_str(v, t3, NULL) == JWTV_UNKNOWN_KID);

	/* In-place rewrite (same inode), mtime forced to a different second. */
	stat(jwks_path, &st);
	write_jwks(jwks_path, set13);
	set_mtime(jwks_path, st.st_mtime - 100);
	CHECK(jwtv_refresh(v, err, sizeof(err)) == 1);
	CHECK(jwtv_key_count(v) == 2);
	CHECK(verify_str(v, t3, NULL) == JWTV_OK);
	CHECK(verify_str(v, t1, NULL) == JWTV_OK);
	CHECK(jwtv_refresh(v, err, sizeof(err)) == 0);

	/* Atomic replace by rename (new inode), possibly within the same mtime tick. */
	snprintf(tmp, sizeof(tmp), "%s.tmp", jwks_path);
	write_jwks(tmp, set3);
	if (rename(tmp, jwks_path) != 0)
		perror("rename");
	CHECK(jwtv_refresh(v, err, sizeof(err)) == 1);
	CHECK(jwtv_key_count(v) == 1);
	CHECK(verify_str(v, t1, NULL) == JWTV_UNKNOWN_KID);
	CHECK(verify_str(v, t3, NULL) == JWTV_OK);

	/* A broken file keeps the old keys; an unchanged broken file is not re-read. */
	err[0] = '\0';
	write_file(jwks_path, "{\"keys\":[{\"kty\":\"RSA\"");
	set_mtime(jwks_path, st.st_mtime - 50);
	CHECK(jwtv_refresh(v, err, sizeof(err)) == -1 && err[0] != '\0');
	CHECK(jwtv_key_count(v) == 1);
	CHECK(verify_str(v, t3, NULL) == JWTV_OK);
	CHECK(jwtv_refresh(v, err, sizeof(err)) == 0);
	err[0] = '\0';
	CHECK(jwtv_reload(v, err, sizeof(err)) == -1 && err[0] != '\0');
	CHECK(verify_str(v, t3, NULL) == JWTV_OK);

	/* Valid JSON without usable keys is also a failed reload. */
	write_file(jwks_path, "{\"keys\":[{\"kty\":\"EC\",\"kid\":\"e\"}]}");
	set_mtime(jwks_path, st.st_mtime - 40);
	CHECK(jwtv_refresh(v, err, sizeof(err)) == -1);
	CHECK(verify_str(v, t3, NULL) == JWTV_OK);

	/* A deleted file: refresh fails, keys stay. */
	unlink(jwks_path);
	err[0] = '\0';
	CHECK(jwtv_refresh(v, err, sizeof(err)) == -1 && strstr(err, jwks_path) != NULL);
	CHECK(verify_str(v, t3, NULL) == JWTV_OK);

	/* SIGHUP path: reload is unconditional. */
	write_jwks(jwks_path, set13);
	CHECK(jwtv_reload(v, err, sizeof(err)) == 1);
	CHECK(jwtv_key_count(v) == 2);
	CHECK(jwtv_reload(v, err, sizeof(err)) == 1);
	CHECK(verify_str(v, t1, NULL) == JWTV_OK);
out:
	jwtv_free(v);
	free(t1);
	free(t3);
	free(c);
	free(jwk3);
}

static void test_new_errors(void)
{
	char err[256] = "", path[160];
	struct jwtv_options o = { .jwks_file = "/nonexistent/jwks.json", .issuer = ISS, .audience = AUD };

	CHECK(jwtv_new(&o, err, sizeof(err)) == NULL);
	CHECK(strstr(err, "/nonexistent/jwks.json") != NULL);
	CHECK(jwtv_new(&o, NULL, 0) == NULL);	/* no error buffer is fine */

	snprintf(path, sizeof(path), "%s/bad.json", dir);
	o.jwks_file = path;
	write_file(path, "not json");
	err[0] = '\0';
	CHECK(jwtv_new(&o, err, sizeof(err)) == NULL && err[0] != '\0');
	write_file(path, "{\"keys\":{}}");
	err[0] = '\0';
	CHECK(jwtv_new(&o, err, sizeof(err)) == NULL && err[0] != '\0');
	write_file(path, "{\"keys\":[{\"kty\":\"RSA\",\"kid\":\"x\",\"n\":\"!!\",\"e\":\"AQAB\"}]}");
	err[0] = '\0';
	CHECK(jwtv_new(&o, err, sizeof(err)) == NULL && strstr(err, "no usable") != NULL);
	write_file(path, "{\"keys\":[]}");
	CHECK(jwtv_new(&o, err, sizeof(err)) == NULL);

	o.jwks_file = jwks_path;
	o.issuer = NULL;
	err[0] = '\0';
	CHECK(jwtv_new(&o, err, sizeof(err)) == NULL && err[0] != '\0');
	o.issuer = ISS;
	o.audience = "";
	CHECK(jwtv_new(&o, err, sizeof(err)) == NULL);
	o.audience = AUD;
	o.leeway = -1;
	CHECK(jwtv_new(&o, err, sizeof(err)) == NULL);
}

/* Claims copied into headers or the session are bounded and free of control characters, never truncated. */
static void test_identity_claims(struct jwtv *v)
{
	static const char hdr[] = "{\"alg\":\"RS256\",\"kid\":\"k1\"}";
	char big[JWTV_URL_CLAIM_MAX + 64], *c;
	struct jwtv_identity id;
	const struct { const char *sub, *extra; enum jwtv_err want; } cases[] = {
		{ "auth0|ok", "\"email\":\"ada@example.com\",\"name\":\"Ad\u00e9 L\"", JWTV_OK },
		{ "auth0|ok", "\"name\":null,\"email\":7", JWTV_OK },	/* not strings: not copied */
		{ "a\\r\\nX-Evil: 1", NULL, JWTV_BAD_CLAIM },
		{ "a b", NULL, JWTV_BAD_CLAIM },
		{ "a\\u007f", NULL, JWTV_BAD_CLAIM },
		{ "caf\u00e9", NULL, JWTV_BAD_CLAIM },	/* a header carries ASCII only */
		{ "auth0|ok", "\"" NS "tenant_id\":\"t\\n1\"", JWTV_BAD_CLAIM },
		{ "auth0|ok", "\"email\":\"a\\u0000@example.com\"", JWTV_MALFORMED },	/* jsonx refuses \u0000 */
		{ "auth0|ok", "\"name\":\"line\\nbreak\"", JWTV_BAD_CLAIM },
		{ "auth0|ok", "\"" NS "tenant_name\":\"tab\\there\"", JWTV_BAD_CLAIM },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		if (asprintf(&c, "{\"iss\":\"" ISS "\",\"aud\":\"" AUD "\",\"sub\":\"%s\",\"exp\":9999999999%s%s}",
			     cases[i].sub, cases[i].extra ? "," : "", cases[i].extra ? cases[i].extra : "") < 0)
			exit(2);
		CHECK_MSG(verify_raw(v, hdr, c) == cases[i].want, c);
		free(c);
	}
	/* Length limits: exactly the maximum passes, one more byte is refused (and named). */
	memset(big, 'x', sizeof(big));
	for (int over = 0; over < 2; over++) {
		char *t;

		big[JWTV_HEADER_CLAIM_MAX + over] = '\0';
		if (asprintf(&c, "{\"iss\":\"" ISS "\",\"aud\":\"" AUD "\",\"sub\":\"%s\",\"exp\":9999999999}", big) < 0)
			exit(2);
		t = tok("RS256", k1, "k1", c);
		CHECK(verify_str(v, t, &id) == (over ? JWTV_BAD_CLAIM : JWTV_OK));
		CHECK(over ? (id.sub == NULL && id.bad_claim && strcmp(id.bad_claim, "sub") == 0)
			   : (id.sub && strlen(id.sub) == JWTV_HEADER_CLAIM_MAX));
		jwtv_identity_free(&id);
		free(t);
		free(c);
		big[JWTV_HEADER_CLAIM_MAX + over] = 'x';
	}
	big[JWTV_URL_CLAIM_MAX + 1] = '\0';
	if (asprintf(&c, "{\"iss\":\"" ISS "\",\"aud\":\"" AUD "\",\"sub\":\"s\",\"exp\":9999999999,\"picture\":\"%s\"}", big) < 0)
		exit(2);
	CHECK(verify_raw(v, hdr, c) == JWTV_BAD_CLAIM);
	free(c);
}

/* jwk_set_check and the load report: kids of usable keys, skipped keys with their reasons. */
static void test_jwks_check(struct jwtv *v, const char *jwk1)
{
	struct jwks_info info;
	char err[256] = "", doc[4096];

	CHECK_STR(jwtv_info(v)->kids, "k1,k1noalg");
	CHECK(jwtv_info(v)->nskipped == 5);
	CHECK_MSG(strstr(jwtv_info(v)->skipped, "small:bad_rsa_key") != NULL &&
		  strstr(jwtv_info(v)->skipped, "enc1:use_not_sig") != NULL &&
		  strstr(jwtv_info(v)->skipped, "ec:kty_not_rsa") != NULL &&
		  strstr(jwtv_info(v)->skipped, "(none):not_an_object") != NULL,
		  "skipped keys are reported with kid and reason");
	CHECK(jwtv_loaded_mtime(v) > 0);
	snprintf(doc, sizeof(doc), "{\"keys\":[%s,%s]}", jwk1, jwk1);
	CHECK(jwk_set_check(doc, strlen(doc), &info, err, sizeof(err)) == 0 && info.nkeys == 1 &&
	      strcmp(info.skipped, "k1:duplicate_kid") == 0);
	CHECK(jwk_set_check("{\"keys\":[]}", 11, &info, err, sizeof(err)) == -1 &&
	      strstr(err, "no usable") != NULL);
	CHECK(jwk_set_check("<html>", 6, &info, err, sizeof(err)) == -1 && strstr(err, "not a JSON") != NULL);
	CHECK(jwk_set_check("{\"keys\":{}}", 11, &info, err, sizeof(err)) == -1);
}

/*
 * One JSON policy (jsonx.h) for a JWT's header and claims and for a JWKS: a
 * repeated member, NaN, single quotes, overlong UTF-8 or a \u0000 (in a kid
 * too) is malformed, never "the last one wins".
 */
static void test_json_policy(struct jwtv *v, const char *jwk1)
{
	static const char hdr[] = "{\"alg\":\"RS256\",\"kid\":\"k1\"}";
	static const char good[] = "{\"iss\":\"" ISS "\",\"aud\":\"" AUD "\",\"sub\":\"s\",\"exp\":9999999999}";
	static const struct { const char *hdr, *claims; } cases[] = {
		{ "{\"alg\":\"RS256\",\"kid\":\"k1\",\"alg\":\"RS256\"}", good },
		{ "{\"alg\":\"none\",\"alg\":\"RS256\",\"kid\":\"k1\"}", good },
		{ "{\"alg\":\"RS256\",\"kid\":\"nope\",\"kid\":\"k1\"}", good },
		{ "{\"alg\":\"RS256\",\"kid\":\"k1\\u0000x\"}", good },
		{ "{\"alg\":\"RS256\",\"kid\":\"k1\",\"x\":NaN}", good },
		{ "{'alg':'RS256','kid':'k1'}", good },
		{ "{\"alg\":\"RS256\",\"kid\":\"k1\",\"x\":\"\xc0\xaf\"}", good },
		{ hdr, "{\"iss\":\"https://evil.example/\",\"iss\":\"" ISS "\",\"aud\":\"" AUD "\",\"sub\":\"s\",\"exp\":9999999999}" },
		{ hdr, "{\"iss\":\"" ISS "\",\"aud\":\"" AUD "\",\"aud\":\"https://other.example\",\"sub\":\"s\",\"exp\":9999999999}" },
		{ hdr, "{\"iss\":\"" ISS "\",\"aud\":\"" AUD "\",\"sub\":\"s\",\"sub\":\"t\",\"exp\":9999999999}" },
		{ hdr, "{\"iss\":\"" ISS "\",\"aud\":\"" AUD "\",\"sub\":\"s\",\"exp\":NaN}" },
		{ hdr, "{\"iss\":\"" ISS "\",\"aud\":\"" AUD "\",\"sub\":\"s\",\"exp\":9999999999,\"x\":{\"a\":1,\"a\":2}}" },
		{ hdr, "{'iss':'" ISS "','aud':'" AUD "','sub':'s','exp':9999999999}" },
		{ hdr, "{\"iss\":\"" ISS "\",\"aud\":\"" AUD "\",\"sub\":\"s\xc0\xaf\",\"exp\":9999999999}" },
	};
	struct jwks_info info;
	char err[256], doc[4096], *jwk;

	CHECK(verify_raw(v, hdr, good) == JWTV_OK);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		CHECK_MSG(verify_raw(v, cases[i].hdr, cases[i].claims) == JWTV_MALFORMED, check_quote(cases[i].hdr));
	/* A JWK that names two kids (or a kid with a NUL) makes the document unusable, not one of its keys. */
	if (asprintf(&jwk, "{\"kid\":\"other\",%s", jwk1 + 1) < 0)
		exit(2);
	snprintf(doc, sizeof(doc), "{\"keys\":[%s]}", jwk);
	CHECK(jwk_set_check(doc, strlen(doc), &info, err, sizeof(err)) == -1 && strstr(err, "repeated") != NULL);
	free(jwk);
	snprintf(doc, sizeof(doc), "{\"keys\":[%s],\"keys\":[]}", jwk1);
	CHECK(jwk_set_check(doc, strlen(doc), &info, err, sizeof(err)) == -1 && strstr(err, "repeated") != NULL);
	{
		const char *at = strstr(jwk1, "\"kid\":\"k1\"");

		if (at == NULL || asprintf(&jwk, "%.*s\"kid\":\"k1\\u0000x\"%s", (int)(at - jwk1), jwk1,
					   at + strlen("\"kid\":\"k1\"")) < 0)
			exit(2);
	}
	snprintf(doc, sizeof(doc), "{\"keys\":[%s]}", jwk);
	CHECK(jwk_set_check(doc, strlen(doc), &info, err, sizeof(err)) == -1);
	free(jwk);
	snprintf(doc, sizeof(doc), "{\"keys\":[%s],\"x\":NaN}", jwk1);
	CHECK(jwk_set_check(doc, strlen(doc), &info, err, sizeof(err)) == -1);
	snprintf(doc, sizeof(doc), "{'keys':[%s]}", jwk1);
	CHECK(jwk_set_check(doc, strlen(doc), &info, err, sizeof(err)) == -1);
	snprintf(doc, sizeof(doc), "{\"keys\":[%s],\"x\":\"\xe0\x80\xaf\"}", jwk1);
	CHECK(jwk_set_check(doc, strlen(doc), &info, err, sizeof(err)) == -1);
	snprintf(doc, sizeof(doc), "{\"keys\":[%s]}", jwk1);
	CHECK(jwk_set_check(doc, strlen(doc), &info, err, sizeof(err)) == 0 && info.nkeys == 1);
}

static void test_reasons(void)
{
	int i, j, distinct = 1;

	CHECK_STR(jwtv_reason(JWTV_EXPIRED), "expired");
	CHECK_STR(jwtv_reason(JWTV_BAD_SIGNATURE), "bad_signature");
	CHECK_STR(jwtv_reason(JWTV_OK), "ok");
	CHECK_STR(jwtv_reason((enum jwtv_err)99), "unknown");
	CHECK_STR(jwtv_reason(JWTV_BAD_CLAIM), "bad_claim");
	CHECK_STR(jwtv_reason(JWTV_NOT_JWS), "not_jws");
	for (i = JWTV_OK; i <= JWTV_NOT_JWS; i++)
		for (j = i + 1; j <= JWTV_NOT_JWS; j++)
			if (strcmp(jwtv_reason((enum jwtv_err)i), jwtv_reason((enum jwtv_err)j)) == 0 ||
			    strcmp(jwtv_reason((enum jwtv_err)i), "unknown") == 0)
				distinct = 0;
	CHECK_MSG(distinct, "reasons are distinct and known");
}

int main(void)
{
	char err[256] = "";
	char *jwk1, *jwk1noalg, *jwk2bad, *jwksmall, *jwkenc;
	struct jwtv *v;

	now = time(NULL);
	snprintf(dir, sizeof(dir), "/tmp/test_jwtv.XXXXXX");
	if (mkdtemp(dir) == NULL) {
		perror("mkdtemp");
		return 2;
	}
	snprintf(jwks_path, sizeof(jwks_path), "%s/jwks.json", dir);
	k1 = mint_keygen(2048);
	k2 = mint_keygen(2048);
	k3 = mint_keygen(2048);
	ksmall = mint_keygen(1024);
	if (k1 == NULL || k2 == NULL || k3 == NULL || ksmall == NULL) {
		fprintf(stderr, "keygen failed\n");
		return 2;
	}
	jwk1 = mint_jwk(k1, "k1", "RS256");
	jwk1noalg = mint_jwk(k1, "k1noalg", NULL);
	jwksmall = mint_jwk(ksmall, "small", "RS256");
	jwkenc = mint_jwk(k2, "enc1", "RS256");
	{	/* use=enc instead of sig */
		char *p = strstr(jwkenc, "\"sig\"");

		memcpy(p, "\"enc\"", 5);
	}
	jwk2bad = strdup("{\"kty\":\"RSA\",\"kid\":\"bad\",\"n\":\"a=b\",\"e\":\"AQAB\"}");
	{
		const char *set[] = { jwk1, jwk1noalg, jwksmall, jwkenc, jwk2bad,
				      "{\"kty\":\"EC\",\"kid\":\"ec\",\"crv\":\"P-256\"}", "42", NULL };

		write_jwks(jwks_path, set);
	}

	v = make("RS256", err, sizeof(err));
	CHECK_MSG(v != NULL, "jwtv_new loads the JWKS");
	if (v == NULL) {
		printf("  %s\n", err);
		return check_done();
	}
	CHECK(jwtv_key_count(v) == 2);	/* k1, k1noalg; the rest skipped */

	test_valid(v);
	test_time(v);
	test_leeway_zero();
	test_iss_aud_sub(v);
	test_keys_and_algs(v);
	test_malformed(v);
	test_new_errors();
	test_identity_claims(v);
	test_reasons();
	test_jwks_check(v, jwk1);
	test_json_policy(v, jwk1);
	jwtv_free(v);
	test_refresh(jwk1);

	free(jwk1);
	free(jwk1noalg);
	free(jwk2bad);
	free(jwksmall);
	free(jwkenc);
	EVP_PKEY_free(k1);
	EVP_PKEY_free(k2);
	EVP_PKEY_free(k3);
	EVP_PKEY_free(ksmall);
	{
		char path[160];

		snprintf(path, sizeof(path), "%s/bad.json", dir);
		unlink(path);
		unlink(jwks_path);
		rmdir(dir);
	}
	return check_done();
}
