/* The route table and dispatch. */
#include "router.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "app.h"
#include "auth.h"
#include "guard.h"

struct route {
	const char *method;
	const char *pattern;    /* "{}" matches one path segment, "{uuid}" one that is a UUID */
	const char *name;       /* for logs and metrics */
	route_fn fn;
	int guarded;            /* authenticates: subject to the brute-force guard */
};

static const struct route routes[] = {
	{ "GET", "/api/sessions/health/", "health", route_health, 0 },
	{ "GET", "/api/sessions/metrics/", "metrics", route_metrics, 0 },
	{ "POST", "/api/sessions/create/", "create", route_create, 1 },
	{ "GET", "/api/sessions/current/", "current_get", route_current_get, 1 },
	{ "PATCH", "/api/sessions/current/", "current_patch", route_current_patch, 1 },
	{ "DELETE", "/api/sessions/current/", "current_delete", route_current_delete, 1 },
	{ "POST", "/api/sessions/refresh/", "refresh", route_refresh, 1 },
	{ "GET", "/api/sessions/", "list", route_list, 1 },
	{ "POST", "/api/sessions/invalidate-all/", "invalidate_all", route_invalidate_all, 1 },
	{ "GET", "/api/sessions/auth/", "auth", route_auth, 1 },
	{ "DELETE", "/api/sessions/{uuid}/", "revoke", route_revoke_one, 1 },
	{ "PATCH", "/api/sessions/internal/users/{}/", "internal_user", route_internal_user, 1 },
};

const char *router_route_name(size_t i)
{
	static const char *const pseudo[] = { "method_not_allowed", "not_found" };
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

/*
 * Matches path against pattern; a trailing slash is optional. On a "{}"
 * segment copies the percent-decoded segment into arg.
 */
static int match(const char *pattern, const char *path, char *arg, size_t argcap)
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

				if (c == '%' && s[1] && s[2]) {
					unsigned v;

					if (sscanf(s + 1, "%2x", &v) != 1)
						return 0;
					c = (int)v;
					s += 3;
				} else {
					s++;
				}
				if (c == 0 || n + 1 >= argcap)
					return 0;
				arg[n++] = (char)c;
			}
			arg[n] = '\0';
			if (want_uuid && !is_uuid(arg))
				return 0;
			/* One spelling from here on: ids are compared as strings (the per-host cache). */
			if (want_uuid)
				for (size_t i = 0; i < n; i++)
					arg[i] = (char)tolower((unsigned char)arg[i]);
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

/* 429 while the client address is over the failed-authentication limit. */
static int guard_refuses(struct app *app, struct req *r)
{
	char ip[64], secs[24];
	long left = guard_blocked(auth_client_addr(app, r, ip, sizeof(ip)), app->cfg->auth_fail_limit,
				  app->cfg->auth_fail_window, time(NULL));

	if (left <= 0)
		return 0;
	snprintf(secs, sizeof(secs), "%ld", left);
	http_add_header(r, "Retry-After", secs);
	if (strcmp(r->route, "auth") == 0)
		r->bodyless = 1;
	http_error(r, ERR_RATE_LIMITED, "too_many_failures", "too many failed authentications, retry later");
	return 1;
}

void router_dispatch(struct app *app, struct req *r)
{
	char arg[256];
	char allow[64] = "";

	/* Literal routes first: a path that has one (/current/, /health/) never falls to /{id}/. */
	for (int pass = 0; pass < 2 && allow[0] == '\0'; pass++) {
		for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++) {
			const struct route *rt = &routes[i];

			if ((strchr(rt->pattern, '{') != NULL) != pass)
				continue;
			if (!match(rt->pattern, r->path, arg, sizeof(arg)))
				continue;
			if (strcmp(rt->method, r->method) == 0) {
				r->route = rt->name;
				if (rt->guarded && guard_refuses(app, r))
					return;
				if (http_read_body(r, app->cfg->max_body_bytes) != 0)
					return;
				rt->fn(app, r, pass ? arg : NULL);
				return;
			}
			if (!strstr(allow, rt->method)) {
				size_t n = strlen(allow);

				snprintf(allow + n, sizeof(allow) - n, "%s%s", n ? ", " : "", rt->method);
			}
		}
	}
	if (allow[0]) {
		r->route = "method_not_allowed";
		http_add_header(r, "Allow", allow);
		http_error(r, ERR_METHOD, "method_not_allowed", "method not allowed on this route");
		return;
	}
	r->route = "not_found";
	http_error(r, ERR_NOT_FOUND, "not_found", "no such route");
}
