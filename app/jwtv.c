/*
 * jwtv — Auth0 access-token (JWS compact, RS256/RS384/RS512) verification.
 *
 * libjwt 1.10.2 trusts the header: it verifies with whatever "alg" the token
 * names (an HS256 token keyed with the RSA public-key PEM verifies) and checks
 * no claims. So everything that decides *whether* to verify and *what the
 * token says* is done here: the token is split and base64url-decoded by hand,
 * the header and payload are parsed with json-c (strict, depth-limited), the
 * alg is checked against the allow-list (never "none", never HS*), the key is
 * chosen by kid from the JWKS, and the claims are checked on the json-c parse.
 *
 * The RS256/384/512 signature is verified directly with OpenSSL
 * (EVP_DigestVerify, PKCS#1 v1.5) on an EVP_PKEY built from the JWK n/e once
 * at load time, over exactly the bytes parsed here. libjwt is NOT used for
 * this: measured on 1.10.2, jwt_decode() rejects "typ":"at+jwt" (Auth0's RFC
 * 9068 access-token profile), re-parses header and payload with jansson,
 * which rejects JSON json-c accepts (integers past int64, "\u0000"), so a
 * good token would be reported as a bad signature, and it re-reads the PEM on
 * every call. So this file does not call libjwt at all; the unit test uses
 * jwt_decode() to show the HS256-keyed-with-the-PEM confusion it allows.
 *
 * No global state; a struct jwtv belongs to one process and one thread.
 */
#include "jwtv.h"

#include "errbuf.h"
#include "token.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <json-c/json.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <openssl/err.h>

#define JSON_MAX_DEPTH 16
#define JWKS_MAX_BYTES (1024 * 1024)
#define RSA_MIN_BITS 2048
#define RSA_MAX_BITS 16384

enum alg { ALG_RS256 = 1, ALG_RS384 = 2, ALG_RS512 = 4 };

static const struct {
	const char *name;
	unsigned bit;
} algs[] = {
	{ "RS256", ALG_RS256 },
	{ "RS384", ALG_RS384 },
	{ "RS512", ALG_RS512 },
};
#define NALGS (sizeof(algs) / sizeof(algs[0]))

struct key {
	char *kid;
	unsigned alg;      /* one ALG_* bit when the JWK names an alg, 0 = any allowed */
	EVP_PKEY *pkey;    /* RSA public key */
	size_t sig_len;    /* modulus size in bytes = RS* signature length */
};

struct fsig {
	int valid;
	dev_t dev;
	ino_t ino;
	off_t size;
	struct timespec mtim, ctim;
};

struct jwtv {
	char *jwks_file, *issuer, *audience;
	unsigned algs;
	long leeway;
	char *claim_email, *claim_name, *claim_picture, *claim_tenant_id, *claim_tenant_name, *claim_sid;
	struct key *keys;
	size_t nkeys;
	struct fsig seen;  /* file identity of the last load attempt */
	struct jwtv_jwks_info info;   /* of the keys in use */
	time_t loaded_mtime;          /* mtime of the file the keys in use came from */
};

/* ---- small helpers ------------------------------------------------------ */


static void *xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);

	if (p == NULL)
		abort();
	return p;
}

static char *xstrndup(const char *s, size_t n)
{
	char *p = xmalloc(n + 1);

	memcpy(p, s, n);
	p[n] = '\0';
	return p;
}

/* NULL or "" → NULL; otherwise a malloc'd copy. */
static char *optdup(const char *s)
{
	return s != NULL && *s != '\0' ? xstrndup(s, strlen(s)) : NULL;
}

/*
 * Decodes base64url into a new NUL-terminated buffer (caller frees), or NULL
 * on a bad character, a bad length or non-canonical trailing bits.
 */
static unsigned char *jwt_b64_decode(const char *in, size_t len, size_t *outlen)
{
	size_t cap = len / 4 * 3 + 3;
	unsigned char *out = xmalloc(cap);
	long n = token_b64url_decode(in, len, out, cap - 1);

	/* token.c ignores leftover bits; a JWS segment must not carry any. */
	if (n < 0 || (len % 4 == 2 && (token_b64url_value((unsigned char)in[len - 1]) & 15) != 0) ||
	    (len % 4 == 3 && (token_b64url_value((unsigned char)in[len - 1]) & 3) != 0)) {
		free(out);
		return NULL;
	}
	out[n] = '\0';
	*outlen = (size_t)n;
	return out;
}

