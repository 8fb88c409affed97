/* CORS headers for configured origins (preflights and actual responses). */
#include "cors.h"

#include <stdio.h>
#include <string.h>

#include "authhdr.h"

/* What a browser may send cross-origin: the request headers sessiond reads. */
#define CORS_ALLOW_HEADERS "Authorization, Content-Type, If-Match, X-CSRF-Token"
/* What a page may read besides the safelisted headers. */
#define CORS_EXPOSE_HEADERS "ETag, X-CSRF-Token, Retry-After, WWW-Authenticate"
/* Seconds a browser may cache a preflight (Chromium caps it at 7200). */
#define CORS_MAX_AGE "600"

static int listed_origin(const struct cfg *c, const struct req *r)
{
	return c->cors_allowed_origins[0] != '\0' && r->origin != NULL &&
	       authhdr_origin_allowed(r->origin, 0, c->cors_allowed_origins);
}

int cors_response(const struct cfg *c, struct req *r)
{
	if (c->cors_allowed_origins[0] == '\0')
		return 0;
	http_add_header(r, "Vary", "Origin");
	if (!listed_origin(c, r))
		return 0;
	/* The exact origin, never "*": credentials are involved. */
	http_add_header(r, "Access-Control-Allow-Origin", r->origin);
	http_add_header(r, "Access-Control-Allow-Credentials", "true");
	http_add_header(r, "Access-Control-Expose-Headers", CORS_EXPOSE_HEADERS);
	return 1;
}

void cors_preflight(const struct cfg *c, struct req *r, const char *allow)
{
	char methods[80];

	snprintf(methods, sizeof(methods), "%s, OPTIONS", allow);
	http_add_header(r, "Allow", methods);
	if (listed_origin(c, r)) {
		http_add_header(r, "Access-Control-Allow-Methods", allow);
		http_add_header(r, "Access-Control-Allow-Headers", CORS_ALLOW_HEADERS);
		http_add_header(r, "Access-Control-Max-Age", CORS_MAX_AGE);
	}
	http_send_raw(r, 204, NULL, "", 0);
}
