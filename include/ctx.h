/* What one worker holds: configuration, its store connection, its JWT verifier. */
#ifndef SESSIOND_CTX_H
#define SESSIOND_CTX_H

#include <time.h>

#include "config.h"
#include "store.h"

struct jwtv;

struct app {
	struct cfg *cfg;
	struct store store;
	struct jwtv *jwt;         /* NULL while the JWKS cannot be loaded: create answers 503 */
	time_t next_flush;        /* next copy of cached last_activity into sessions */
	int have_service_key;     /* service_key_file was read */
	unsigned char service_key_hash[32];        /* SHA-256 of the service key */
};

#endif
