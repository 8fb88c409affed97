/* The JWKS key set: JWKs turned into OpenSSL keys, loaded from a file and kept in step with it, a document checked whole. */
#ifndef SESSIOND_JWK_SET_H
#define SESSIOND_JWK_SET_H

#include <stddef.h>
#include <sys/types.h>
#include <time.h>

#include <json-c/json.h>
#include <openssl/evp.h>

#define JWKS_MAX_BYTES (1024 * 1024)

/* The signature algorithms sessiond accepts, as bits of an allow-list. */
enum jwk_alg { JWK_RS256 = 1, JWK_RS384 = 2, JWK_RS512 = 4 };

/* The JWK_* bit of an algorithm name name[0..len), 0 for any other (none, HS*, ...). */
unsigned jwk_alg_bit(const char *name, size_t len);

/*
 * Parses a comma-separated allow-list ("RS256,RS384"; NULL or "" = RS256)
 * into JWK_* bits. Returns 0 with a message in err for anything but RS256/384/512.
 */
unsigned jwk_parse_algs(const char *list, char *err, size_t errlen);

/* One usable key. */
struct jwk_key {
	char *kid;
	unsigned alg;      /* one JWK_* bit when the JWK names an alg, 0 = any allowed */
	EVP_PKEY *pkey;    /* RSA public key */
	size_t sig_len;    /* modulus size in bytes = RS* signature length */
};

/* What a JWKS document holds: the usable keys' kids and the skipped keys with their reasons. */
struct jwks_info {
	size_t nkeys, nskipped;
	char kids[512];      /* usable kids, comma-separated, ending "..." when cut */
	char skipped[512];   /* "kid:reason" per skipped key, comma-separated ("(none)" without a kid) */
};

/* The identity of a file as stat(2) sees it: a changed file is re-read. */
struct jwk_file_sig {
	int valid;
	dev_t dev;
	ino_t ino;
	off_t size;
	struct timespec mtim, ctim;
};

/* The keys loaded from one JWKS file. Zero it, set file (owned), then jwk_set_load. */
struct jwk_set {
	char *file;
	struct jwk_key *keys;
	size_t nkeys;
	struct jwk_file_sig seen;     /* the file identity of the last load attempt */
	struct jwks_info info;        /* of the keys in use */
	time_t loaded_mtime;          /* mtime of the file the keys in use came from */
};

/*
 * Reads and parses s->file. On success replaces the keys and returns 0; on
 * failure keeps them, writes err and returns -1. Either way s->seen is the
 * file that was read, so an unchanged broken file is not re-read.
 */
int jwk_set_load(struct jwk_set *s, char *err, size_t errlen);

/* Re-reads s->file when its identity changed. 1 reloaded, 0 unchanged, -1 failed (keys kept, message in err). */
int jwk_set_refresh(struct jwk_set *s, char *err, size_t errlen);

/* The key with kid kid[0..len), or NULL. */
const struct jwk_key *jwk_set_find(const struct jwk_set *s, const char *kid, size_t len);

/* Frees what s holds (the file name too). */
void jwk_set_free(struct jwk_set *s);

/*
 * Checks a whole JWKS document buf[0..len) as jwk_set_load would load it
 * (each key checked, at least one usable). Returns 0 with *info filled, or
 * -1 with a message in err.
 */
int jwk_set_check(const char *buf, size_t len, struct jwks_info *info, char *err, size_t errlen);

/* ---- what the key set and the verifier both use ---- */

/* malloc that aborts when out of memory (the master respawns the worker). */
void *jwk_xmalloc(size_t n);

/* A NUL-terminated malloc'd copy of s[0..n). */
char *jwk_strndup(const char *s, size_t n);

/*
 * Decodes base64url into a new NUL-terminated buffer (caller frees), or NULL
 * on a bad character, a bad length or non-canonical trailing bits.
 */
unsigned char *jwk_b64_decode(const char *in, size_t len, size_t *outlen);

/* The string value of obj[name] when it is a string without embedded NULs, else NULL; *lenp its length. */
const char *jwk_get_str(json_object *obj, const char *name, size_t *lenp);

/* 1 when v is a string equal to want (no embedded NUL). */
int jwk_str_eq(json_object *v, const char *want);

#endif
