/* Which JWKS URLs sessiond fetches from: checked on the parts libcurl itself parses (curl_url). */
#ifndef SESSIOND_URLCHECK_H
#define SESSIOND_URLCHECK_H

#include <stddef.h>

/*
 * 0 when url may be fetched: https:// to any host, or plain http:// only when
 * the parsed host is a loopback address (127.0.0.0/8, ::1, localhost; the
 * tests' own server); never with userinfo (user, password or login options
 * before an '@'), which would make a prefix check see one host and libcurl
 * connect to another. Else -1 with the reason in err.
 */
int urlcheck_jwks(const char *url, char *err, size_t errlen);

#endif