/*
 * Parses exactly buf[0..len) as one JSON value (strict, UTF-8 validated,
 * nesting limited). Returns a new reference or NULL.
 */
static json_object *parse_json(const char *buf, size_t len)
{
	json_tokener *tok;
	json_object *obj = NULL;

	if (len > INT32_MAX)
		return NULL;
	tok = json_tokener_new_ex(JSON_MAX_DEPTH);
	if (tok == NULL)
		abort();
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
	obj = json_tokener_parse_ex(tok, buf, (int)len);
	if (obj == NULL || json_tokener_get_error(tok) != json_tokener_success ||
	    json_tokener_get_parse_end(tok) != len) {
		json_object_put(obj);
		obj = NULL;
	}
	json_tokener_free(tok);
	return obj;
}

/* The string value of obj[name] when it is a string without embedded NULs, else NULL. */
static const char *get_str(json_object *obj, const char *name, size_t *lenp)
{
	json_object *v;
	const char *s;
	int n;

	if (name == NULL || !json_object_object_get_ex(obj, name, &v) ||
	    !json_object_is_type(v, json_type_string))
		return NULL;
	s = json_object_get_string(v);
	n = json_object_get_string_len(v);
	if (s == NULL || n < 0 || memchr(s, '\0', (size_t)n) != NULL)
		return NULL;
	if (lenp != NULL)
		*lenp = (size_t)n;
	return s;
}

static int str_eq(json_object *v, const char *want)
{
	const char *s;
	int n;

	if (!json_object_is_type(v, json_type_string))
		return 0;
	s = json_object_get_string(v);
	n = json_object_get_string_len(v);
	return s != NULL && n >= 0 && (size_t)n == strlen(want) && memcmp(s, want, (size_t)n) == 0;
}

static unsigned alg_bit(const char *name, size_t len)
{
	size_t i;

	for (i = 0; i < NALGS; i++)
		if (strlen(algs[i].name) == len && memcmp(algs[i].name, name, len) == 0)
			return algs[i].bit;
	return 0;
}

/*
 * Parses the comma-separated allow-list into ALG_* bits. Only RS256/384/512
 * are accepted: "none", HS* and anything unknown make the options invalid.
 * Returns 0 with a message on error.
 */
static unsigned parse_algs(const char *list, char *err, size_t errlen)
{
	unsigned bits = 0;
	const char *p = list != NULL && *list != '\0' ? list : "RS256";

	while (*p != '\0') {
		const char *start, *end;
		unsigned b;

		while (*p == ' ' || *p == '\t' || *p == ',')
			p++;
		if (*p == '\0')
			break;
		start = p;
		while (*p != '\0' && *p != ',')
			p++;
		end = p;
		while (end > start && (end[-1] == ' ' || end[-1] == '\t'))
			end--;
		b = alg_bit(start, (size_t)(end - start));
		if (b == 0) {
			errbuf_set(err, errlen, "jwt_algorithms: '%.*s' is not allowed (only RS256, RS384, RS512)",
			       (int)(end - start > 32 ? 32 : end - start), start);
			return 0;
		}
		bits |= b;
	}
	if (bits == 0)
		errbuf_set(err, errlen, "jwt_algorithms: empty list");
	return bits;
}

/* ---- JWKS loading ------------------------------------------------------- */

static void keys_free(struct key *keys, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		free(keys[i].kid);
		EVP_PKEY_free(keys[i].pkey);
	}
	free(keys);
}

/* Hands a key list over: frees what *dst held, moves *src into it, leaves *src empty. */
static void keys_move(struct key **dst, size_t *ndst, struct key **src, size_t *nsrc)
{
	keys_free(*dst, *ndst);
	*dst = *src;
	*ndst = *nsrc;
	*src = NULL;
	*nsrc = 0;
}

/*
 * Builds the RSA public key from base64url n and e. Returns 0 and fills
 * k->pkey/sig_len, or -1 (bad encoding, too small, OpenSSL error).
 */
