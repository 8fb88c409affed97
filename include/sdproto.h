/*
 * systemd's two daemon protocols, by hand: the listening socket passed in
 * LISTEN_FDS/LISTEN_PID (by systemd's socket unit, a test's holder, or a
 * SIGUSR2 re-exec) and readiness messages to NOTIFY_SOCKET. Both are a few
 * lines of documented protocol (sd_listen_fds(3), sd_notify(3)); see
 * docs/deployment.md for why sessiond does not link libsystemd for them.
 */
#ifndef SESSIOND_SDPROTO_H
#define SESSIOND_SDPROTO_H

#include <stddef.h>

/* The first passed fd (SD_LISTEN_FDS_START). */
#define SDP_LISTEN_FDS_START 3

/*
 * The listening socket passed to this process, or -1 when none was (no
 * LISTEN_FDS, or LISTEN_PID names another process), or -2 with a message in
 * err when what was passed is unusable (not one listening stream socket).
 * Unsets LISTEN_FDS, LISTEN_PID and LISTEN_FDNAMES so that children do not
 * take the socket for theirs; marks the fd close-on-exec.
 */
int sdp_listen_fd(char *err, size_t errlen);

/*
 * Reads NOTIFY_SOCKET once and unsets it (only this process, the one systemd
 * knows as the main pid, notifies). Call before forking.
 */
void sdp_notify_init(void);

/* Sends state ("READY=1", ...) to NOTIFY_SOCKET; 0 when sent or when there is none, -1 on failure. */
int sdp_notify(const char *state);

/* Sends "RELOADING=1" with MONOTONIC_USEC (which Type=notify-reload requires). */
int sdp_notify_reloading(void);

#endif
