/*
 * One JWKS fetch over verified HTTPS (libcurl) and its atomic install as the
 * key file the workers read. Who fetches when: jwks_fetcher.h.
 *
 * Two modes, chosen by the configuration:
 *  - file mode (jwks_file set): nothing is fetched; workers read jwks_file.
 *  - URL mode (jwks_file empty): the JWKS at jwks_url (default
 *    <jwt_issuer>.well-known/jwks.json) is fetched, checked whole with the
 *    key-set parser (jwk_set.h: at least one usable key), and written
 *    atomically to jwks_cache_file (temp file, fsync, rename). Workers read
 *    that file exactly as they read jwks_file: a changed file is re-read.
 *
 * A failed or bad fetch (network, TLS, non-200, over JWKS_FETCH_MAX bytes,
 * not JSON, no usable key) leaves the installed file alone: the old keys
 * keep working. It is logged once per failure streak and reason.
 */
#ifndef SESSIOND_JWKS_FETCH_H
#define SESSIOND_JWKS_FETCH_H

#include <stddef.h>

#include "config.h"
#include "metrics.h"

#define JWKS_FETCH_MAX (64 * 1024)   /* largest JWKS body accepted (Auth0's is about 2 KiB) */

/* 1 in URL mode (jwks_file empty: keys are fetched), 0 in file mode. */
int jwks_url_mode(const struct cfg *c);

/* The file the workers read the keys from: jwks_file, or jwks_cache_file in URL mode. */
const char *jwks_key_file(const struct cfg *c);

/* A fetched (or read) JWKS body: buf holds JWKS_FETCH_MAX + 1 bytes, the caller's. */
struct jwks_body {
	char *buf;
	size_t len;
	int over;        /* the body went past JWKS_FETCH_MAX */
	long max_age;    /* from Cache-Control; -1 = none */
};

/*
 * GETs the JWKS into b within timeout_ms. Returns MJ_OK with a 200 body,
 * else the failure kind with a message in err.
 */
enum metrics_jwks_result jwks_fetch_doc(const struct cfg *c, long timeout_ms, struct jwks_body *b, char *err,
					size_t errlen);

/*
 * One fetch, check and install within timeout_ms, counted and logged.
 * Returns 1 when a new key set was installed; *max_age gets the answer's
 * Cache-Control max-age (-1 none).
 */
int jwks_fetch_install(const struct cfg *c, long timeout_ms, long *max_age);

/* Releases libcurl's global state when a fetch initialised it (before exit). */
void jwks_fetch_done(void);

/* The max-age of a Cache-Control header value in seconds, or -1 when it has none. Exposed for tests. */
long jwks_max_age(const char *value, size_t len);

#endif