static int jwk_to_pkey(const char *n64, size_t nlen, const char *e64, size_t elen, struct key *k)
{
	unsigned char *n = NULL, *e = NULL;
	size_t nbytes = 0, ebytes = 0;
	BIGNUM *bn_n = NULL, *bn_e = NULL;
	OSSL_PARAM_BLD *bld = NULL;
	OSSL_PARAM *params = NULL;
	EVP_PKEY_CTX *ctx = NULL;
	EVP_PKEY *pkey = NULL;
	int bits, rc = -1;

	n = jwt_b64_decode(n64, nlen, &nbytes);
	e = jwt_b64_decode(e64, elen, &ebytes);
	if (n == NULL || e == NULL || nbytes == 0 || ebytes == 0 || ebytes > 8)
		goto out;
	bn_n = BN_bin2bn(n, (int)nbytes, NULL);
	bn_e = BN_bin2bn(e, (int)ebytes, NULL);
	if (bn_n == NULL || bn_e == NULL)
		goto out;
	bits = BN_num_bits(bn_n);
	if (bits < RSA_MIN_BITS || bits > RSA_MAX_BITS || !BN_is_odd(bn_e) || BN_is_one(bn_e))
		goto out;
	bld = OSSL_PARAM_BLD_new();
	if (bld == NULL ||
	    !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, bn_n) ||
	    !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, bn_e))
		goto out;
	params = OSSL_PARAM_BLD_to_param(bld);
	ctx = EVP_PKEY_CTX_new_from_name(NULL, "RSA", NULL);
	if (params == NULL || ctx == NULL || EVP_PKEY_fromdata_init(ctx) <= 0 ||
	    EVP_PKEY_fromdata(ctx, &pkey, EVP_PKEY_PUBLIC_KEY, params) <= 0)
		goto out;
	if (EVP_PKEY_get_bits(pkey) != bits)
		goto out;
	k->pkey = pkey;
	pkey = NULL;
	k->sig_len = (size_t)(bits + 7) / 8;
	rc = 0;
out:
	EVP_PKEY_free(pkey);
	EVP_PKEY_CTX_free(ctx);
	OSSL_PARAM_free(params);
	OSSL_PARAM_BLD_free(bld);
	BN_free(bn_n);
	BN_free(bn_e);
	free(n);
	free(e);
	return rc;
}

/*
 * One JWK → k. Returns NULL when usable, else the reason it is skipped (a
 * static string). *kidp points at its kid (inside jwk) when it has one.
 */
static const char *jwk_parse(json_object *jwk, const struct key *have, size_t nhave, struct key *k,
			     const char **kidp)
{
	const char *kid, *n, *e, *alg;
	size_t kidlen, nlen, elen, alglen, i;
	json_object *tmp;

	memset(k, 0, sizeof(*k));
	*kidp = NULL;
	if (!json_object_is_type(jwk, json_type_object))
		return "not_an_object";
	kid = get_str(jwk, "kid", &kidlen);
	if (kid != NULL && kidlen > 0 && memchr(kid, '\0', kidlen) == NULL)
		*kidp = kid;
	if (!json_object_object_get_ex(jwk, "kty", &tmp) || !str_eq(tmp, "RSA"))
		return "kty_not_rsa";
	if (json_object_object_get_ex(jwk, "use", &tmp) && !str_eq(tmp, "sig"))
		return "use_not_sig";
	n = get_str(jwk, "n", &nlen);
	e = get_str(jwk, "e", &elen);
	if (kid == NULL || kidlen == 0)
		return "no_kid";
	if (n == NULL || e == NULL)
		return "no_n_or_e";
	for (i = 0; i < nhave; i++)	/* a duplicate kid is ambiguous: first wins */
		if (strcmp(have[i].kid, kid) == 0)
			return "duplicate_kid";
	if (json_object_object_get_ex(jwk, "alg", &tmp)) {
		alg = get_str(jwk, "alg", &alglen);
		if (alg == NULL || (k->alg = alg_bit(alg, alglen)) == 0)
			return "unsupported_alg";	/* a key for some other algorithm */
	}
	if (jwk_to_pkey(n, nlen, e, elen, k) != 0)
		return "bad_rsa_key";
	k->kid = xstrndup(kid, kidlen);
	return NULL;
}

