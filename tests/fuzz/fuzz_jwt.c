/*
 * libFuzzer driver for jwtv_verify. Built and run by tests/fuzz/run (against
 * libsessiond.a: jwtv.c, jwk_set.c, jsonx.c).
 *
 * Input byte 0 picks the mode:
 *   even: the rest is a token, verified as is (splitting, base64url, header
 *         JSON, alg/kid checks, signature rejection);
 *   odd:  the rest is "HEADER-JSON\nCLAIMS-JSON"; the driver signs it RS256
 *         with the key in its JWKS, so the payload parser and every claim
 *         check are reached too.
 * At start it makes one RSA-2048 key and writes a JWKS with kid "fuzz" to a
 * mkdtemp directory (removed at exit).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "jwtv.h"
#include "fuzz_common.h"
#include "../tools/mint.h"

#define NOW ((time_t)1700000000)

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct jwtv *v;
static EVP_PKEY *key;
static char dir[64], path[128];

static void cleanup(void)
{
	jwtv_free(v);
	EVP_PKEY_free(key);
	unlink(path);
	rmdir(dir);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	char err[256], *jwk;
	FILE *f;
	struct jwtv_options o = fuzz_jwtv_options("RS256,RS384,RS512");

	(void)argc;
	(void)argv;
	strcpy(dir, "/tmp/fuzz_jwt.XXXXXX");
	if (mkdtemp(dir) == NULL || (key = mint_keygen(2048)) == NULL ||
	    (jwk = mint_jwk(key, "fuzz", NULL)) == NULL)
		abort();
	snprintf(path, sizeof(path), "%s/jwks.json", dir);
	if ((f = fopen(path, "w")) == NULL)
		abort();
	fprintf(f, "{\"keys\":[%s]}", jwk);
	fclose(f);
	free(jwk);
	o.jwks_file = path;
	o.claim_name = "name";
	o.claim_picture = "picture";
	o.claim_tenant_id = "https://example.com/tenant_id";
	o.claim_tenant_name = "https://example.com/tenant_name";
	if ((v = jwtv_new(&o, err, sizeof(err))) == NULL) {
		fprintf(stderr, "fuzz_jwt: %s\n", err);
		abort();
	}
	atexit(cleanup);
	return 0;
}

static void verify(const char *tok, size_t len)
{
	struct jwtv_identity id;
	enum jwtv_err e = jwtv_verify(v, tok, len, NOW, &id);

	if (e == JWTV_OK && (id.sub == NULL || id.sub[0] == '\0'))
		abort();	/* OK must always carry a subject */
	if (e != JWTV_OK && (id.sub != NULL || id.email != NULL))
		abort();	/* failures leave the identity empty */
	if (strcmp(jwtv_reason(e), "unknown") == 0)
		abort();
	jwtv_identity_free(&id);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size == 0)
		return 0;
	if ((data[0] & 1) == 0) {
		char *tok = malloc(size - 1 ? size - 1 : 1);	/* exact size: ASan sees overreads */

		memcpy(tok, data + 1, size - 1);
		verify(tok, size - 1);
		free(tok);
	} else {
		const char *nl = memchr(data + 1, '\n', size - 1);
		char *hdr, *cl, *tok;

		if (nl == NULL || memchr(data + 1, '\0', size - 1) != NULL || size > 6000)
			return 0;
		hdr = strndup((const char *)data + 1, (size_t)(nl - (const char *)data - 1));
		cl = strndup(nl + 1, size - (size_t)(nl + 1 - (const char *)data));
		tok = mint_sign("RS256", key, NULL, 0, hdr, cl);
		if (tok != NULL)
			verify(tok, strlen(tok));
		free(tok);
		free(hdr);
		free(cl);
	}
	return 0;
}
