/*
 * CORS for the origins listed in cors_allowed_origins: the headers of
 * preflights and of actual responses. An origin that is not listed gets no
 * CORS header at all, so the browser keeps the response from the page.
 */
#ifndef SESSIOND_CORS_H
#define SESSIOND_CORS_H

#include "config.h"
#include "http.h"

/*
 * Adds the headers every response carries when CORS is configured: always
 * Vary: Origin (the answer depends on it), and for a listed Origin
 * Access-Control-Allow-Origin (that exact origin), -Allow-Credentials and
 * -Expose-Headers. Returns 1 when r's Origin is listed, else 0.
 */
int cors_response(const struct cfg *c, struct req *r);

/*
 * Answers an OPTIONS request on a route that allows the methods in allow
 * ("GET, PATCH"): 204 with Allow, plus, for a listed Origin, the preflight
 * headers (methods, the request headers sessiond reads, max age).
 */
void cors_preflight(const struct cfg *c, struct req *r, const char *allow);

#endif