/* Appends "sep item" to a NUL-terminated list of capacity cap, ending it with "..." when full. */
static void list_add(char *list, size_t cap, const char *item, const char *suffix)
{
	size_t used = strlen(list), need = strlen(item) + (suffix ? strlen(suffix) : 0) + (used ? 1 : 0);

	if (used >= 3 && strcmp(list + used - 3, "...") == 0)
		return;
	if (used + need + 4 > cap) {
		if (used + 4 <= cap)
			memcpy(list + used, "...", 4);
		return;
	}
	snprintf(list + used, cap - used, "%s%s%s", used ? "," : "", item, suffix ? suffix : "");
}

/*
 * Parses a whole JWKS document. On success returns 0 with the usable keys in
 * *keysp and *nkeysp (caller frees with keys_free) and what was found in *info;
 * on failure -1 with a message (prefixed by what) in err.
 */
static int parse_doc(const char *buf, size_t len, const char *what, struct key **keysp, size_t *nkeysp,
		     struct jwtv_jwks_info *info, char *err, size_t errlen)
{
	json_object *root, *arr;
	struct key *keys = NULL;
	size_t nkeys = 0, n, i;
	int rc = -1;

	memset(info, 0, sizeof(*info));
	root = parse_json(buf, len);
	if (root == NULL || !json_object_is_type(root, json_type_object)) {
		errbuf_set(err, errlen, "%s: not a JSON object", what);
		goto out;
	}
	if (!json_object_object_get_ex(root, "keys", &arr) || !json_object_is_type(arr, json_type_array)) {
		errbuf_set(err, errlen, "%s: no \"keys\" array", what);
		goto out;
	}
	n = json_object_array_length(arr);
	keys = xmalloc(sizeof(*keys) * (n ? n : 1));
	for (i = 0; i < n; i++) {
		const char *kid, *why;
		char item[96];

		why = jwk_parse(json_object_array_get_idx(arr, i), keys, nkeys, &keys[nkeys], &kid);
		if (why == NULL) {
			list_add(info->kids, sizeof(info->kids), keys[nkeys].kid, NULL);
			nkeys++;
			continue;
		}
		info->nskipped++;
		snprintf(item, sizeof(item), "%.64s:", kid ? kid : "(none)");
		list_add(info->skipped, sizeof(info->skipped), item, why);
	}
	if (nkeys == 0) {
		errbuf_set(err, errlen, "%s: no usable RSA signing key (%zu skipped)", what, info->nskipped);
		goto out;
	}
	info->nkeys = nkeys;
	keys_move(keysp, nkeysp, &keys, &nkeys);
	rc = 0;
out:
	keys_free(keys, nkeys);
	json_object_put(root);
	return rc;
}

static void fsig_from_stat(struct fsig *f, const struct stat *st)
{
	memset(f, 0, sizeof(*f));
	f->valid = 1;
	f->dev = st->st_dev;
	f->ino = st->st_ino;
	f->size = st->st_size;
	f->mtim = st->st_mtim;
	f->ctim = st->st_ctim;
}

static int fsig_eq(const struct fsig *a, const struct fsig *b)
{
	return a->valid && b->valid && a->dev == b->dev && a->ino == b->ino &&
	       a->size == b->size &&
	       a->mtim.tv_sec == b->mtim.tv_sec && a->mtim.tv_nsec == b->mtim.tv_nsec &&
	       a->ctim.tv_sec == b->ctim.tv_sec && a->ctim.tv_nsec == b->ctim.tv_nsec;
}

/*
 * Reads and parses the JWKS file. On success replaces v's keys and returns 0;
 * on failure keeps them, writes err and returns -1. Either way v->seen is set
 * to the identity of the file that was read, so an unchanged broken file is
 * not re-read on every refresh.
 */
