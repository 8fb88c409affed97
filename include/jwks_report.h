/* --check-config's report of the signing keys: where they came from, their kids, what was skipped. */
#ifndef SESSIOND_JWKS_REPORT_H
#define SESSIOND_JWKS_REPORT_H

#include <stddef.h>
#include <stdio.h>

#include "config.h"
#include "jwk_set.h"

/* The report's lines for one key set read from from ("jwks: N keys from ...", kids, skipped). */
void jwks_report_info(FILE *out, const char *from, const struct jwks_info *info);

/*
 * --check-config in URL mode: fetches the keys without installing them,
 * falls back to jwks_cache_file when the fetch fails, and prints where they
 * came from and their kids to out. Returns the number of usable keys found
 * (0 = none). File mode loads the keys with the verifier (app_check_keys).
 */
size_t jwks_check(const struct cfg *c, FILE *out);

#endif
