/*
 * jwtmint — makes test RSA keys, JWKS files and JWTs for the integration tests.
 *
 *   jwtmint keygen --out DIR --kid KID [--bits 2048]
 *       writes DIR/KID.key.pem (private, PKCS#8) and DIR/KID.pub.pem (public, SPKI)
 *   jwtmint jwks --out FILE KID=DIR/KID.pub.pem [KID2=...]
 *       writes {"keys":[{"kty":"RSA","use":"sig","alg":"RS256","kid":..,"n":..,"e":..},...]}
 *   jwtmint sign --key DIR/KID.key.pem --kid KID [--alg RS256|RS384|RS512|none|HS256]
 *                [--hmac-key-file FILE] [--header-json '{...}'] --claims-json '{...}'
 *       prints the compact JWT on stdout. --alg none: empty signature; --alg HS256:
 *       HMAC-SHA256 keyed with the raw bytes of --hmac-key-file. --header-json
 *       replaces the generated header entirely; the claims are used verbatim.
 *
 * Exits 0 on success, 1 with a message on stderr on any error. Test use only.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <json-c/json.h>
#include <openssl/err.h>

#include "mint.h"

static void usage(void) __attribute__((noreturn));
static void die(const char *what) __attribute__((noreturn));

static void usage(void)
{
	fprintf(stderr,
		"usage: jwtmint keygen --out DIR --kid KID [--bits N]\n"
		"       jwtmint jwks --out FILE KID=PUBPEM [KID=PUBPEM...]\n"
		"       jwtmint sign [--key KEYPEM] [--kid KID] [--alg RS256|RS384|RS512|none|HS256]\n"
		"                    [--hmac-key-file FILE] [--header-json JSON] --claims-json JSON\n");
	exit(1);
}

static void die(const char *what)
{
	fprintf(stderr, "jwtmint: %s\n", what);
	exit(1);
}

/* The value following argv[*i] (advancing *i); exits when missing. */
static const char *optval(int argc, char **argv, int *i)
{
	if (*i + 1 >= argc) {
		fprintf(stderr, "jwtmint: %s needs a value\n", argv[*i]);
		exit(1);
	}
	return argv[++*i];
}

/* One "--name VALUE" option of a command and where its value goes. */
struct opt {
	const char *name;
	const char **val;
};

/* Reads argv[2..] as options of the table (ended by a NULL name); exits with the usage on any other word. */
static void parse_opts(int argc, char **argv, const struct opt *opts)
{
	int i;

	for (i = 2; i < argc; i++) {
		const struct opt *o = opts;

		while (o->name != NULL && strcmp(argv[i], o->name) != 0)
			o++;
		if (o->name == NULL)
			usage();
		*o->val = optval(argc, argv, &i);
	}
}

/* Whole file as a malloc'd buffer (NUL-terminated), length in *len; exits on error. */
static unsigned char *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	unsigned char *buf = NULL;
	size_t cap = 0, n = 0;

	if (f == NULL) {
		fprintf(stderr, "jwtmint: %s: %s\n", path, strerror(errno));
		exit(1);
	}
	for (;;) {
		size_t r;

		if (n + 4096 + 1 > cap) {
			cap = (cap + 4096) * 2;
			if ((buf = realloc(buf, cap)) == NULL)
				die("out of memory");
		}
		r = fread(buf + n, 1, cap - n - 1, f);
		n += r;
		if (r == 0)
			break;
	}
	if (ferror(f)) {
		fprintf(stderr, "jwtmint: %s: read error\n", path);
		exit(1);
	}
	fclose(f);
	buf[n] = '\0';
	*len = n;
	return buf;
}

static int safe_kid(const char *kid)
{
	const char *p;

	if (*kid == '\0')
		return 0;
	for (p = kid; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
		      *p == '-' || *p == '_' || *p == '.'))
			return 0;
	return strcmp(kid, ".") != 0 && strcmp(kid, "..") != 0;
}