static int jwks_load(struct jwtv *v, char *err, size_t errlen)
{
	struct stat st;
	char *buf = NULL, what[300];
	size_t got = 0, nkeys = 0;
	struct key *keys = NULL;
	struct jwtv_jwks_info info;
	int fd, rc = -1;

	fd = open(v->jwks_file, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		errbuf_set(err, errlen, "jwks_file %s: %s", v->jwks_file, strerror(errno));
		v->seen.valid = 0;
		return -1;
	}
	if (fstat(fd, &st) != 0) {
		errbuf_set(err, errlen, "jwks_file %s: %s", v->jwks_file, strerror(errno));
		v->seen.valid = 0;
		goto out;
	}
	fsig_from_stat(&v->seen, &st);
	if (!S_ISREG(st.st_mode) || st.st_size > JWKS_MAX_BYTES) {
		errbuf_set(err, errlen, "jwks_file %s: not a regular file of at most %d bytes",
		       v->jwks_file, JWKS_MAX_BYTES);
		goto out;
	}
	buf = xmalloc(JWKS_MAX_BYTES + 1);
	for (;;) {
		ssize_t r = read(fd, buf + got, JWKS_MAX_BYTES + 1 - got);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			errbuf_set(err, errlen, "jwks_file %s: %s", v->jwks_file, strerror(errno));
			goto out;
		}
		if (r == 0)
			break;
		got += (size_t)r;
		if (got > JWKS_MAX_BYTES) {
			errbuf_set(err, errlen, "jwks_file %s: larger than %d bytes", v->jwks_file, JWKS_MAX_BYTES);
			goto out;
		}
	}
	snprintf(what, sizeof(what), "jwks_file %s", v->jwks_file);
	if (parse_doc(buf, got, what, &keys, &nkeys, &info, err, errlen) != 0)
		goto out;
	keys_move(&v->keys, &v->nkeys, &keys, &nkeys);
	v->info = info;
	v->loaded_mtime = st.st_mtim.tv_sec;
	rc = 0;
out:
	keys_free(keys, nkeys);
	free(buf);
	close(fd);
	return rc;
}

/* ---- public API --------------------------------------------------------- */

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
	if ((bits = parse_algs(opt->algorithms, err, errlen)) == 0)
		return NULL;
	v = xmalloc(sizeof(*v));
	memset(v, 0, sizeof(*v));
	v->jwks_file = optdup(opt->jwks_file);
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
	if (jwks_load(v, err, errlen) != 0) {
		jwtv_free(v);
		return NULL;
	}
	return v;
}

/* Returns 1 reloaded, 0 unchanged, -1 reload failed (old keys kept, message in err). */
int jwtv_refresh(struct jwtv *v, char *err, size_t errlen)
{
	struct stat st;
	struct fsig now;

	if (stat(v->jwks_file, &st) != 0) {
		errbuf_set(err, errlen, "jwks_file %s: %s", v->jwks_file, strerror(errno));
		return -1;
	}
	fsig_from_stat(&now, &st);
	if (fsig_eq(&now, &v->seen))
		return 0;
	return jwtv_reload(v, err, errlen);
}

/* Returns 1 reloaded, -1 reload failed (old keys kept, message in err). */
int jwtv_reload(struct jwtv *v, char *err, size_t errlen)
{
	return jwks_load(v, err, errlen) == 0 ? 1 : -1;
}

static const struct key *find_key(const struct jwtv *v, const char *kid, size_t kidlen)
{
	size_t i;

	for (i = 0; i < v->nkeys; i++)
		if (strlen(v->keys[i].kid) == kidlen && memcmp(v->keys[i].kid, kid, kidlen) == 0)
			return &v->keys[i];
	return NULL;
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
	if ((s = get_str(hdr, "typ", NULL)) == NULL)
		return 0;
	if (strncasecmp(s, "application/", 12) == 0)	/* RFC 7515 §4.1.9: prefix may be omitted */
		s += 12;
	return strcasecmp(s, "JWT") == 0 || strcasecmp(s, logout ? "logout+jwt" : "at+jwt") == 0;
}

