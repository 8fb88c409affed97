/*
 * libpq connection strings without their secrets: what a log line, an error
 * message or --check-config may show of a database_url. A leaf module (libpq
 * only).
 */
#ifndef SESSIOND_CONNINFO_H
#define SESSIOND_CONNINFO_H

#include <stddef.h>

/*
 * Copies text into out (size outlen, always NUL-terminated, truncated when
 * short) with every secret hidden as ***: the values libpq marks as secret
 * (dispchar "*": password, sslpassword, ...) of conninfo (may be NULL or
 * unparsable), wherever they occur in text; any "password=VALUE" (also
 * "sslpassword", quoted values, URI query parameters); and the password of a
 * URI's user:password@. Use it on a connection string itself (text ==
 * conninfo) and on libpq's messages about it, which may echo it. Returns out.
 */
char *conninfo_scrub(const char *text, const char *conninfo, char *out, size_t outlen);

#endif
