/* Unit tests for app/router.c: pattern matching, percent-decoding, literal-first precedence, 405 and 404. */
#include "router.h"
#include "check.h"

static int m(const char *pattern, const char *path, char *arg)
{
	return router_match_pattern(pattern, path, arg, ROUTER_ARG_MAX);
}

int main(void)
{
	char arg[ROUTER_ARG_MAX];
	struct route_match rm;
	const struct route *rt;
	const char *uuid_lc = "0e6f8c3a-93b1-4d2a-9c1e-2b7f5a4d8e10";

	/* Literal patterns; the trailing slash is optional, nothing else is. */
	CHECK(m("/api/sessions/health/", "/api/sessions/health/", arg));
	CHECK(m("/api/sessions/health/", "/api/sessions/health", arg));
	CHECK(!m("/api/sessions/health/", "/api/sessions/health//", arg));
	CHECK(!m("/api/sessions/health/", "/api/sessions/healthz/", arg));
	CHECK(!m("/api/sessions/health/", "/api/sessions/", arg));

	/* {} segments: percent-decoded, exactly two hex digits per escape. */
	CHECK(m("/u/{}/", "/u/auth0%7C123/", arg) && strcmp(arg, "auth0|123") == 0);
	CHECK(m("/u/{}/", "/u/a%7cb/", arg) && strcmp(arg, "a|b") == 0);
	CHECK_MSG(!m("/u/{}/", "/u/%-1/", arg), "%-1 is not an escape");
	CHECK_MSG(!m("/u/{}/", "/u/% a/", arg), "'% a' is not an escape");
	CHECK_MSG(!m("/u/{}/", "/u/%a/", arg), "a truncated escape fails");
	CHECK_MSG(!m("/u/{}/", "/u/%/", arg), "a lone % fails");
	CHECK_MSG(!m("/u/{}/", "/u/%zz/", arg), "non-hex escape fails");
	CHECK_MSG(!m("/u/{}/", "/u/a%00b/", arg), "a decoded NUL fails");
	CHECK_MSG(!m("/u/{}/", "/u//", arg), "an empty segment fails");
	CHECK_MSG(!m("/u/{}/", "/u/a/b/", arg), "a {} is one segment");
	{
		char big[400];

		memset(big, 'x', sizeof(big) - 1);
		big[sizeof(big) - 1] = '\0';
		CHECK_MSG(!router_match_pattern("/{}", big, arg, sizeof(arg)) && strlen(arg) < sizeof(arg),
			  "an over-long segment fails without overflowing");
	}

	/* {uuid}: the UUID shape only; returned in lower case. */
	CHECK(m("/s/{uuid}/", "/s/0e6f8c3a-93b1-4d2a-9c1e-2b7f5a4d8e10/", arg) && strcmp(arg, uuid_lc) == 0);
	CHECK_MSG(m("/s/{uuid}/", "/s/0E6F8C3A-93B1-4D2A-9C1E-2B7F5A4D8E10/", arg) && strcmp(arg, uuid_lc) == 0,
		  "an upper-case id is normalized to lower case");
	CHECK_MSG(m("/s/{uuid}/", "/s/0e6f8c3a-93b1-4d2a-9c1e-2b7f5a4d8e1%30/", arg) &&
			  strcmp(arg, uuid_lc) == 0,
		  "an escaped hex digit decodes into the id");
	CHECK(!m("/s/{uuid}/", "/s/0e6f8c3a93b14d2a9c1e2b7f5a4d8e10/", arg));
	CHECK(!m("/s/{uuid}/", "/s/0e6f8c3a-93b1-4d2a-9c1e-2b7f5a4d8e1g/", arg));
	CHECK(!m("/s/{uuid}/", "/s/current/", arg));

	/* The table: literal routes win over patterns. */
	rt = router_match("GET", "/api/sessions/current/", &rm);
	CHECK(rt && strcmp(rt->name, "current_get") == 0 && rm.arg == NULL);
	rt = router_match("DELETE", "/api/sessions/current/", &rm);
	CHECK_MSG(rt && strcmp(rt->name, "current_delete") == 0, "DELETE /current/ is logout, not revoke-by-id");
	rt = router_match("DELETE", "/api/sessions/0E6F8C3A-93B1-4D2A-9C1E-2B7F5A4D8E10/", &rm);
	CHECK(rt && strcmp(rt->name, "revoke") == 0 && rm.arg && strcmp(rm.arg, uuid_lc) == 0);
	rt = router_match("PATCH", "/api/sessions/internal/users/auth0%7Cabc/", &rm);
	CHECK(rt && strcmp(rt->name, "internal_user") == 0 && rm.arg && strcmp(rm.arg, "auth0|abc") == 0);
	CHECK(router_match("GET", "/api/sessions/auth", &rm) && strcmp(rm.route->name, "auth") == 0);
	/* Metrics only at the documented path, which the sites restrict: without the slash it is 404. */
	CHECK(router_match("GET", "/api/sessions/metrics/", &rm) && strcmp(rm.route->name, "metrics") == 0);
	CHECK(router_match("GET", "/api/sessions/metrics", &rm) == NULL && rm.allow[0] == '\0');
	CHECK(router_match("GET", "/api/sessions/metrics//", &rm) == NULL && rm.allow[0] == '\0');

	/* 405 with the path's methods; 404 with none. */
	rt = router_match("PUT", "/api/sessions/current/", &rm);
	CHECK(rt == NULL && strcmp(rm.allow, "GET, PATCH, DELETE") == 0);
	rt = router_match("POST", "/api/sessions/health/", &rm);
	CHECK(rt == NULL && strcmp(rm.allow, "GET") == 0);
	rt = router_match("GET", "/api/sessions/nope/", &rm);
	CHECK(rt == NULL && rm.allow[0] == '\0');
	rt = router_match("GET", "/api/sessions/%-1/", &rm);
	CHECK(rt == NULL && rm.allow[0] == '\0');

	/* Route names: the table, then the pseudo-routes, then NULL. */
	{
		size_t i = 0;
		int saw_create = 0;

		while (router_route_name(i)) {
			saw_create |= strcmp(router_route_name(i), "create") == 0;
			i++;
		}
		CHECK(saw_create);
		CHECK(i >= 3 && strcmp(router_route_name(i - 1), "preflight") == 0 &&
		      strcmp(router_route_name(i - 2), "not_found") == 0 &&
		      strcmp(router_route_name(i - 3), "method_not_allowed") == 0);
	}
	return check_done();
}
