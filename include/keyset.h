/* The worker's key set: a->jwt built from the key file and kept in step with it. */
#ifndef SESSIOND_KEYSET_H
#define SESSIOND_KEYSET_H

#include "ctx.h"

struct jwtv_options;

/* The verifier options from the configuration (o's strings point into c): the key file is jwks_key_file(c). */
void keyset_options(const struct cfg *c, struct jwtv_options *o);

/* (Re)builds a->jwt from the key file; keeps the old verifier when the file is unusable (logged once per error). */
void keyset_load(struct app *a);

/* Re-reads the key file when it changed (a stat), or loads it when a->jwt is NULL. */
void keyset_refresh(struct app *a);

#endif
