/* systemd's socket-passing and readiness protocols, by hand (see sdproto.h). */
#include "sdproto.h"

#include <errno.h>
#include <stddef.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

static char notify_path[sizeof(((struct sockaddr_un *)0)->sun_path)];
static int notify_read;

/* A decimal number filling the whole string, within [0, max]. */
static int parse_num(const char *s, long max, long *out)
{
	char *end;
	long v;

	if (s == NULL || *s < '0' || *s > '9')
		return -1;
	errno = 0;
	v = strtol(s, &end, 10);
	if (errno != 0 || *end != '\0' || v > max)
		return -1;
	*out = v;
	return 0;
}

int sdp_listen_fd(char *err, size_t errlen)
{
	const char *fds_s = getenv("LISTEN_FDS"), *pid_s = getenv("LISTEN_PID");
	long nfds = 0, pid = 0;
	int fd = SDP_LISTEN_FDS_START, type = 0, acc = 0;
	socklen_t len = sizeof(type), alen = sizeof(acc);
	int passed;

	passed = fds_s != NULL && parse_num(pid_s, 0x7fffffff, &pid) == 0 && (pid_t)pid == getpid();
	unsetenv("LISTEN_FDS");
	unsetenv("LISTEN_PID");
	unsetenv("LISTEN_FDNAMES");
	if (!passed)
		return -1;
	if (parse_num(fds_s, 1024, &nfds) != 0 || nfds < 1) {
		snprintf(err, errlen, "LISTEN_FDS=%s: expected a count of passed sockets", fds_s);
		return -2;
	}
	if (nfds != 1) {
		/* sessiond serves one socket: a second would be silently left unserved. */
		snprintf(err, errlen, "LISTEN_FDS=%ld: sessiond takes exactly one listening socket", nfds);
		return -2;
	}
	if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) != 0 || type != SOCK_STREAM ||
	    getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &acc, &alen) != 0 || !acc) {
		snprintf(err, errlen, "LISTEN_FDS: fd %d is not a listening stream socket", fd);
		return -2;
	}
	if (fcntl(fd, F_SETFD, FD_CLOEXEC) != 0) {
		snprintf(err, errlen, "LISTEN_FDS: fd %d: %s", fd, strerror(errno));
		return -2;
	}
	return fd;
}

void sdp_notify_init(void)
{
	const char *p = getenv("NOTIFY_SOCKET");

	notify_read = 1;
	if (p != NULL && (p[0] == '/' || p[0] == '@') && strlen(p) < sizeof(notify_path))
		memcpy(notify_path, p, strlen(p) + 1);
	unsetenv("NOTIFY_SOCKET");
}

int sdp_notify(const char *state)
{
	struct sockaddr_un sa;
	size_t plen;
	socklen_t salen;
	ssize_t n;
	int fd;

	if (!notify_read)
		sdp_notify_init();
	if (notify_path[0] == '\0')
		return 0;
	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	plen = strlen(notify_path);
	memcpy(sa.sun_path, notify_path, plen);
	/* '@' names a socket in the abstract namespace: a leading NUL, no terminator. */
	if (sa.sun_path[0] == '@')
		sa.sun_path[0] = '\0';
	salen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + plen + (notify_path[0] == '@' ? 0 : 1));
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	n = sendto(fd, state, strlen(state), MSG_NOSIGNAL, (struct sockaddr *)&sa, salen);
	close(fd);
	return n == (ssize_t)strlen(state) ? 0 : -1;
}

int sdp_notify_reloading(void)
{
	struct timespec ts;
	char msg[64];

	clock_gettime(CLOCK_MONOTONIC, &ts);
	snprintf(msg, sizeof(msg), "RELOADING=1\nMONOTONIC_USEC=%lld",
		 (long long)ts.tv_sec * 1000000LL + ts.tv_nsec / 1000);
	return sdp_notify(msg);
}
