/* Signal dispositions shared by sessiond's long-running processes (master, workers, JWKS fetcher, cache listener). */
#ifndef SESSIOND_SIGNALS_H
#define SESSIOND_SIGNALS_H

#include <signal.h>

/*
 * Sends SIGTERM and SIGINT to term, SIGHUP to hup (NULL: SIGHUP is ignored),
 * and ignores SIGPIPE (a peer that went away is an error return, not a death).
 * Handlers only set flags; the loops act on them.
 */
void signals_install(void (*term)(int), void (*hup)(int));

/*
 * Blocks SIGTERM, SIGINT and SIGHUP so that they are taken only where the
 * loop waits: it passes *wait_mask (set empty here) to ppoll().
 */
void signals_block(sigset_t *wait_mask);

#endif
