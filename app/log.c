/* key=value logging to stderr, one write(2) per line so workers do not interleave. */
#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static enum log_level threshold = LOGL_INFO;
static char request_id[40];

static const char *level_names[] = { "debug", "info", "warn", "error" };

void log_set_level(const char *name)
{
	for (int i = 0; i < 4; i++)
		if (name && strcmp(name, level_names[i]) == 0)
			threshold = (enum log_level)i;
}

void log_set_request(const char *id)
{
	if (id == NULL)
		request_id[0] = '\0';
	else
		snprintf(request_id, sizeof(request_id), "%s", id);
}

void log_msg(enum log_level lvl, const char *fmt, ...)
{
	char line[2048];
	struct timespec ts;
	struct tm tm;
	int n, m;
	va_list ap;

	if (lvl < threshold)
		return;
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	n = snprintf(line, sizeof(line), "ts=%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ level=%s pid=%d ",
		     tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
		     ts.tv_nsec / 1000000, level_names[lvl], (int)getpid());
	if (request_id[0])
		n += snprintf(line + n, sizeof(line) - (size_t)n, "req=%s ", request_id);
	va_start(ap, fmt);
	m = vsnprintf(line + n, sizeof(line) - (size_t)n, fmt, ap);
	va_end(ap);
	if (m < 0)
		m = 0;
	n += m;
	if ((size_t)n >= sizeof(line) - 1)
		n = (int)sizeof(line) - 2;
	line[n++] = '\n';
	/* A failed log write has nowhere better to go. */
	if (write(STDERR_FILENO, line, (size_t)n) < 0)
		return;
}

const char *log_quote(const char *s, char *out, unsigned n)
{
	unsigned j = 0;
	int quote = 0;

	if (n < 4) {
		if (n)
			out[0] = '\0';
		return out;
	}
	if (s == NULL)
		s = "";
	for (const char *p = s; *p; p++)
		if (*p == ' ' || *p == '"' || *p == '=' || (unsigned char)*p < 0x20)
			quote = 1;
	if (*s == '\0')
		quote = 1;
	if (quote)
		out[j++] = '"';
	for (const unsigned char *p = (const unsigned char *)s; *p && j + 5 < n; p++) {
		if (*p < 0x20 || *p == 0x7f) {
			j += (unsigned)snprintf(out + j, n - j, "\\x%02x", *p);
		} else {
			if (*p == '"' || *p == '\\')
				out[j++] = '\\';
			out[j++] = (char)*p;
		}
	}
	if (quote)
		out[j++] = '"';
	out[j] = '\0';
	return out;
}
