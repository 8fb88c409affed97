/* Error messages into a caller's buffer: the convention of every function that takes (char *err, size_t errlen). */
#ifndef SESSIOND_ERRBUF_H
#define SESSIOND_ERRBUF_H

#include <stddef.h>

/* Formats the message into err (errlen bytes, truncated, NUL-terminated); nothing when err is NULL or errlen 0. */
void errbuf_set(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

#endif
