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

/*
 * Serves until SIGTERM/SIGINT: with workers = 1 in this process, otherwise
 * as a master supervising that many forked workers. Returns the exit status.
 */
int server_run(struct cfg *c, int listen_fd);

#endif
