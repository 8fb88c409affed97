/* Process model: listen socket, prefork master, worker accept loop. */
#ifndef SESSIOND_SERVER_H
#define SESSIOND_SERVER_H

#include <stddef.h>

#include "config.h"

/*
 * Opens the listen socket named by c->listen (unix path or host:port, IPv4 or
 * [IPv6]), or adopts the FastCGI socket on fd 0 when listen is empty.
 * Returns the fd, or -1 with a message in err. *created_path is set to 1 when
 * a unix socket file was created (and should be removed at exit).
 */
int server_listen(const struct cfg *c, int *created_path, char *err, size_t errlen);

/* Makes a listening socket passed by LISTEN_FDS ready to serve (non-blocking). 0, or -1 with err. */
int server_adopt(int fd, char *err, size_t errlen);

/* What the master needs beyond the configuration, and what it reports back. */
struct server_ctl {
	char **argv;                /* the command line, run again on SIGUSR2; NULL: no re-exec */
	const char *owned_socket;   /* the unix socket path a sessiond of this line created, or NULL */
	int pidfd;                  /* the locked pid file, or -1 */
	int handover_fd;            /* re-exec'd: the old master waits on it for "ready"; else -1 */
	int handed_over;            /* out: a new master took over (leave socket and pid file) */
};

/*
 * Serves until SIGTERM/SIGINT: with workers = 1 in this process, otherwise
 * as a master supervising that many forked workers, which on SIGUSR2 re-execs
 * itself (docs/deployment.md). Returns the exit status.
 */
int server_run(struct cfg *c, int listen_fd, struct server_ctl *ctl);

#endif
