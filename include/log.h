/*
 * One line per event on stderr, key=value: ts, level, pid, req (when a
 * request is being served), then the caller's fields. Never pass a token,
 * a JWT, a cookie value or a key to these functions.
 */
#ifndef SESSIOND_LOG_H
#define SESSIOND_LOG_H

enum log_level { LOGL_DEBUG, LOGL_INFO, LOGL_WARN, LOGL_ERROR };

/* Sets the threshold from "debug", "info", "warn" or "error". */
void log_set_level(const char *name);

/* Sets (or with NULL clears) the request id added to every line. */
void log_set_request(const char *id);

/* Writes one line; fmt renders the key=value fields, e.g. "event=start workers=%d". */
void log_msg(enum log_level lvl, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define log_debug(...) log_msg(LOGL_DEBUG, __VA_ARGS__)
#define log_info(...)  log_msg(LOGL_INFO, __VA_ARGS__)
#define log_warn(...)  log_msg(LOGL_WARN, __VA_ARGS__)
#define log_error(...) log_msg(LOGL_ERROR, __VA_ARGS__)

/* Writes s into out (size n) as a log-safe value: quoted when it holds spaces, control bytes escaped. */
const char *log_quote(const char *s, char *out, unsigned n);

#endif
