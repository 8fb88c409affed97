/*
 * Configuration parser: key = value lines, # comments, SESSIOND_<KEY>
 * environment overrides, everything driven by the CFG_KEYS table.
 */
#include "config.h"
#include "conninfo.h"
#include "errbuf.h"
#include "urlcheck.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#define CFG_ENTRY(t, n, d, lo, hi, ch, doc) \
	{ #n, CFG_##t, offsetof(struct cfg, n), d, lo, hi, ch, doc },

const struct cfg_key cfg_keys[] = { CFG_KEYS(CFG_ENTRY) };
const size_t cfg_nkeys = sizeof(cfg_keys) / sizeof(cfg_keys[0]);


static const struct cfg_key *find_key(const char *name)
{
	for (size_t i = 0; i < cfg_nkeys; i++)
		if (strcmp(cfg_keys[i].name, name) == 0)
			return &cfg_keys[i];
	return NULL;
}

static int parse_bool(const char *v, int *out)
{
	static const char *yes[] = { "on", "yes", "true", "1" };
	static const char *no[] = { "off", "no", "false", "0" };

	for (size_t i = 0; i < 4; i++) {
		if (strcasecmp(v, yes[i]) == 0) {
			*out = 1;
			return 0;
		}
		if (strcasecmp(v, no[i]) == 0) {
			*out = 0;
			return 0;
		}
	}
	return -1;
}

/* Case-insensitive match of v against a comma-separated choice list; returns the canonical spelling. */
static const char *match_choice(const char *choices, const char *v, char *buf, size_t buflen)
{
	const char *p = choices;

	while (*p) {
		const char *end = strchr(p, ',');
		size_t n = end ? (size_t)(end - p) : strlen(p);

		if (n == strlen(v) && strncasecmp(p, v, n) == 0 && n < buflen) {
			memcpy(buf, p, n);
			buf[n] = '\0';
			return buf;
		}
		if (!end)
			break;
		p = end + 1;
	}
	return NULL;
}

int cfg_set(struct cfg *c, const char *key, const char *value, char *err, size_t errlen)
{
	const struct cfg_key *k = find_key(key);
	char *field;
	char *end;
	long n;
	char choice[32];
	const char *canon;

	if (k == NULL) {
		errbuf_set(err, errlen, "unknown key '%s'", key);
		return -1;
	}
	field = (char *)c + k->offset;
	switch (k->type) {
	case CFG_STR:
	case CFG_DSN:
	case CFG_ENUM:
		canon = value;
		if (k->type == CFG_ENUM) {
			canon = match_choice(k->choices, value, choice, sizeof(choice));
			if (canon == NULL) {
				errbuf_set(err, errlen, "bad value '%s' for %s (one of %s)", value, key, k->choices);
				return -1;
			}
		}
		{
			char *dup = strdup(canon);

			if (dup == NULL) {
				errbuf_set(err, errlen, "out of memory");
				return -1;
			}
			free(*(char **)field);
			*(char **)field = dup;
		}
		return 0;
	case CFG_INT:
	case CFG_OCT:
		errno = 0;
		n = strtol(value, &end, k->type == CFG_OCT ? 8 : 10);
		if (errno != 0 || end == value || *end != '\0' || n < k->min || n > k->max) {
			if (k->type == CFG_OCT)
				errbuf_set(err, errlen, "bad value '%s' for %s (octal %lo..%lo)", value, key,
				     (unsigned long)k->min, (unsigned long)k->max);
			else
				errbuf_set(err, errlen, "bad value '%s' for %s (integer %ld..%ld)", value, key, k->min, k->max);
			return -1;
		}
		*(long *)field = n;
		return 0;
	case CFG_BOOL:
		if (parse_bool(value, (int *)field) != 0) {
			errbuf_set(err, errlen, "bad value '%s' for %s (on or off)", value, key);
			return -1;
		}
		return 0;
	}
	return -1;
}

static char *trim(char *s)
{
	char *e;

	while (isspace((unsigned char)*s))
		s++;
	e = s + strlen(s);
	while (e > s && isspace((unsigned char)e[-1]))
		*--e = '\0';
	return s;
}

static int load_file(struct cfg *c, const char *path, char *err, size_t errlen)
{
	FILE *f = fopen(path, "r");
	char *line = NULL;
	size_t cap = 0;
	long lineno = 0;
	int rc = 0;
	char msg[256];

	if (f == NULL) {
		errbuf_set(err, errlen, "%s: cannot open: %s", path, strerror(errno));
		return -1;
	}
	while (getline(&line, &cap, f) != -1) {
		char *p, *eq, *key, *val;
		size_t vlen;

		lineno++;
		p = trim(line);
		if (*p == '\0' || *p == '#')
			continue;
		eq = strchr(p, '=');
		if (eq == NULL) {
			errbuf_set(err, errlen, "%s:%ld: expected 'key = value'", path, lineno);
			rc = -1;
			break;
		}
		*eq = '\0';
		key = trim(p);
		val = trim(eq + 1);
		/* Optional double quotes keep leading/trailing spaces or a '#'. */
		vlen = strlen(val);
		if (vlen >= 2 && val[0] == '"' && val[vlen - 1] == '"') {
			val[vlen - 1] = '\0';
			val++;
		}
		if (cfg_set(c, key, val, msg, sizeof(msg)) != 0) {
			errbuf_set(err, errlen, "%s:%ld: %s", path, lineno, msg);
			rc = -1;
			break;
		}
	}
	if (rc == 0 && ferror(f)) {
		errbuf_set(err, errlen, "%s: read error", path);
		rc = -1;
	}
	free(line);
	fclose(f);
	return rc;
}

static int load_env(struct cfg *c, char *err, size_t errlen)
{
	char var[96];
	char msg[256];

	for (size_t i = 0; i < cfg_nkeys; i++) {
		const char *v;
		size_t j;

		j = (size_t)snprintf(var, sizeof(var), "SESSIOND_");
		for (const char *p = cfg_keys[i].name; *p && j + 1 < sizeof(var); p++)
			var[j++] = (char)toupper((unsigned char)*p);
		var[j] = '\0';
		v = getenv(var);
		if (v == NULL)
			continue;
		if (cfg_set(c, cfg_keys[i].name, v, msg, sizeof(msg)) != 0) {
			errbuf_set(err, errlen, "environment %s: %s", var, msg);
			return -1;
		}
	}
	return 0;
}

int cfg_jwks_url(const struct cfg *c, char *buf, size_t n)
{
	size_t len = strlen(c->jwt_issuer);
	int w;

	if (c->jwks_url[0] != '\0')
		w = snprintf(buf, n, "%s", c->jwks_url);
	else	/* Auth0's layout; the issuer ends with a slash there, add one when it does not */
		w = snprintf(buf, n, "%s%s.well-known/jwks.json", c->jwt_issuer,
			     len > 0 && c->jwt_issuer[len - 1] == '/' ? "" : "/");
	return w < 0 || (size_t)w >= n ? -1 : 0;
}

/* Each entry of an origin list is scheme://host[:port]: a path (even "/") or a wildcard never equals a browser's Origin. */
static int check_origins(const char *key, const char *list, const char *where, char *err, size_t errlen)
{
	for (const char *p = list; *p;) {
		size_t n = strcspn(p, ", \t");
		const char *host = NULL, *end = p + n;

		if (n > 0) {
			if (strncmp(p, "https://", 8) == 0)
				host = p + 8;
			else if (strncmp(p, "http://", 7) == 0)
				host = p + 7;
			if (host == NULL || host >= end || memchr(host, '/', (size_t)(end - host)) ||
			    memchr(host, '*', (size_t)(end - host))) {
				errbuf_set(err, errlen, "%s: %s: '%.*s' is not an origin (scheme://host[:port], no path, no wildcard)",
				     where, key, (int)(n > 200 ? 200 : n), p);
				return -1;
			}
		}
		p = end;
		while (*p == ',' || *p == ' ' || *p == '\t')
			p++;
	}
	return 0;
}

/* Refuses combinations a browser or the product would reject. */
static int validate(const struct cfg *c, char *err, size_t errlen)
{
	const char *where = c->path ? c->path : "configuration";

	if (c->cookie_name[0] == '\0' || strpbrk(c->cookie_name, " \t;,=\"") != NULL) {
		errbuf_set(err, errlen, "%s: cookie_name must be a non-empty cookie token", where);
		return -1;
	}
	if (strncmp(c->cookie_name, "__Host-", 7) == 0) {
		if (c->cookie_domain[0] != '\0') {
			errbuf_set(err, errlen, "%s: a __Host- cookie cannot have cookie_domain (browsers reject it); "
			     "use cookie_name = session_token to share across subdomains", where);
			return -1;
		}
		if (!c->cookie_secure) {
			errbuf_set(err, errlen, "%s: a __Host- cookie requires cookie_secure = on "
			     "(set cookie_name = session_token for plain-http development)", where);
			return -1;
		}
	}
	if (strncmp(c->cookie_name, "__Secure-", 9) == 0 && !c->cookie_secure) {
		errbuf_set(err, errlen, "%s: a __Secure- cookie requires cookie_secure = on", where);
		return -1;
	}
	if (strcmp(c->cookie_samesite, "None") == 0 && !c->cookie_secure) {
		errbuf_set(err, errlen, "%s: cookie_samesite = None requires cookie_secure = on", where);
		return -1;
	}
	if (c->cookie_domain[0] != '\0' && strpbrk(c->cookie_domain, " \t;,\"") != NULL) {
		errbuf_set(err, errlen, "%s: bad cookie_domain", where);
		return -1;
	}
	if (check_origins("cors_allowed_origins", c->cors_allowed_origins, where, err, errlen) != 0)
		return -1;
	if (c->jwt_issuer[0] == '\0' || c->jwt_audience[0] == '\0') {
		errbuf_set(err, errlen, "%s: jwt_issuer and jwt_audience must be set", where);
		return -1;
	}
	if (c->backchannel_logout && c->backchannel_audience[strspn(c->backchannel_audience, ", ")] == '\0') {
		errbuf_set(err, errlen, "%s: backchannel_logout = on needs backchannel_audience (the Auth0 client id)",
			   where);
		return -1;
	}
	for (const char *p = c->jwt_algorithms; *p;) {
		size_t n = strcspn(p, ", ");

		if (n > 0 && !((n == 5) && (strncmp(p, "RS256", 5) == 0 || strncmp(p, "RS384", 5) == 0 ||
					    strncmp(p, "RS512", 5) == 0))) {
			errbuf_set(err, errlen, "%s: jwt_algorithms may list only RS256, RS384, RS512 "
			     "(none and HMAC algorithms are never accepted)", where);
			return -1;
		}
		p += n;
		while (*p == ',' || *p == ' ')
			p++;
	}
	if (c->jwks_file[0] != '\0' && c->jwks_url[0] != '\0') {
		errbuf_set(err, errlen, "%s: set jwks_file (file mode, no fetching) or jwks_url, not both", where);
		return -1;
	}
	if (c->jwks_file[0] == '\0') {
		char url[1024], msg[128];

		if (cfg_jwks_url(c, url, sizeof(url)) != 0) {
			errbuf_set(err, errlen, "%s: the JWKS URL is too long", where);
			return -1;
		}
		if (urlcheck_jwks(url, msg, sizeof(msg)) != 0) {
			/* A URL with an '@' may hold a password: not repeated. */
			errbuf_set(err, errlen, "%s: the JWKS URL %s: %s (https://, or http:// only to a loopback "
			     "address, no user information); set jwks_url, or jwks_file for file mode", where,
			     strchr(url, '@') ? "(not shown: it has an '@')" : url, msg);
			return -1;
		}
		if (c->jwks_cache_file[0] == '\0') {
			errbuf_set(err, errlen, "%s: jwks_cache_file must be set when the JWKS is fetched", where);
			return -1;
		}
	}
	if (c->session_ttl > c->max_lifetime) {
		errbuf_set(err, errlen, "%s: session_ttl (%ld) exceeds max_lifetime (%ld)", where,
		     c->session_ttl, c->max_lifetime);
		return -1;
	}
	/* Activity is recorded at most once per touch_interval: a session in use must not look idle meanwhile. */
	if (c->idle_timeout > 0 && c->idle_timeout <= c->touch_interval) {
		errbuf_set(err, errlen, "%s: idle_timeout (%ld) must be greater than touch_interval (%ld): activity is "
		     "recorded at most once per touch_interval, so sessions in use would expire; "
		     "lower touch_interval or raise idle_timeout", where, c->idle_timeout, c->touch_interval);
		return -1;
	}
	if (c->database_url[0] == '\0') {
		errbuf_set(err, errlen, "%s: database_url must be set", where);
		return -1;
	}
	return 0;
}

static int load_all(struct cfg *c, const char *path, char *err, size_t errlen)
{
	memset(c, 0, sizeof(*c));
	for (size_t i = 0; i < cfg_nkeys; i++)
		if (cfg_set(c, cfg_keys[i].name, cfg_keys[i].def, err, errlen) != 0)
			return -1; /* a bad default is a programming error */

	if (path == NULL || path[0] == '\0')
		path = getenv("SESSIOND_CONFIG");
	if (path == NULL || path[0] == '\0')
		path = access(CFG_DEFAULT_PATH, F_OK) == 0 ? CFG_DEFAULT_PATH : NULL;
	if (path != NULL) {
		c->path = strdup(path);
		if (c->path == NULL || load_file(c, path, err, errlen) != 0)
			return -1;
	}
	if (load_env(c, err, errlen) != 0)
		return -1;
	if (validate(c, err, errlen) != 0) {
		/* Say why nothing was configured, not only what is missing. */
		if (c->path == NULL && err && errlen) {
			char msg[512];

			snprintf(msg, sizeof(msg), "%s", err);
			errbuf_set(err, errlen, "no configuration file was read (no --config, SESSIOND_CONFIG unset, "
			     CFG_DEFAULT_PATH " does not exist): %s", msg);
		}
		return -1;
	}
	return 0;
}

int cfg_load(struct cfg *c, const char *path, char *err, size_t errlen)
{
	if (load_all(c, path, err, errlen) == 0)
		return 0;
	cfg_free(c);   /* nothing half-loaded outlives a failure */
	return -1;
}

void cfg_free(struct cfg *c)
{
	for (size_t i = 0; i < cfg_nkeys; i++)
		if (cfg_keys[i].type == CFG_STR || cfg_keys[i].type == CFG_DSN || cfg_keys[i].type == CFG_ENUM) {
			char **f = (char **)((char *)c + cfg_keys[i].offset);

			free(*f);
			*f = NULL;
		}
	free(c->path);
	c->path = NULL;
}

void cfg_dump(const struct cfg *c, FILE *out)
{
	for (size_t i = 0; i < cfg_nkeys; i++) {
		const struct cfg_key *k = &cfg_keys[i];
		const char *f = (const char *)c + k->offset;

		fprintf(out, "%s = ", k->name);
		switch (k->type) {
		case CFG_STR:
		case CFG_ENUM:
			fputs(*(char *const *)f, out);
			break;
		case CFG_DSN: {
			const char *v = *(char *const *)f;
			size_t n = strlen(v) + 64;
			char *m = malloc(n);

			/* A connection string is shown without its secrets. */
			if (m)
				fputs(conninfo_scrub(v, v, m, n), out);
			free(m);
			break;
		}
		case CFG_INT:
			fprintf(out, "%ld", *(const long *)f);
			break;
		case CFG_OCT:
			fprintf(out, "0%lo", (unsigned long)*(const long *)f);
			break;
		case CFG_BOOL:
			fputs(*(const int *)f ? "on" : "off", out);
			break;
		}
		fputc('\n', out);
	}
}

void cfg_reference(FILE *out)
{
	static const char *names[] = { "string", "integer", "octal", "on/off", "choice", "string" };

	fputs("| key | type | default | range | description |\n|---|---|---|---|---|\n", out);
	for (size_t i = 0; i < cfg_nkeys; i++) {
		const struct cfg_key *k = &cfg_keys[i];

		fprintf(out, "| `%s` | %s | `%s` | ", k->name, names[k->type], k->def[0] ? k->def : "\"\"");
		if (k->type == CFG_INT)
			fprintf(out, "%ld..%ld", k->min, k->max);
		else if (k->type == CFG_OCT)
			fprintf(out, "0..0%lo", (unsigned long)k->max);
		else if (k->type == CFG_ENUM)
			fprintf(out, "%s", k->choices);
		fprintf(out, " | %s |\n", k->doc);
	}
}