/* Checks the header; on success *keyp and *algp are the key and ALG_* bit to verify with. */
static enum jwtv_err check_header(const struct jwtv *v, json_object *hdr, int logout, const struct key **keyp,
				  unsigned *algp)
{
	const char *alg, *kid;
	size_t alglen, kidlen;
	const struct key *k;
	unsigned bit;

	if (!typ_ok(hdr, logout))
		return JWTV_MALFORMED;
	if (json_object_object_get_ex(hdr, "crit", NULL))
		return JWTV_MALFORMED;	/* no extensions are understood (RFC 7515 §4.1.11) */
	if ((alg = get_str(hdr, "alg", &alglen)) == NULL)
		return JWTV_BAD_ALG;
	bit = alg_bit(alg, alglen);	/* only RS* can ever match: none and HS* never do */
	if (bit == 0 || (v->algs & bit) == 0)
		return JWTV_BAD_ALG;
	if ((kid = get_str(hdr, "kid", &kidlen)) == NULL)
		return JWTV_UNKNOWN_KID;
	if (v->nkeys == 0)
		return JWTV_NO_KEYS;
	if ((k = find_key(v, kid, kidlen)) == NULL)
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
	case ALG_RS256: return EVP_sha256();
	case ALG_RS384: return EVP_sha384();
	case ALG_RS512: return EVP_sha512();
	}
	return NULL;
}

/*
 * RSASSA-PKCS1-v1_5 check of sig[0..siglen) over signed[0..signedlen) (the
 * "header.payload" bytes) with k's key and the digest of the checked alg.
 */
static enum jwtv_err check_signature(const char *signed_part, size_t signedlen,
				     const unsigned char *sig, size_t siglen,
				     const struct key *k, unsigned bit)
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

	if (!json_object_object_get_ex(pl, "iss", &iss) || !str_eq(iss, v->issuer))
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
	if (logout_auds == NULL && (get_str(pl, "sub", &sublen) == NULL || sublen == 0))
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
	const char *s = get_str(pl, name, &n);

	return s != NULL ? xstrndup(s, n) : NULL;
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
	const struct key *k = NULL;
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
	hraw = jwt_b64_decode(token, (size_t)(dot1 - token), &hlen);
	praw = jwt_b64_decode(dot1 + 1, (size_t)(dot2 - dot1 - 1), &plen);
	sraw = jwt_b64_decode(dot2 + 1, len - (size_t)(dot2 + 1 - token), &slen);
	if (hraw == NULL || praw == NULL || sraw == NULL) {
		rc = JWTV_MALFORMED;
		goto out;
	}
	hdr = parse_json((const char *)hraw, hlen);
	if (hdr == NULL || !json_object_is_type(hdr, json_type_object)) {
		rc = JWTV_MALFORMED;
		goto out;
	}
	if ((rc = check_header(v, hdr, logout, &k, &bit)) != JWTV_OK)
		goto out;
	pl = parse_json((const char *)praw, plen);
	if (pl == NULL || !json_object_is_type(pl, json_type_object)) {
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
	if ((s = get_str(pl, "jti", &n)) == NULL || n == 0 || n > JWTV_HEADER_CLAIM_MAX || !claim_ok(pl, "jti", n, 1))
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
	if (get_str(pl, "sid", NULL) == NULL && get_str(pl, "sub", NULL) == NULL)
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

/* Returns 0 with the usable keys' kids in *info, or -1 with a message in err. */
int jwtv_jwks_check(const char *buf, size_t len, struct jwtv_jwks_info *info, char *err, size_t errlen)
{
	struct key *keys = NULL;
	size_t nkeys = 0;

	if (len > JWKS_MAX_BYTES) {
		memset(info, 0, sizeof(*info));
		errbuf_set(err, errlen, "JWKS larger than %d bytes", JWKS_MAX_BYTES);
		return -1;
	}
	if (parse_doc(buf, len, "JWKS", &keys, &nkeys, info, err, errlen) != 0)
		return -1;
	keys_free(keys, nkeys);
	return 0;
}

/* What the keys in use were loaded from; NULL-safe (then NULL). */
const struct jwtv_jwks_info *jwtv_info(const struct jwtv *v)
{
	return v != NULL ? &v->info : NULL;
}

/* The mtime of the file the keys in use were read from (0 for NULL). */
time_t jwtv_loaded_mtime(const struct jwtv *v)
{
	return v != NULL ? v->loaded_mtime : 0;
}

/* Returns the number of usable keys currently loaded. */
size_t jwtv_key_count(const struct jwtv *v)
{
	return v != NULL ? v->nkeys : 0;
}

/* Frees v and everything it owns. NULL-safe. */
void jwtv_free(struct jwtv *v)
{
	if (v == NULL)
		return;
	keys_free(v->keys, v->nkeys);
	free(v->jwks_file);
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
