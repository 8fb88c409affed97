/* --check-config's report of the signing keys: where they came from, their kids, what was skipped. */
#include "jwks_report.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jwk_set.h"
#include "jwks_fetch.h"

void jwks_report_info(FILE *out, const char *from, const struct jwks_info *info)
{
	fprintf(out, "jwks: %zu key%s from %s\n", info->nkeys, info->nkeys == 1 ? "" : "s", from);
	fprintf(out, "jwks: kids %s\n", info->kids);
	if (info->nskipped > 0)
		fprintf(out, "jwks: skipped %s\n", info->skipped);
}

/* Reads path (at most JWKS_FETCH_MAX bytes) into b; returns 0 or -1 with a message. */
static int read_file(const char *path, struct jwks_body *b, char *err, size_t errlen)
{
	FILE *f = fopen(path, "rb");

	b->len = 0;
	if (f == NULL) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	b->len = fread(b->buf, 1, JWKS_FETCH_MAX + 1, f);
	fclose(f);
	if (b->len > JWKS_FETCH_MAX) {
		snprintf(err, errlen, "%s: larger than %d bytes", path, JWKS_FETCH_MAX);
		return -1;
	}
	return 0;
}

static size_t print_keys(FILE *out, const char *from, const struct jwks_body *b)
{
	struct jwks_info info;
	char err[256];

	if (jwk_set_check(b->buf, b->len, &info, err, sizeof(err)) != 0) {
		fprintf(out, "jwks: %s: %s\n", from, err);
		return 0;
	}
	jwks_report_info(out, from, &info);
	return info.nkeys;
}

size_t jwks_check(const struct cfg *c, FILE *out)
{
	struct jwks_body b = { 0 };
	char err[320] = "", url[1024], from[1100];
	size_t n = 0;

	b.buf = malloc(JWKS_FETCH_MAX + 1);
	if (b.buf == NULL)
		abort();
	if (cfg_jwks_url(c, url, sizeof(url)) != 0)
		url[0] = '\0';
	snprintf(from, sizeof(from), "%s", url);
	if (jwks_fetch_doc(c, c->jwks_fetch_timeout * 1000, &b, err, sizeof(err)) == MJ_OK) {
		n = print_keys(out, from, &b);
	} else {
		fprintf(out, "jwks: cannot fetch %s: %s\n", url, err);
	}
	if (n == 0) {
		snprintf(from, sizeof(from), "the cached copy %s", c->jwks_cache_file);
		if (read_file(c->jwks_cache_file, &b, err, sizeof(err)) == 0)
			n = print_keys(out, from, &b);
		else
			fprintf(out, "jwks: no cached copy: %s\n", err);
	}
	if (n == 0)
		fprintf(out, "jwks: no usable key: sessiond starts, but creates answer 503 until a fetch succeeds\n");
	free(b.buf);
	jwks_fetch_done();
	return n;
}
