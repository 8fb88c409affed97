/* The route table and dispatch. */
#include "router.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "routes.h"

static const struct route routes[] = {
	/* method, pattern, name, handler, guarded, exact, any_body */
	{ "GET", "/api/sessions/health/", "health", route_health, 0, 0, 0 },
	/* Exact: /api/sessions/metrics (no slash) would pass a site's rule for the documented path. */
	{ "GET", "/api/sessions/metrics/", "metrics", route_metrics, 0, 1, 0 },
	{ "POST", "/api/sessions/create/", "create", route_create, 1, 0, 0 },
	{ "GET", "/api/sessions/current/", "current_get", route_current_get, 1, 0, 0 },
	{ "PATCH", "/api/sessions/current/", "current_patch", route_current_patch, 1, 0, 0 },
	{ "DELETE", "/api/sessions/current/", "current_delete", route_current_delete, 1, 0, 0 },
	{ "POST", "/api/sessions/refresh/", "refresh", route_refresh, 1, 0, 0 },
	{ "GET", "/api/sessions/", "list", route_list, 1, 0, 0 },
	{ "POST", "/api/sessions/invalidate-all/", "invalidate_all", route_invalidate_all, 1, 0, 0 },
	{ "GET", "/api/sessions/auth/", "auth", route_auth, 1, 0, 0 },
	{ "DELETE", "/api/sessions/{uuid}/", "revoke", route_revoke_one, 1, 0, 0 },
	{ "PATCH", "/api/sessions/internal/users/{}/", "internal_user", route_internal_user, 1, 0, 0 },
	{ "POST", "/api/sessions/internal/users/{}/revoke/", "service_revoke", route_service_revoke, 1, 0, 0 },
	/* The body is a form (OIDC Back-Channel Logout): the handler reads its type. */
	{ "POST", "/api/sessions/backchannel-logout/", "backchannel_logout", route_backchannel_logout, 1, 0, 1 },
};

const char *router_route_name(size_t i)
{
	static const char *const pseudo[] = { "method_not_allowed", "not_found", "preflight" };
	size_t n = sizeof(routes) / sizeof(routes[0]);

	if (i < n)
		return routes[i].name;
	i -= n;
	return i < sizeof(pseudo) / sizeof(pseudo[0]) ? pseudo[i] : NULL;
}

static int is_uuid(const char *s)
{
	static const char shape[] = "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx";

	if (strlen(s) != sizeof(shape) - 1)
		return 0;
	for (size_t i = 0; shape[i]; i++)
		if (shape[i] == '-' ? s[i] != '-' : !isxdigit((unsigned char)s[i]))
			return 0;
	return 1;
}

static int hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = tolower(c);
	return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

int router_match_pattern(const char *pattern, const char *path, char *arg, size_t argcap)
{
	const char *p = pattern, *s = path;

	arg[0] = '\0';
	while (*p) {
		if (p[0] == '{') {
			size_t n = 0;
			int want_uuid = strncmp(p, "{uuid}", 6) == 0;

			if (*s == '/' || *s == '\0')
				return 0;
			while (*s && *s != '/') {
				int c = (unsigned char)*s;

				if (c == '%') {
					/* Exactly two hex digits: "%-1", "% a" or a truncated escape is no match. */
					int hi = hexval((unsigned char)s[1]), lo = hi < 0 ? -1 : hexval((unsigned char)s[2]);

					if (hi < 0 || lo < 0)
						return 0;
					c = hi << 4 | lo;
					s += 3;
				} else {
					s++;
				}
				if (c == 0 || n + 1 >= argcap)
					return 0;
				arg[n++] = (char)(want_uuid ? tolower(c) : c);
			}
			arg[n] = '\0';
			if (want_uuid && !is_uuid(arg))
				return 0;
			p += want_uuid ? 6 : 2;
			continue;
		}
		if (*p != *s) {
			/* Allow the route's trailing slash to be missing. */
			return p[0] == '/' && p[1] == '\0' && *s == '\0';
		}
		p++;
		s++;
	}
	return *s == '\0';
}

const struct route *router_match(const char *method, const char *path, struct route_match *m)
{
	m->route = NULL;
	m->arg = NULL;
	m->allow[0] = '\0';
	/* Literal routes first: a path that has one (/current/, /health/) never falls to /{id}/. */
	for (int pass = 0; pass < 2 && m->allow[0] == '\0'; pass++) {
		for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++) {
			const struct route *rt = &routes[i];

			if ((strchr(rt->pattern, '{') != NULL) != pass)
				continue;
			if (rt->exact ? strcmp(rt->pattern, path) != 0
				      : !router_match_pattern(rt->pattern, path, m->argbuf, sizeof(m->argbuf)))
				continue;
			if (strcmp(rt->method, method) == 0) {
				m->route = rt;
				m->arg = pass ? m->argbuf : NULL;
				return rt;
			}
			if (!strstr(m->allow, rt->method)) {
				size_t n = strlen(m->allow);

				snprintf(m->allow + n, sizeof(m->allow) - n, "%s%s", n ? ", " : "", rt->method);
			}
		}
	}
	return NULL;
}