/* The RSA key in the PEM file at path (private: PKCS#8, else SPKI); NULL, said on stderr, otherwise. */
static EVP_PKEY *read_rsa_pem(const char *path, int private)
{
	FILE *f;
	EVP_PKEY *pkey;

	if ((f = fopen(path, "r")) == NULL) {
		fprintf(stderr, "jwtmint: %s: %s\n", path, strerror(errno));
		return NULL;
	}
	pkey = private ? PEM_read_PrivateKey(f, NULL, NULL, NULL) : PEM_read_PUBKEY(f, NULL, NULL, NULL);
	fclose(f);
	if (pkey == NULL || EVP_PKEY_get_base_id(pkey) != EVP_PKEY_RSA) {
		fprintf(stderr, "jwtmint: %s: not an RSA %s key PEM\n", path, private ? "private" : "public");
		EVP_PKEY_free(pkey);
		return NULL;
	}
	return pkey;
}

static int write_pem(const char *path, EVP_PKEY *pkey, int private, mode_t mode)
{
	FILE *f;
	int ok;

	umask(077);
	if ((f = fopen(path, "w")) == NULL) {
		fprintf(stderr, "jwtmint: %s: %s\n", path, strerror(errno));
		return -1;
	}
	chmod(path, mode);
	ok = private ? PEM_write_PrivateKey(f, pkey, NULL, NULL, 0, NULL, NULL) : PEM_write_PUBKEY(f, pkey);
	if (fclose(f) != 0 || !ok) {
		fprintf(stderr, "jwtmint: %s: write failed\n", path);
		return -1;
	}
	return 0;
}

static int cmd_keygen(int argc, char **argv)
{
	const char *dir = NULL, *kid = NULL, *bits_arg = "2048";
	const struct opt opts[] = {{"--out", &dir}, {"--kid", &kid}, {"--bits", &bits_arg}, {NULL, NULL}};
	char *path = NULL, *end;
	long bits;
	EVP_PKEY *pkey = NULL;
	int rc = 1;

	parse_opts(argc, argv, opts);
	if (dir == NULL || kid == NULL)
		usage();
	if (!safe_kid(kid))
		die("--kid must be [A-Za-z0-9._-]+");
	bits = strtol(bits_arg, &end, 10);
	if (end == bits_arg || *end != '\0' || bits < 512 || bits > 16384)
		die("--bits must be 512..16384");
	if ((pkey = mint_keygen((unsigned)bits)) == NULL)
		die("RSA key generation failed");
	if (asprintf(&path, "%s/%s.key.pem", dir, kid) < 0)
		die("out of memory");
	if (write_pem(path, pkey, 1, 0600) != 0)
		goto out;
	free(path);
	if (asprintf(&path, "%s/%s.pub.pem", dir, kid) < 0)
		die("out of memory");
	if (write_pem(path, pkey, 0, 0644) != 0)
		goto out;
	rc = 0;
out:
	free(path);
	EVP_PKEY_free(pkey);
	return rc;
}

static int cmd_jwks(int argc, char **argv)
{
	const char *out = NULL;
	json_object *root = json_object_new_object(), *keys = json_object_new_array();
	int i, nkeys = 0, rc = 1;

	json_object_object_add(root, "keys", keys);
	for (i = 2; i < argc; i++) {
		char *eq, *kid, *jwk;
		EVP_PKEY *pkey;
		json_object *obj;

		if (strcmp(argv[i], "--out") == 0) {
			out = optval(argc, argv, &i);
			continue;
		}
		if ((eq = strchr(argv[i], '=')) == NULL || eq == argv[i])
			usage();
		kid = strndup(argv[i], (size_t)(eq - argv[i]));
		if (kid == NULL || !safe_kid(kid))
			die("KID must be [A-Za-z0-9._-]+");
		if ((pkey = read_rsa_pem(eq + 1, 0)) == NULL) {
			free(kid);
			goto out;
		}
		jwk = mint_jwk(pkey, kid, "RS256");
		EVP_PKEY_free(pkey);
		free(kid);
		if (jwk == NULL || (obj = json_tokener_parse(jwk)) == NULL)
			die("cannot build JWK");
		free(jwk);
		json_object_array_add(keys, obj);
		nkeys++;
	}
	if (out == NULL || nkeys == 0)
		usage();
	if (json_object_to_file_ext(out, root, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE) != 0) {
		fprintf(stderr, "jwtmint: %s: %s\n", out, json_util_get_last_err());
		goto out;
	}
	rc = 0;
out:
	json_object_put(root);
	return rc;
}

