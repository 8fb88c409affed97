/* The JWKS key set: JWKs turned into OpenSSL keys, loaded from a file and kept in step with it, a document checked whole. */
#include "jwk_set.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/param_build.h>

#include "errbuf.h"
#include "jsonx.h"
#include "token.h"

#define RSA_MIN_BITS 2048
#define RSA_MAX_BITS 16384

static const struct {
	const char *name;
	unsigned bit;
} algs[] = {
	{ "RS256", JWK_RS256 },
	{ "RS384", JWK_RS384 },
	{ "RS512", JWK_RS512 },
};
#define NALGS (sizeof(algs) / sizeof(algs[0]))

/* ---- small helpers ------------------------------------------------------ */

void *jwk_xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);

	if (p == NULL)
		abort();
	return p;
}

char *jwk_strndup(const char *s, size_t n)
{
	char *p = jwk_xmalloc(n + 1);

	memcpy(p, s, n);
	p[n] = '\0';
	return p;
}

/*
 * Decodes base64url into a new NUL-terminated buffer (caller frees), or NULL
 * on a bad character, a bad length or non-canonical trailing bits.
 */
unsigned char *jwk_b64_decode(const char *in, size_t len, size_t *outlen)
{
	size_t cap = len / 4 * 3 + 3;
	unsigned char *out = jwk_xmalloc(cap);
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

/* The string value of obj[name] when it is a string without embedded NULs, else NULL. */
const char *jwk_get_str(json_object *obj, const char *name, size_t *lenp)
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

int jwk_str_eq(json_object *v, const char *want)
{
	const char *s;
	int n;

	if (!json_object_is_type(v, json_type_string))
		return 0;
	s = json_object_get_string(v);
	n = json_object_get_string_len(v);
	return s != NULL && n >= 0 && (size_t)n == strlen(want) && memcmp(s, want, (size_t)n) == 0;
}

unsigned jwk_alg_bit(const char *name, size_t len)
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
unsigned jwk_parse_algs(const char *list, char *err, size_t errlen)
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
		b = jwk_alg_bit(start, (size_t)(end - start));
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

static void keys_free(struct jwk_key *keys, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		free(keys[i].kid);
		EVP_PKEY_free(keys[i].pkey);
	}
	free(keys);
}

