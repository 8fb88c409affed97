/* Hiding the secrets of libpq connection strings (see conninfo.h). */
#include "conninfo.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <libpq-fe.h>

#define MAX_SECRETS 8
#define MASK "***"

struct outbuf {
	char *p;
	size_t len, cap;
};

static void put(struct outbuf *o, const char *s, size_t n)
{
	while (n-- > 0 && o->len + 1 < o->cap)
		o->p[o->len++] = *s++;
	o->p[o->len] = '\0';
}

/* Length of a key=value value at s: a '...' quoted one (with \ escapes) or up to a separator. */
static size_t value_len(const char *s)
{
	size_t i = 0;

	if (s[0] == '\'') {
		for (i = 1; s[i] && s[i] != '\''; i++)
			if (s[i] == '\\' && s[i + 1])
				i++;
		return s[i] ? i + 1 : i;
	}
	while (s[i] && !isspace((unsigned char)s[i]) && s[i] != '&' && s[i] != '"' && s[i] != '#')
		i++;
	return i;
}

/* At "://": the length of "user:password@" after it when there is a password, else 0. */
static size_t userinfo_password(const char *s, size_t *colon)
{
	size_t end = strcspn(s, "/?#\" \t\r\n"), at = 0, i;

	for (i = 0; i < end; i++)
		if (s[i] == '@')
			at = i + 1;
	if (at == 0)
		return 0;
	for (i = 0; i + 1 < at; i++)
		if (s[i] == ':') {
			*colon = i;
			return at;
		}
	return 0;
}

char *conninfo_scrub(const char *text, const char *conninfo, char *out, size_t outlen)
{
	const char *secrets[MAX_SECRETS];
	size_t nsecrets = 0;
	PQconninfoOption *opts = NULL;
	struct outbuf o = { out, 0, outlen };

	if (out == NULL || outlen == 0)
		return out;
	out[0] = '\0';
	if (text == NULL)
		return out;
	if (conninfo != NULL)
		opts = PQconninfoParse(conninfo, NULL);
	for (PQconninfoOption *op = opts; op && op->keyword; op++)
		if (op->dispchar && op->dispchar[0] == '*' && op->val && op->val[0] && nsecrets < MAX_SECRETS)
			secrets[nsecrets++] = op->val;

	for (const char *s = text; *s;) {
		size_t best = 0, colon = 0, n;

		/* password=VALUE, sslpassword = 'VALUE', ?password=VALUE& */
		if (strncasecmp(s, "password", 8) == 0) {
			const char *v = s + 8;

			while (*v == ' ' || *v == '\t')
				v++;
			if (*v == '=') {
				v++;
				while (*v == ' ' || *v == '\t')
					v++;
				put(&o, s, (size_t)(v - s));
				put(&o, MASK, strlen(MASK));
				s = v + value_len(v);
				continue;
			}
		}
		/* postgresql://user:password@host */
		if (strncmp(s, "://", 3) == 0 && (n = userinfo_password(s + 3, &colon)) > 0) {
			put(&o, s, 3 + colon + 1);
			put(&o, MASK "@", strlen(MASK) + 1);
			s += 3 + n;
			continue;
		}
		/* A secret value anywhere (libpq may quote the string it could not parse). */
		for (size_t i = 0; i < nsecrets; i++) {
			n = strlen(secrets[i]);
			if (n > best && strncmp(s, secrets[i], n) == 0)
				best = n;
		}
		if (best) {
			put(&o, MASK, strlen(MASK));
			s += best;
			continue;
		}
		put(&o, s, 1);
		s++;
	}
	PQconninfoFree(opts);
	return out;
}
