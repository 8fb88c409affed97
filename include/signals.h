/* Signal dispositions shared by sessiond's long-running processes (master, workers, JWKS fetcher, cache listener). */
#ifndef SESSIOND_SIGNALS_H
#define SESSIOND_SIGNALS_H

/*
 * Sends SIGTERM and SIGINT to term, SIGHUP to hup (NULL: SIGHUP is ignored),
 * and ignores SIGPIPE (a peer that went away is an error return, not a death).
 * Handlers only set flags; the loops act on them.
 */
void signals_install(void (*term)(int), void (*hup)(int));

#endif