/* Hands a key list over: frees what *dst held, moves *src into it, leaves *src empty. */
static void keys_move(struct jwk_key **dst, size_t *ndst, struct jwk_key **src, size_t *nsrc)
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
static int jwk_to_pkey(const char *n64, size_t nlen, const char *e64, size_t elen, struct jwk_key *k)
{
	unsigned char *n = NULL, *e = NULL;
	size_t nbytes = 0, ebytes = 0;
	BIGNUM *bn_n = NULL, *bn_e = NULL;
	OSSL_PARAM_BLD *bld = NULL;
	OSSL_PARAM *params = NULL;
	EVP_PKEY_CTX *ctx = NULL;
	EVP_PKEY *pkey = NULL;
	int bits, rc = -1;

	n = jwk_b64_decode(n64, nlen, &nbytes);
	e = jwk_b64_decode(e64, elen, &ebytes);
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
static const char *jwk_parse(json_object *jwk, const struct jwk_key *have, size_t nhave, struct jwk_key *k,
			     const char **kidp)
{
	const char *kid, *n, *e, *alg;
	size_t kidlen, nlen, elen, alglen, i;
	json_object *tmp;

	memset(k, 0, sizeof(*k));
	*kidp = NULL;
	if (!json_object_is_type(jwk, json_type_object))
		return "not_an_object";
	kid = jwk_get_str(jwk, "kid", &kidlen);
	if (kid != NULL && kidlen > 0 && memchr(kid, '\0', kidlen) == NULL)
		*kidp = kid;
	if (!json_object_object_get_ex(jwk, "kty", &tmp) || !jwk_str_eq(tmp, "RSA"))
		return "kty_not_rsa";
	if (json_object_object_get_ex(jwk, "use", &tmp) && !jwk_str_eq(tmp, "sig"))
		return "use_not_sig";
	n = jwk_get_str(jwk, "n", &nlen);
	e = jwk_get_str(jwk, "e", &elen);
	if (kid == NULL || kidlen == 0)
		return "no_kid";
	if (n == NULL || e == NULL)
		return "no_n_or_e";
	for (i = 0; i < nhave; i++)	/* a duplicate kid is ambiguous: first wins */
		if (strcmp(have[i].kid, kid) == 0)
			return "duplicate_kid";
	if (json_object_object_get_ex(jwk, "alg", &tmp)) {
		alg = jwk_get_str(jwk, "alg", &alglen);
		if (alg == NULL || (k->alg = jwk_alg_bit(alg, alglen)) == 0)
			return "unsupported_alg";	/* a key for some other algorithm */
	}
	if (jwk_to_pkey(n, nlen, e, elen, k) != 0)
		return "bad_rsa_key";
	k->kid = jwk_strndup(kid, kidlen);
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
static int parse_doc(const char *buf, size_t len, const char *what, struct jwk_key **keysp, size_t *nkeysp,
		     struct jwks_info *info, char *err, size_t errlen)
{
	json_object *root = NULL, *arr;
	enum jsonx_err jerr;
	struct jwk_key *keys = NULL;
	size_t nkeys = 0, n, i;
	int rc = -1;

	memset(info, 0, sizeof(*info));
	jerr = jsonx_parse(buf, len, JSONX_INPUT_DEPTH, 1, &root);
	if (jerr == JSONX_DUPLICATE) {
		errbuf_set(err, errlen, "%s: a member name is repeated in one object", what);
		goto out;
	}
	if (jerr != JSONX_OK) {
		errbuf_set(err, errlen, "%s: not a JSON object", what);
		goto out;
	}
	if (!json_object_object_get_ex(root, "keys", &arr) || !json_object_is_type(arr, json_type_array)) {
		errbuf_set(err, errlen, "%s: no \"keys\" array", what);
		goto out;
	}
	n = json_object_array_length(arr);
	keys = jwk_xmalloc(sizeof(*keys) * (n ? n : 1));
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

static void fsig_from_stat(struct jwk_file_sig *f, const struct stat *st)
{
	memset(f, 0, sizeof(*f));
	f->valid = 1;
	f->dev = st->st_dev;
	f->ino = st->st_ino;
	f->size = st->st_size;
	f->mtim = st->st_mtim;
	f->ctim = st->st_ctim;
}

static int fsig_eq(const struct jwk_file_sig *a, const struct jwk_file_sig *b)
{
	return a->valid && b->valid && a->dev == b->dev && a->ino == b->ino &&
	       a->size == b->size &&
	       a->mtim.tv_sec == b->mtim.tv_sec && a->mtim.tv_nsec == b->mtim.tv_nsec &&
	       a->ctim.tv_sec == b->ctim.tv_sec && a->ctim.tv_nsec == b->ctim.tv_nsec;
}

int jwk_set_load(struct jwk_set *v, char *err, size_t errlen)
{
	struct stat st;
	char *buf = NULL, what[300];
	size_t got = 0, nkeys = 0;
	struct jwk_key *keys = NULL;
	struct jwks_info info;
	int fd, rc = -1;

	fd = open(v->file, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		errbuf_set(err, errlen, "jwks_file %s: %s", v->file, strerror(errno));
		v->seen.valid = 0;
		return -1;
	}
	if (fstat(fd, &st) != 0) {
		errbuf_set(err, errlen, "jwks_file %s: %s", v->file, strerror(errno));
		v->seen.valid = 0;
		goto out;
	}
	fsig_from_stat(&v->seen, &st);
	if (!S_ISREG(st.st_mode) || st.st_size > JWKS_MAX_BYTES) {
		errbuf_set(err, errlen, "jwks_file %s: not a regular file of at most %d bytes",
		       v->file, JWKS_MAX_BYTES);
		goto out;
	}
	buf = jwk_xmalloc(JWKS_MAX_BYTES + 1);
	for (;;) {
		ssize_t r = read(fd, buf + got, JWKS_MAX_BYTES + 1 - got);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			errbuf_set(err, errlen, "jwks_file %s: %s", v->file, strerror(errno));
			goto out;
		}
		if (r == 0)
			break;
		got += (size_t)r;
		if (got > JWKS_MAX_BYTES) {
			errbuf_set(err, errlen, "jwks_file %s: larger than %d bytes", v->file, JWKS_MAX_BYTES);
			goto out;
		}
	}
	snprintf(what, sizeof(what), "jwks_file %s", v->file);
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

int jwk_set_refresh(struct jwk_set *s, char *err, size_t errlen)
{
	struct stat st;
	struct jwk_file_sig now;

	if (stat(s->file, &st) != 0) {
		errbuf_set(err, errlen, "jwks_file %s: %s", s->file, strerror(errno));
		return -1;
	}
	fsig_from_stat(&now, &st);
	if (fsig_eq(&now, &s->seen))
		return 0;
	return jwk_set_load(s, err, errlen) == 0 ? 1 : -1;
}

const struct jwk_key *jwk_set_find(const struct jwk_set *s, const char *kid, size_t len)
{
	for (size_t i = 0; i < s->nkeys; i++)
		if (strlen(s->keys[i].kid) == len && memcmp(s->keys[i].kid, kid, len) == 0)
			return &s->keys[i];
	return NULL;
}

void jwk_set_free(struct jwk_set *s)
{
	keys_free(s->keys, s->nkeys);
	free(s->file);
	memset(s, 0, sizeof(*s));
}

int jwk_set_check(const char *buf, size_t len, struct jwks_info *info, char *err, size_t errlen)
{
	struct jwk_key *keys = NULL;
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