static int cmd_sign(int argc, char **argv)
{
	const char *keyfile = NULL, *kid = NULL, *alg = "RS256", *hmacfile = NULL, *header = NULL,
		   *claims = NULL;
	char *hdrbuf = NULL, *jwt = NULL;
	unsigned char *hmac = NULL;
	size_t hmaclen = 0;
	EVP_PKEY *pkey = NULL;
	json_object *chk;
	int rc = 1;
	const struct opt opts[] = {
		{"--key", &keyfile}, {"--kid", &kid}, {"--alg", &alg}, {"--hmac-key-file", &hmacfile},
		{"--header-json", &header}, {"--claims-json", &claims}, {NULL, NULL},
	};

	parse_opts(argc, argv, opts);
	if (claims == NULL)
		usage();
	if (strcmp(alg, "RS256") != 0 && strcmp(alg, "RS384") != 0 && strcmp(alg, "RS512") != 0 &&
	    strcmp(alg, "none") != 0 && strcmp(alg, "HS256") != 0)
		die("--alg must be RS256, RS384, RS512, none or HS256");
	if ((chk = json_tokener_parse(claims)) == NULL)
		die("--claims-json is not valid JSON");
	json_object_put(chk);
	if (header == NULL) {
		json_object *h = json_object_new_object();

		json_object_object_add(h, "alg", json_object_new_string(alg));
		json_object_object_add(h, "typ", json_object_new_string("JWT"));
		if (kid != NULL)
			json_object_object_add(h, "kid", json_object_new_string(kid));
		hdrbuf = strdup(json_object_to_json_string_ext(h, JSON_C_TO_STRING_PLAIN |
								     JSON_C_TO_STRING_NOSLASHESCAPE));
		json_object_put(h);
		if (hdrbuf == NULL)
			die("out of memory");
		header = hdrbuf;
		if (kid == NULL && strcmp(alg, "none") != 0)
			fprintf(stderr, "jwtmint: warning: no --kid, header has no kid\n");
	}
	if (alg[0] == 'R') {
		if (keyfile == NULL)
			die("--key is required for RS*");
		if ((pkey = read_rsa_pem(keyfile, 1)) == NULL)
			goto out;
	} else if (strcmp(alg, "HS256") == 0) {
		if (hmacfile == NULL)
			die("--hmac-key-file is required for HS256");
		hmac = slurp(hmacfile, &hmaclen);
	}
	if ((jwt = mint_sign(alg, pkey, hmac, hmaclen, header, claims)) == NULL) {
		fprintf(stderr, "jwtmint: signing failed\n");
		goto out;
	}
	if (printf("%s\n", jwt) < 0 || fflush(stdout) != 0) {
		fprintf(stderr, "jwtmint: write to stdout failed\n");
		goto out;
	}
	rc = 0;
out:
	free(jwt);
	free(hmac);
	free(hdrbuf);
	EVP_PKEY_free(pkey);
	return rc;
}

int main(int argc, char **argv)
{
	if (argc < 2)
		usage();
	if (strcmp(argv[1], "keygen") == 0)
		return cmd_keygen(argc, argv);
	if (strcmp(argv[1], "jwks") == 0)
		return cmd_jwks(argc, argv);
	if (strcmp(argv[1], "sign") == 0)
		return cmd_sign(argc, argv);
	usage();
	return 1;
}
