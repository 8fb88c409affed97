/* The worker's key set: a->jwt built from the key file and kept in step with it. */
#ifndef SESSIOND_KEYSET_H
#define SESSIOND_KEYSET_H

#include "ctx.h"

/* (Re)builds a->jwt from the key file; keeps the old verifier when the file is unusable (logged once per error). */
void keyset_load(struct app *a);

/* Re-reads the key file when it changed (a stat), or loads it when a->jwt is NULL. */
void keyset_refresh(struct app *a);

#endif
