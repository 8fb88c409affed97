/*
 * Authorization, Cookie and Origin/Referer header parsing. Pure string work
 * over caller-owned buffers: no allocation, no logging.
 */
#include "authhdr.h"

#include <string.h>
#include <strings.h>

static int is_ows(char c)
{
	return c == ' ' || c == '\t';
}

static int is_vchar(char c)
{
	return (unsigned char)c > 0x20 && (unsigned char)c < 0x7f;
}

/* 1 and *param and *len set on a well-formed "<scheme> <param>", else 0. */
int authhdr_param(const char *header, const char *scheme, const char **param, size_t *len)
{
	const char *p, *start;
	size_t slen;

	if (header == NULL || scheme == NULL || param == NULL || len == NULL)
		return 0;
	slen = strlen(scheme);
	if (slen == 0)
		return 0;
	p = header;
	while (is_ows(*p))
		p++;
	if (strncasecmp(p, scheme, slen) != 0)
		return 0;
	p += slen;
	if (!is_ows(*p))
		return 0;
	while (is_ows(*p))
		p++;
	start = p;
	while (is_vchar(*p))
		p++;
	if (p == start)
		return 0;
	*len = (size_t)(p - start);
	while (is_ows(*p))
		p++;
	if (*p != '\0')
		return 0;
	*param = start;
	return 1;
}

int authhdr_is_scheme(const char *header, const char *scheme)
{
	size_t slen;

	if (header == NULL || scheme == NULL || (slen = strlen(scheme)) == 0)
		return 0;
	while (is_ows(*header))
		header++;
	return strncasecmp(header, scheme, slen) == 0 && (header[slen] == '\0' || is_ows(header[slen]));
}

/* 1 and *val and *len set to the first cookie named name, else 0. */
int authhdr_cookie_get(const char *header, const char *name, const char **val, size_t *len)
{
	return authhdr_cookie_next(&header, name, val, len);
}

/* 1 and *val, *len set to the next cookie named name from *cursor (then moved past it), else 0. */
int authhdr_cookie_next(const char **cursor, const char *name, const char **val, size_t *len)
{
	const char *p;
	size_t nlen;

	if (cursor == NULL || *cursor == NULL || name == NULL || val == NULL || len == NULL)
		return 0;
	nlen = strlen(name);
	if (nlen == 0)
		return 0;
	for (p = *cursor; *p != '\0';) {
		const char *ns, *ne, *vs, *ve;

		while (is_ows(*p) || *p == ';')
			p++;
		if (*p == '\0')
			break;
		ns = p;
		while (*p != '\0' && *p != ';' && *p != '=')
			p++;
		ne = p;
		while (ne > ns && is_ows(ne[-1]))
			ne--;
		if (*p != '=') {
			continue; /* no '=': not a name=value pair; skip it */
		}
		p++;
		while (is_ows(*p))
			p++;
		vs = p;
		while (*p != '\0' && *p != ';')
			p++;
		ve = p;
		while (ve > vs && is_ows(ve[-1]))
			ve--;
		if ((size_t)(ne - ns) != nlen || memcmp(ns, name, nlen) != 0)
			continue;
		if (ve - vs >= 2 && vs[0] == '"' && ve[-1] == '"') {
			vs++;
			ve--;
		}
		*val = vs;
		*len = (size_t)(ve - vs);
		*cursor = p;
		return 1;
	}
	return 0;
}

/* 1 when value's origin is one of the entries in allowed, else 0. */
int authhdr_origin_allowed(const char *value, int is_referer, const char *allowed)
{
	const char *end, *p;
	size_t olen;

	if (value == NULL || allowed == NULL)
		return 0;
	while (is_ows(*value))
		value++;
	if (is_referer) {
		const char *sep = strstr(value, "//");
		if (sep == NULL)
			return 0;
		end = sep + 2;
		while (*end != '\0' && *end != '/' && *end != '?' && *end != '#')
			end++;
	} else {
		end = value + strlen(value);
		while (end > value && is_ows(end[-1]))
			end--;
	}
	olen = (size_t)(end - value);
	if (olen == 0 || (olen == 4 && strncasecmp(value, "null", 4) == 0))
		return 0;
	for (p = allowed; *p != '\0';) {
		const char *s;

		while (*p == ',' || is_ows(*p))
			p++;
		s = p;
		while (*p != '\0' && *p != ',' && !is_ows(*p))
			p++;
		if ((size_t)(p - s) == olen && strncasecmp(s, value, olen) == 0)
			return 1;
	}
	return 0;
}
