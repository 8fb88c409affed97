/*
 * Test-only helpers to make RSA keys, JWKs and compact JWTs with OpenSSL.
 * Shared by tests/tools/jwtmint.c, tests/unit/test_jwtv.c and
 * tests/fuzz/fuzz_jwt.c (header-only: the Makefile builds one .c per tool).
 * Functions are static inline so a user that needs only some of them builds
 * warning-free. Every returned string is malloc'd; the caller frees it.
 */
#ifndef SESSIOND_TEST_MINT_H
#define SESSIOND_TEST_MINT_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>

/* Unpadded base64url of buf[0..len). Returns a malloc'd string or NULL. */
static inline char *mint_b64url(const unsigned char *buf, size_t len)
{
	static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
	char *out = malloc(len / 3 * 4 + 5);
	size_t i, o = 0;

	if (out == NULL)
		return NULL;
	for (i = 0; i + 2 < len; i += 3) {
		unsigned v = (unsigned)buf[i] << 16 | (unsigned)buf[i + 1] << 8 | buf[i + 2];

		out[o++] = tab[v >> 18 & 63];
		out[o++] = tab[v >> 12 & 63];
		out[o++] = tab[v >> 6 & 63];
		out[o++] = tab[v & 63];
	}
	if (len - i == 1) {
		unsigned v = (unsigned)buf[i] << 16;

		out[o++] = tab[v >> 18 & 63];
		out[o++] = tab[v >> 12 & 63];
	} else if (len - i == 2) {
		unsigned v = (unsigned)buf[i] << 16 | (unsigned)buf[i + 1] << 8;

		out[o++] = tab[v >> 18 & 63];
		out[o++] = tab[v >> 12 & 63];
		out[o++] = tab[v >> 6 & 63];
	}
	out[o] = '\0';
	return out;
}

/* A new RSA key pair of the given size, or NULL. Free with EVP_PKEY_free. */
static inline EVP_PKEY *mint_keygen(unsigned bits)
{
	return EVP_RSA_gen(bits);
}

/* The SPKI public-key PEM of pkey as a malloc'd string, or NULL. */
static inline char *mint_pub_pem(EVP_PKEY *pkey)
{
	BIO *bio = BIO_new(BIO_s_mem());
	char *data, *out = NULL;
	long n;

	if (bio == NULL)
		return NULL;
	if (PEM_write_bio_PUBKEY(bio, pkey) && (n = BIO_get_mem_data(bio, &data)) > 0 &&
	    (out = malloc((size_t)n + 1)) != NULL) {
		memcpy(out, data, (size_t)n);
		out[n] = '\0';
	}
	BIO_free(bio);
	return out;
}

/* base64url of one RSA component (OSSL_PKEY_PARAM_RSA_N or _E) of pkey, or NULL. */
static inline char *mint_rsa_param(EVP_PKEY *pkey, const char *param)
{
	BIGNUM *bn = NULL;
	unsigned char *buf = NULL;
	char *out = NULL;
	int n;

	if (!EVP_PKEY_get_bn_param(pkey, param, &bn))
		return NULL;
	n = BN_num_bytes(bn);
	if ((buf = malloc((size_t)n + 1)) != NULL && BN_bn2bin(bn, buf) == n)
		out = mint_b64url(buf, (size_t)n);
	free(buf);
	BN_free(bn);
	return out;
}

/*
 * One JWK object text {"kty":"RSA","use":"sig","alg":ALG,"kid":KID,"n":..,"e":..}
 * (alg omitted when NULL), or NULL. kid must not need JSON escaping.
 */
static inline char *mint_jwk(EVP_PKEY *pkey, const char *kid, const char *alg)
{
	char *n = mint_rsa_param(pkey, OSSL_PKEY_PARAM_RSA_N);
	char *e = mint_rsa_param(pkey, OSSL_PKEY_PARAM_RSA_E);
	char *out = NULL;

	if (n != NULL && e != NULL &&
	    asprintf(&out, "{\"kty\":\"RSA\",\"use\":\"sig\"%s%s%s,\"kid\":\"%s\",\"n\":\"%s\",\"e\":\"%s\"}",
		     alg ? ",\"alg\":\"" : "", alg ? alg : "", alg ? "\"" : "", kid, n, e) < 0)
		out = NULL;
	free(n);
	free(e);
	return out;
}

/*
 * Compact JWT: b64url(header).b64url(claims).sig, where sig is made with alg:
 * "RS256"/"RS384"/"RS512" with pkey, "HS256" with hmac[0..hmaclen), "none"
 * (or any other alg) an empty signature. header and claims are used verbatim.
 * Returns a malloc'd string or NULL.
 */
static inline char *mint_sign(const char *alg, EVP_PKEY *pkey, const unsigned char *hmac, size_t hmaclen,
			      const char *header, const char *claims)
{
	char *h = mint_b64url((const unsigned char *)header, strlen(header));
	char *c = mint_b64url((const unsigned char *)claims, strlen(claims));
	char *input = NULL, *sig = NULL, *out = NULL;
	unsigned char *raw = NULL;
	size_t rawlen = 0;
	const EVP_MD *md = NULL;
	EVP_MD_CTX *mctx = NULL;

	if (h == NULL || c == NULL || asprintf(&input, "%s.%s", h, c) < 0) {
		input = NULL;
		goto out;
	}
	if (strcmp(alg, "RS256") == 0)
		md = EVP_sha256();
	else if (strcmp(alg, "RS384") == 0)
		md = EVP_sha384();
	else if (strcmp(alg, "RS512") == 0)
		md = EVP_sha512();
	if (md != NULL) {
		if (pkey == NULL || (mctx = EVP_MD_CTX_new()) == NULL ||
		    EVP_DigestSignInit(mctx, NULL, md, NULL, pkey) != 1 ||
		    EVP_DigestSign(mctx, NULL, &rawlen, (const unsigned char *)input, strlen(input)) != 1 ||
		    (raw = malloc(rawlen)) == NULL ||
		    EVP_DigestSign(mctx, raw, &rawlen, (const unsigned char *)input, strlen(input)) != 1)
			goto out;
	} else if (strcmp(alg, "HS256") == 0) {
		unsigned int l = 0;

		if (hmac == NULL || (raw = malloc(EVP_MAX_MD_SIZE)) == NULL ||
		    HMAC(EVP_sha256(), hmac, (int)hmaclen, (const unsigned char *)input, strlen(input), raw, &l) == NULL)
			goto out;
		rawlen = l;
	}
	if ((sig = mint_b64url(raw ? raw : (const unsigned char *)"", rawlen)) == NULL)
		goto out;
	if (asprintf(&out, "%s.%s", input, sig) < 0)
		out = NULL;
out:
	EVP_MD_CTX_free(mctx);
	free(raw);
	free(sig);
	free(input);
	free(h);
	free(c);
	return out;
}

#endif
