/*
 * Parsing of the request headers that carry credentials: Authorization
 * ("<scheme> <param>"), Cookie, and the Origin/Referer CSRF check. All
 * results point into the caller's header string; nothing is allocated and
 * nothing is logged.
 */
#ifndef SESSIOND_AUTHHDR_H
#define SESSIOND_AUTHHDR_H

#include <stddef.h>

/*
 * If header (may be NULL) is "<scheme> <param>" with scheme matched case-insensitively, one or more
 * spaces/tabs, and param non-empty with no whitespace inside or trailing garbage (leading and
 * trailing spaces/tabs are ignored; param bytes must be visible ASCII 0x21..0x7e), sets *param and
 * *len to point into header and returns 1; else 0.
 */
int authhdr_param(const char *header, const char *scheme, const char **param, size_t *len);

/*
 * Finds the first cookie named name (exact, case-sensitive) in a Cookie header (may be NULL): pairs
 * separated by ';' with optional spaces, value optionally in double quotes (quotes stripped). Sets
 * *val and *len into the header and returns 1, else 0. Never crashes on malformed input ("=", ";;",
 * missing '=', very long).
 */
int authhdr_cookie_get(const char *header, const char *name, const char **val, size_t *len);

/*
 * Like cookie_get, from *cursor on (start it at the header): on 1 *cursor moves past the cookie
 * found, so repeated calls visit every cookie named name in order (a browser sends a more specific
 * path's or the host's cookie before a parent domain's).
 */
int authhdr_cookie_next(const char **cursor, const char *name, const char **val, size_t *len);

/*
 * 1 when header (may be NULL) names the given scheme (case-insensitively), followed by nothing or
 * by a space/tab, whatever comes next: "Session", "Session ", "Session <garbage>".
 */
int authhdr_is_scheme(const char *header, const char *scheme);

/*
 * Origin-ish check: returns 1 when origin (scheme://host[:port], no path) exactly equals (ASCII
 * case-insensitively) one entry of the comma/space separated list allowed, else 0. For Referer,
 * pass the value and set is_referer=1: then compare only its scheme://host[:port] prefix (up to the
 * first '/', '?' or '#' after "//"). The opaque origin "null" is never allowed, even if listed.
 */
int authhdr_origin_allowed(const char *value, int is_referer, const char *allowed);

#endif
